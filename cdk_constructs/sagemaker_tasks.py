"""SageMaker calls as Step Functions Task states, built the same way in every workflow.

Both workflows (lifecycle, on-demand evaluation) call SageMaker with full API requests (built in
`sagemaker_requests/`) and need the same three things around each call: a retry policy for the failures a later
attempt survives, a catch that routes everything else to the workflow's failure path, and, for the lifecycle, a
notification. `SageMakerTasks` builds those Task states and records every operation it wrote, so the workflow's role
is granted exactly the actions its definition calls and tests can read each request back.

Error names (Step Functions developer guide, "Learning to use AWS service SDK integrations", and "Handling errors in
service integrations"): an SDK integration (`arn:...:states:::aws-sdk:sagemaker:<action>`) fails with
`SageMaker.<ErrorName>` from the API reference (`SageMaker.ResourceLimitExceededException`, ...), an unmodeled error as
`SageMaker.SageMakerException`; the optimized integrations (`arn:...:states:::sagemaker:<action>[.sync]`) raise
`SageMaker.AmazonSageMakerException`. A `.sync` job that ran and failed raises `States.TaskFailed`, which the SageMaker
policy does not retry: RetryStrategy retries inside a training job, and a second CreateTrainingJob with the same name
fails anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct


@dataclass(frozen=True)
class RetryPolicy:
    """One Retry entry: the errors it matches and its backoff (interval * backoff_rate ** attempt, full jitter)."""

    errors: tuple[str, ...]
    interval_seconds: int
    max_attempts: int
    backoff_rate: float = 2.0
    jitter: bool = True

    def apply(self, state: sfn.CustomState | sfn.TaskStateBase) -> None:
        state.add_retry(
            errors=list(self.errors),
            interval=cdk.Duration.seconds(self.interval_seconds),
            max_attempts=self.max_attempts,
            backoff_rate=self.backoff_rate,
            jitter_strategy=sfn.JitterType.FULL if self.jitter else sfn.JitterType.NONE,
        )


# A SageMaker call refused for throttling, a concurrency limit or an internal fault: a later attempt can succeed.
SAGEMAKER_TRANSIENT = RetryPolicy(
    errors=(
        "SageMaker.AmazonSageMakerException",
        "SageMaker.SageMakerException",
        "SageMaker.ThrottlingException",
        "SageMaker.ResourceLimitExceededException",
    ),
    interval_seconds=30,
    max_attempts=3,
)
# Reads, deletes and notifications are idempotent: any task failure is retried.
IDEMPOTENT = RetryPolicy(errors=("States.TaskFailed",), interval_seconds=5, max_attempts=3)
# S3 calls (a throttle, 503 SlowDown, arrives as S3.S3Exception; a dropped connection as S3.SdkClientException).
S3_TRANSIENT = RetryPolicy(errors=("S3.S3Exception", "S3.SdkClientException"), interval_seconds=5, max_attempts=3)

# .sync integrations watch the jobs through these Step Functions-managed EventBridge rules (Step Functions developer
# guide, "IAM policies for Amazon SageMaker AI": events:PutTargets/PutRule/DescribeRule on these rule names).
SYNC_RULES = {"createTrainingJob": "SageMakerTrainingJobsRule", "createProcessingJob": "SageMakerProcessingJobsRule"}


def sagemaker_resource(action: str, *, sync: bool = False, sdk: bool = False) -> str:
    """The Task resource of an optimized SageMaker integration, or of the AWS SDK integration."""
    service = "aws-sdk:sagemaker" if sdk else "sagemaker"
    return f"arn:{cdk.Aws.PARTITION}:states:::{service}:{action}{'.sync' if sync else ''}"


def state_key(name: str) -> str:
    """A workflow-state field name for a state name (JSONPath dot notation needs word characters)."""
    return re.sub(r"\W", "_", name)


class SageMakerTasks:
    """Builds a workflow's SageMaker Task states and records what they call.

    Not a construct: the states belong to `scope` (the workflow), whose construct ids they take.

    Args:
        scope: the workflow construct the states are created in.
        catch: where a failure goes after the retries, unless a task names its own (`catch=`); `None` means tasks
            must name one.
        resources_of: (operation, parameters) -> the ARNs the call acts on (the names it passes). Default: none,
            and `policy_statements` needs resource types.

    Attributes:
        requests: state name -> (API operation, parameters) exactly as written into the definition.
        actions: the IAM actions the definition needs (`CreateTrainingJob`, and for `.sync` also Describe/Stop).
        sync_actions: the `.sync` integrations used (their EventBridge rules need permissions).
        resources: IAM action -> the ARNs it is called on (with `resources_of`; Create* also tags what it creates).
    """

    def __init__(
        self,
        scope: Construct,
        *,
        catch: sfn.IChainable | None = None,
        resources_of: Callable[[str, Mapping[str, Any]], list[str]] | None = None,
    ) -> None:
        self._scope = scope
        self._catch = catch
        self._resources_of = resources_of
        self.requests: dict[str, tuple[str, dict[str, Any]]] = {}
        self.actions: set[str] = set()
        self.sync_actions: set[str] = set()
        self.resources: dict[str, set[str]] = {}

    def task(
        self,
        name: str,
        action: str,
        parameters: Mapping[str, Any],
        *,
        result_path: str | None = None,
        retry: RetryPolicy = SAGEMAKER_TRANSIENT,
        sync: bool = False,
        sdk: bool = False,
        result_selector: Mapping[str, Any] | None = None,
        catch: sfn.IChainable | None = None,
        error_path: str = "$.error",
    ) -> sfn.CustomState:
        """One SageMaker call with its full request (no L2 task exists for most of them, and the existing ones
        cannot express every field); retried per `retry`, any other error caught into `error_path` and on to
        `catch` (default: the workflow's)."""
        target = catch or self._catch
        if target is None:
            raise ValueError(f"task {name!r} has nowhere to catch its failures: pass catch= here or to SageMakerTasks")
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": sagemaker_resource(action, sync=sync, sdk=sdk),
            "Parameters": dict(parameters),
        }
        if result_path is not None:
            state["ResultPath"] = result_path
        if result_selector:
            state["ResultSelector"] = dict(result_selector)
        task = sfn.CustomState(self._scope, name, state_json=state)
        retry.apply(task)
        task.add_catch(target, errors=["States.ALL"], result_path=error_path)
        operation = action[0].upper() + action[1:]
        self.requests[name] = (operation, dict(parameters))
        self.actions.add(operation)
        operations = [operation, *(["AddTags"] if operation.startswith("Create") else [])]
        if sync:
            self.sync_actions.add(action)
            verbs = [operation.replace("Create", verb, 1) for verb in ("Describe", "Stop")]
            self.actions |= set(verbs)
            operations += verbs
        if self._resources_of is not None:
            arns = self._resources_of(operation, parameters)
            for each in operations:
                self.resources.setdefault(f"sagemaker:{each}", set()).update(arns)
        return task

    def policy_statements(self, stack: cdk.Stack, resource_types: Iterable[str] = ()) -> list[iam.PolicyStatement]:
        """The recorded SageMaker actions, each on the ARNs it is called on (with `resources_of`) or else on
        `resource_types` (`<type>/*`), plus the EventBridge rules of the `.sync` integrations used."""
        if self._resources_of is not None:
            by_arns: dict[tuple[str, ...], list[str]] = {}
            for action, arns in self.resources.items():
                by_arns.setdefault(tuple(sorted(arns, key=str)), []).append(action)
            statements = [
                iam.PolicyStatement(actions=sorted(actions), resources=list(arns))
                for arns, actions in sorted(by_arns.items(), key=lambda item: sorted(item[1]))
            ]
        else:
            if not resource_types:
                raise ValueError("policy_statements: no resources_of and no resource types to scope the actions to")
            statements = [
                iam.PolicyStatement(
                    actions=sorted({f"sagemaker:{a}" for a in self.actions} | {"sagemaker:AddTags"}),
                    resources=[
                        stack.format_arn(service="sagemaker", resource=kind, resource_name="*")
                        for kind in resource_types
                    ],
                )
            ]
        rules = [
            stack.format_arn(service="events", resource="rule", resource_name=f"StepFunctionsGetEventsFor{rule}")
            for action, rule in SYNC_RULES.items()
            if action in self.sync_actions
        ]
        if rules:
            statements.append(
                iam.PolicyStatement(
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"], resources=rules
                )
            )
        return statements


def notify(
    scope: Construct,
    name: str,
    *,
    topic: sns.ITopic,
    message: Mapping[str, Any],
    subject: str,
    catch: sfn.IChainable | None = None,
) -> tasks.SnsPublish:
    """Publish a run's status to `topic`; a publish is idempotent, so any task failure is retried. A notification on
    the failure path has no `catch` (it would loop); one on a success path catches into the failure path."""
    publish = tasks.SnsPublish(
        scope,
        name,
        topic=topic,
        message=sfn.TaskInput.from_object(dict(message)),
        subject=subject,
        result_path=sfn.JsonPath.DISCARD,
    )
    IDEMPOTENT.apply(publish)
    if catch is not None:
        publish.add_catch(catch, errors=["States.ALL"], result_path="$.error")
    return publish


def publish_key_statement(stack: cdk.Stack, key_arn: str) -> iam.PolicyStatement:
    """What a workflow role needs, besides `sns:Publish`, to publish to a topic encrypted with a customer managed key:
    SNS generates and decrypts the message's data key with the publisher's credentials (SNS developer guide,
    "Managing Amazon SNS encryption keys and costs", docs.aws.amazon.com/sns/latest/dg/sns-key-management.html: publish
    to an SSE topic needs `kms:GenerateDataKey*` and `kms:Decrypt`; aws/aws-cdk#32794 added them to
    `Topic.grantPublish`, but the SnsPublish task grants `sns:Publish` only). Without it every notification fails
    with KMS AccessDenied. Scoped to the key and to calls SNS makes on the role's behalf."""
    return iam.PolicyStatement(
        actions=["kms:Decrypt", "kms:GenerateDataKey"],
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.{stack.url_suffix}"}},
    )
