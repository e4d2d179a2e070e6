"""A standard Step Functions workflow as every workflow of the project is built: every state's input and output
logged (level ALL, with execution data) to a log group encrypted with the platform key, X-Ray tracing on, and a
timeout, so a run can be followed, audited and never runs forever."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


@dataclass(frozen=True)
class LoggedStateMachine:
    state_machine: sfn.StateMachine
    log_group: logs.LogGroup


def logged_state_machine(
    scope: Construct,
    *,
    definition: sfn.IChainable,
    key: kms.IKey,
    log_retention: logs.RetentionDays,
    timeout: cdk.Duration,
    role: iam.IRole | None = None,
    comment: str | None = None,
) -> LoggedStateMachine:
    """The log group (`Logs`) and the state machine (`StateMachine`), both created under `scope`.

    Args:
        role: the role the workflow runs as. Default: one CDK creates (`StateMachine/Role`).
        comment: the definition's Comment. Default: none.
    """
    log_group = logs.LogGroup(scope, "Logs", encryption_key=key, retention=log_retention)
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        role=role,
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        comment=comment,
    )
    return LoggedStateMachine(state_machine=state_machine, log_group=log_group)
