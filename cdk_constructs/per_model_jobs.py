"""The workflow shape shared by the stand-alone per-model stages (compile, Hub staging): run one SageMaker job per
model, in order; a run does every model (`{"model": "all"}`, the default) or the one named.

`per_model_job_workflow` builds it inside the caller's workflow construct (not a construct of its own: one more level
would change every logical ID): the states, the role the workflow runs as and the logged state machine take the
caller's construct ids, so each stage keeps its own state names, logical IDs
and template while the shape is written once. What differs between stages is a parameter: the SageMaker job type, the
job-name prefix the role is scoped to, the state-name prefix, the run-output field and what each model's record
carries, and where a failure and the end of the last model go (the compile stage notifies; staging just ends).

A run's states: LoadDefaults -> PrepareRun (options = defaults merged with the execution input; an empty output
field) -> ModelKnown (anything but "all" or a model key fails as UnknownModel) -> for each model in order,
`<prefix>-<key>-Requested` (skip unless "all" or that key) -> `<prefix>-<key>` (the `.sync` job, transient SageMaker
errors retried, anything else caught into `failure`) -> `Record-<key>` (the job's name and the model's record under
`$.run.<output>.<key>`) -> the next model, after the last `success`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_constructs.logged_state_machine import logged_state_machine
from cdk_constructs.sagemaker_role import key_grants_for_sagemaker
from cdk_constructs.sagemaker_tasks import SageMakerTasks, state_key
from compliance.packs import acknowledge_in_hipaa_and_nist
from compliance.wildcards import ExpectedWildcards

ALL_MODELS = "all"


@dataclass(frozen=True)
class JobKind:
    """A SageMaker job type a per-model workflow runs with `.sync`.

    Attributes:
        operation: the integration's action (`createTrainingJob`).
        arn_resource: the job ARN's resource type (`training-job`), which the role's SageMaker grants name.
        name_field: the field of the `.sync` result (the Describe* response) that names the job.
    """

    operation: str
    arn_resource: str
    name_field: str


TRAINING_JOB = JobKind("createTrainingJob", "training-job", "TrainingJobName")
PROCESSING_JOB = JobKind("createProcessingJob", "processing-job", "ProcessingJobName")


@dataclass(frozen=True)
class PerModelJobWorkflow:
    """What `per_model_job_workflow` built (every construct under the caller's scope).

    Attributes:
        role: the role the workflow runs as.
        state_machine: the workflow.
        log_group: every state's input and output, KMS-encrypted.
        requests: each Task state's (operation, parameters) as written into the definition.
    """

    role: iam.Role
    state_machine: sfn.StateMachine
    log_group: logs.LogGroup
    requests: dict[str, tuple[str, dict[str, Any]]]


def per_model_job_workflow(
    scope: Construct,
    *,
    requests: Mapping[str, Mapping[str, Any]],
    records: Mapping[str, Mapping[str, str]],
    job: JobKind,
    job_name_prefix: str,
    jobs_named: str,
    state_prefix: str,
    output: str,
    role_description: str,
    job_role: iam.IRole,
    key: kms.IKey,
    failure: sfn.IChainable,
    success: sfn.IChainable,
    log_retention: logs.RetentionDays,
    timeout: cdk.Duration,
    comment: str,
    extra_statements: Sequence[iam.PolicyStatement] = (),
) -> PerModelJobWorkflow:
    """Build the per-model job workflow in `scope` (the stage's workflow construct).

    Args:
        requests: model key -> the full request of its job (non-empty; the caller says what an empty one means).
        records: model key -> what its `Record-<key>` state adds beside `job` (`{"compiled_artifacts": uri}`).
        job: the SageMaker job type every request creates.
        job_name_prefix: the fixed start of every job name (`compile-`); the role may act on those names only.
        jobs_named: the jobs as the wildcard reason names them (`Compile jobs`).
        state_prefix: of each model's Choice and Task state (`Compile` -> `Compile-<key>-Requested`, `Compile-<key>`).
        output: the run-state field that collects each model's record (`compiled` -> `$.run.compiled.<key>`).
        role_description: of the role the workflow runs as (`Role`, granted exactly what the definition calls).
        job_role: the role the jobs run as (passed to SageMaker).
        key: the platform key (log group; SageMaker creates grants on it for the jobs' encrypted outputs).
        failure: where a job's failure goes after the retries.
        success: what follows the last model.
        log_retention: of the workflow's log group.
        timeout: of a whole execution.
        comment: the definition's Comment.
        extra_statements: added to the role after the SageMaker, PassRole and key grants (a notification's key use).
    """
    stack = cdk.Stack.of(scope)
    role = iam.Role(
        scope, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"), description=role_description
    )
    sagemaker = SageMakerTasks(
        scope,
        catch=failure,
        resources_of=lambda _operation, _parameters: [
            stack.format_arn(service="sagemaker", resource=job.arn_resource, resource_name=f"{job_name_prefix}*")
        ],
    )
    defaults = sfn.Pass(
        scope, "LoadDefaults", result=sfn.Result.from_object({"model": ALL_MODELS}), result_path="$.defaults"
    )
    prepare = sfn.Pass(
        scope,
        "PrepareRun",
        parameters={"options.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)", output: {}},
        result_path="$.run",
    )
    unknown = sfn.Fail(
        scope,
        "UnknownModel",
        error="UnknownModel",
        cause=f'Start the run with {{"model": "<key>"}}, one of: {", ".join(requests)}, or "{ALL_MODELS}"',
    )
    model = "$.run.options.model"
    known = sfn.Choice(scope, "ModelKnown").otherwise(unknown)

    # Built backwards: each model's step continues with the next model's choice; the last with `success`.
    following: sfn.IChainable = success
    for key_name in reversed(list(requests)):
        field = state_key(key_name)
        task = sagemaker.task(
            f"{state_prefix}-{key_name}",
            job.operation,
            requests[key_name],
            sync=True,
            result_path=f"$.run.{output}.{field}",
            result_selector={f"{job.name_field}.$": f"$.{job.name_field}"},
        )
        record = sfn.Pass(
            scope,
            f"Record-{key_name}",
            parameters={"job.$": f"$.run.{output}.{field}.{job.name_field}", **records[key_name]},
            result_path=f"$.run.{output}.{field}",
        )
        task.next(record).next(following)
        following = (
            sfn.Choice(scope, f"{state_prefix}-{key_name}-Requested")
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals(model, ALL_MODELS), sfn.Condition.string_equals(model, key_name)
                ),
                task,
            )
            .otherwise(following)
        )
    known.when(sfn.Condition.or_(*(sfn.Condition.string_equals(model, k) for k in (ALL_MODELS, *requests))), following)

    workflow = logged_state_machine(
        scope,
        definition=sfn.Chain.start(defaults).next(prepare).next(known),
        key=key,
        log_retention=log_retention,
        timeout=timeout,
        role=role,
        comment=comment,
    )
    wildcards = ExpectedWildcards.of(role.node.find_child("DefaultPolicy"))
    for statement in sagemaker.policy_statements(stack):
        role.add_to_policy(statement)
    for resource in sorted({r for rs in sagemaker.resources.values() for r in rs}, key=str):
        wildcards.resource(
            resource,
            f"{jobs_named} are named {job_name_prefix}<uuid> per run: the prefix is fixed, the id is not known before "
            "the run",
        )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[job_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    for statement in (*key_grants_for_sagemaker(key.key_arn), *extra_statements):
        role.add_to_policy(statement)
    wildcards.resource(
        "*",
        "X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* and CloudWatch Logs' log-delivery actions "
        "(CreateLogDelivery, ...), which CDK adds for tracing and logging, accept only '*'",
    )
    acknowledge_in_hipaa_and_nist(
        role, "The workflow role's grants are specific to this state machine", "IAMNoInlinePolicy"
    )
    return PerModelJobWorkflow(
        role=role, state_machine=workflow.state_machine, log_group=workflow.log_group, requests=sagemaker.requests
    )
