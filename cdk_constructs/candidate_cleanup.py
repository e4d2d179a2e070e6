"""Delete a lifecycle run's candidate when the run ends without deleting it itself.

The lifecycle workflow deletes its candidate endpoint on success and in every Catch; but an execution that times out
(the state machine's TimeoutSeconds) or is stopped (StopExecution: ABORTED) runs no Catch at all, and a FAILED one may
have failed before or inside its own clean-up. Each leaves an `ml.inf2` endpoint billing by the hour. Step Functions
emits "Step Functions Execution Status Change" to the default event bus for every standard execution that ends
(AWS Step Functions developer guide, "EventBridge (CloudWatch Events) for Step Functions execution status changes",
docs.aws.amazon.com/step-functions/latest/dg/cw-events.html; the event reference lists it under source `aws.states`,
docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html); its `detail` holds `executionArn`,
`stateMachineArn`, `name`, `status`, `input`, ... A rule on this state machine's ARN and the statuses TIMED_OUT,
ABORTED and FAILED starts the clean-up workflow here with the event as its input. No Lambda function: the workflow
computes the run's names from `detail.executionArn` with the same intrinsic the lifecycle uses
(`sagemaker_requests.run_names`) and calls SageMaker through the SDK integration.

For each name it lists first and deletes only what is there: SageMaker's Delete* calls report a missing resource as an
unmodeled ValidationException ("Could not find endpoint ...", aws/amazon-sagemaker-examples#2402), which reaches a
Catch as `SageMaker.SageMakerException`, the same error as a throttle or an access denial; an empty List* result is
unambiguous. An endpoint still Creating cannot be deleted until it leaves that status (aws/amazon-sagemaker-examples
#3432), so while the candidate is in one of the in-progress statuses the workflow waits and looks again, within the
same budget the lifecycle gives the candidate to come up. The model is deleted only when the run created no live
endpoint config (`live-<run id>`): with one, the run reached its deploy stage and the model may be serving the live
endpoint. Every end is announced on the lifecycle's topic (TIMED_OUT and ABORTED runs announce nothing themselves).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_constructs.logged_state_machine import logged_state_machine
from cdk_constructs.sagemaker_tasks import IDEMPOTENT, SageMakerTasks, notify, publish_key_statement
from compliance.packs import acknowledge, acknowledge_in_hipaa_and_nist
from compliance.wildcards import ExpectedWildcards
from sagemaker_requests import release
from sagemaker_requests.run_names import NAMED_RESOURCES, candidate_names, name_prefix, run_id

# The execution statuses after which a candidate may be left running (SUCCEEDED runs delete theirs; RUNNING and
# PENDING_REDRIVE have not ended).
ENDED_WITHOUT_CLEANUP = ("TIMED_OUT", "ABORTED", "FAILED")
EVENT_SOURCE = "aws.states"
EVENT_DETAIL_TYPE = "Step Functions Execution Status Change"
# EndpointStatus values during which DeleteEndpoint is refused (botocore 1.44.8 SageMaker model, EndpointStatus: an
# operation is in progress). Deleting: already going. Any other status (InService, Failed, OutOfService,
# UpdateRollbackFailed) is deleted at once.
ENDPOINT_BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack")
# A stopped execution may leave a CreateEndpoint / CreateModel call in flight: look after it has landed.
SETTLE_SECONDS = 60
# The longest EventBridge keeps retrying to start the clean-up (its own limit is 24 h), and how often.
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = cdk.Duration.hours(6)
DLQ_RETENTION = cdk.Duration.days(14)  # SQS's maximum: time for someone to notice and clean up by hand


class CandidateCleanup(Construct):
    """An EventBridge rule on the lifecycle's unsuccessful ends and the workflow it starts.

    Args:
        lifecycle: the lifecycle state machine whose runs are cleaned up (the rule matches its ARN only).
        topic: where the clean-up announces what it did (the lifecycle's topic).
        key: the platform key (log group encryption; the topic's encryption: the role may use it through SNS to
            publish).
        log_retention: of the clean-up's log group.
        max_busy_seconds: how long a candidate may stay in an in-progress status before the clean-up gives up and
            announces a failure (the lifecycle's own wait budget for the candidate).
        poll_interval: between looks at a busy candidate.

    Attributes:
        rule: the EventBridge rule; events_role: the role EventBridge starts the clean-up with.
        state_machine: the clean-up workflow; role: the role it runs as; log_group: its encrypted log group.
        dead_letter_queue: the events EventBridge could not deliver after its retries.
        requests: each SageMaker Task's (operation, parameters) as written into the definition.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lifecycle: sfn.IStateMachine,
        topic: sns.ITopic,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        max_busy_seconds: int,
        poll_interval: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self._topic = topic
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Deletes the candidate of a lifecycle run that timed out, was stopped or failed",
        )
        failed = notify(
            self,
            "NotifyCleanupFailed",
            topic=topic,
            message=self._message("CLEANUP_FAILED", error=True),
            subject="Foundation-model lifecycle: candidate clean-up FAILED",
        ).next(
            sfn.Fail(
                self,
                "CleanupFailed",
                error="CandidateCleanupFailed",
                cause="The candidate clean-up failed; its notification names the resources to check by hand",
            )
        )
        self._tasks = SageMakerTasks(self, catch=failed, resources_of=self._resources_of)
        self.requests = self._tasks.requests
        max_polls = -(-max_busy_seconds // int(poll_interval.to_seconds()))
        definition = self._definition(failed, max_polls=max_polls, poll_interval=poll_interval)

        workflow = logged_state_machine(
            self,
            definition=definition,
            key=key,
            log_retention=log_retention,
            timeout=cdk.Duration.seconds(SETTLE_SECONDS + max_busy_seconds + 3600),
            role=self.role,
            comment="Delete a lifecycle run's candidate endpoint, its config and its model after the run timed out, "
            "was stopped or failed",
        )
        self.state_machine, self.log_group = workflow.state_machine, workflow.log_group
        self._grant(key)

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.rule = events.Rule(
            self,
            "RunEndedUnsuccessfully",
            description="A lifecycle run timed out, was stopped or failed: delete its candidate",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE],
                detail_type=[EVENT_DETAIL_TYPE],
                detail={"stateMachineArn": [lifecycle.state_machine_arn], "status": list(ENDED_WITHOUT_CLEANUP)},
            ),
        )
        # The target's input is the whole event (SfnStateMachine's default). CDK gives EventBridge a role that may
        # start this state machine only, and lets it send to the dead-letter queue only for this rule.
        self.rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=TARGET_RETRY_ATTEMPTS,
                max_event_age=TARGET_MAX_EVENT_AGE,
            )
        )
        events_role = self.state_machine.node.find_child("EventsRole")  # CDK's role for the rule's target
        if not isinstance(events_role, iam.Role):
            raise TypeError(f"expected the EventsRole the SfnStateMachine target creates, found {events_role}")
        self.events_role: iam.IRole = events_role
        self._acknowledge()

    # ---- the workflow ------------------------------------------------------------------------------------------------
    def _definition(self, failed: sfn.IChainable, *, max_polls: int, poll_interval: cdk.Duration) -> sfn.IChainable:
        identify = sfn.Pass(
            self,
            "IdentifyRun",
            parameters={"id.$": run_id("$.detail.executionArn")},
            result_path="$.run",
        )
        name = sfn.Pass(self, "NameCandidate", parameters=candidate_names("$.run.id"), result_path="$.candidate")
        settle = sfn.Wait(
            self, "LetInFlightCallsLand", time=sfn.WaitTime.duration(cdk.Duration.seconds(SETTLE_SECONDS))
        )
        start_polling = sfn.Pass(
            self, "StartPolling", result=sfn.Result.from_object({"count": 0}), result_path="$.polls"
        )
        done = notify(
            self,
            "NotifyCleanedUp",
            topic=self._topic,
            message=self._message("CLEANED_UP"),
            subject="Foundation-model lifecycle: candidate cleaned up",
        ).next(sfn.Succeed(self, "CleanedUp"))

        # The model, unless the run created a live config (then it may serve the live endpoint).
        find_model = self._find("FindCandidateModel", "listModels", "$.candidate.model_name", "Models")
        delete_model = self._tasks.task(
            "DeleteCandidateModel",
            "deleteModel",
            release.delete_model_request(model_name_path="$.candidate.model_name"),
            sdk=True,
            retry=IDEMPOTENT,
            result_path=sfn.JsonPath.DISCARD,
        )
        model_deleted = self._outcome("ModelDeleted", "deleted")
        model_absent = self._outcome("NoModel", "absent")
        model_kept = self._outcome(
            "ModelKept", "kept: the run created its live endpoint config, so the model may serve the live endpoint"
        )
        for outcome in (model_deleted, model_absent, model_kept):
            outcome.next(done)
        delete_model.next(model_deleted)
        find_model.next(self._if_found("CandidateModelFound", "Models", delete_model, model_absent))
        find_live = self._find(
            "FindLiveConfig", "listEndpointConfigs", "$.candidate.live_config_name", "EndpointConfigs"
        )
        find_live.next(self._if_found("LiveConfigFound", "EndpointConfigs", model_kept, find_model))

        # The candidate's endpoint config.
        find_config = self._find(
            "FindCandidateConfig", "listEndpointConfigs", "$.candidate.eval_endpoint_name", "EndpointConfigs"
        )
        delete_config = self._tasks.task(
            "DeleteCandidateEndpointConfig",
            "deleteEndpointConfig",
            release.delete_endpoint_config_request(config_name_path="$.candidate.eval_endpoint_name"),
            sdk=True,
            retry=IDEMPOTENT,
            result_path=sfn.JsonPath.DISCARD,
        )
        delete_config.next(find_live)
        find_config.next(self._if_found("CandidateConfigFound", "EndpointConfigs", delete_config, find_live))

        # The candidate endpoint: wait while it is busy, then delete it (unless it is already going).
        find_endpoint = self._find(
            "FindCandidateEndpoint", "listEndpoints", "$.candidate.eval_endpoint_name", "Endpoints"
        )
        count = sfn.Pass(
            self, "CountLook", parameters={"count.$": "States.MathAdd($.polls.count, 1)"}, result_path="$.polls"
        )
        wait = sfn.Wait(self, "WaitWhileBusy", time=sfn.WaitTime.duration(poll_interval))
        delete_endpoint = self._tasks.task(
            "DeleteCandidateEndpoint",
            "deleteEndpoint",
            release.delete_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
            sdk=True,
            retry=IDEMPOTENT,
            result_path=sfn.JsonPath.DISCARD,
        )
        delete_endpoint.next(find_config)
        still_busy = sfn.Pass(
            self,
            "CandidateStillBusy",
            parameters={
                "Error": "CandidateEndpointStillBusy",
                "Cause.$": f"States.Format('endpoint {{}} is still in progress ({', '.join(ENDPOINT_BUSY)}) after "
                f"{{}} looks (at most {max_polls}): delete it by hand once it leaves that status', "
                "$.candidate.eval_endpoint_name, $.polls.count)",
            },
            result_path="$.error",
        )
        still_busy.next(failed)
        status = "$.found.Endpoints[0].EndpointStatus"
        busy = sfn.Condition.or_(*(sfn.Condition.string_equals(status, s) for s in ENDPOINT_BUSY))
        decide = (
            sfn.Choice(self, "CandidateEndpointState")
            .when(sfn.Condition.is_not_present("$.found.Endpoints[0]"), find_config)
            .when(sfn.Condition.string_equals(status, "Deleting"), find_config)
            .when(sfn.Condition.and_(busy, sfn.Condition.number_less_than("$.polls.count", max_polls)), wait)
            .when(busy, still_busy)
            .otherwise(delete_endpoint)
        )
        wait.next(find_endpoint)
        find_endpoint.next(count).next(decide)
        return sfn.Chain.start(identify).next(name).next(settle).next(start_polling).next(find_endpoint)

    def _find(self, name: str, action: str, name_path: str, members: str) -> sfn.CustomState:
        """List* filtered by the generated name; `$.found.<members>` is empty when the resource is not there."""
        return self._tasks.task(
            name,
            action,
            release.name_contains_request(name_path=name_path),
            sdk=True,
            retry=IDEMPOTENT,
            result_selector={f"{members}.$": f"$.{members}"},
            result_path="$.found",
        )

    def _if_found(self, name: str, members: str, found: sfn.IChainable, absent: sfn.IChainable) -> sfn.Choice:
        return sfn.Choice(self, name).when(sfn.Condition.is_present(f"$.found.{members}[0]"), found).otherwise(absent)

    def _outcome(self, name: str, text: str) -> sfn.Pass:
        return sfn.Pass(self, name, result=sfn.Result.from_string(text), result_path="$.model")

    def _message(self, status: str, *, error: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {
            "status": status,
            "execution": sfn.JsonPath.string_at("$.detail.executionArn"),
            "execution_status": sfn.JsonPath.string_at("$.detail.status"),
            "cleanup_execution": sfn.JsonPath.string_at("$$.Execution.Id"),
            "candidate": sfn.JsonPath.object_at("$.candidate"),
        }
        if error:
            message["error"] = sfn.JsonPath.object_at("$.error")
        else:
            message["model"] = sfn.JsonPath.string_at("$.model")
        return message

    # ---- permissions ------------------------------------------------------------------------------------------------
    def _resources_of(self, operation: str, parameters: Mapping[str, Any]) -> list[str]:
        """Delete* only on the lifecycle's generated names; List* accepts no resource (SageMaker's List actions
        have no resource type in the service authorization reference), so `*`."""
        if operation.startswith("List"):
            return ["*"]
        stack = cdk.Stack.of(self)
        arns = [
            stack.format_arn(
                service="sagemaker", resource=resource, resource_name=f"{name_prefix(parameters[f'{parameter}.$'])}*"
            )
            for parameter, resource in NAMED_RESOURCES.items()
            if f"{parameter}.$" in parameters
        ]
        if not arns or not operation.startswith("Delete"):
            raise ValueError(f"{operation}: the clean-up only lists and deletes the lifecycle's generated names")
        return arns

    def _grant(self, key: kms.IKey) -> None:
        stack = cdk.Stack.of(self)
        wildcards = ExpectedWildcards.of(self.role.node.find_child("DefaultPolicy"))
        for statement in self._tasks.policy_statements(stack):
            self.role.add_to_policy(statement)
        self.role.add_to_policy(publish_key_statement(stack, key.key_arn))  # the topic's key is the platform key
        for resource in sorted({r for rs in self._tasks.resources.values() for r in rs}, key=str):
            if resource != "*" and "*" in json.dumps(stack.resolve(resource)):
                wildcards.resource(
                    resource,
                    "The lifecycle names its candidate <prefix><run id> per run: the clean-up deletes only names with "
                    "the lifecycle's fixed prefixes, the run id comes from the event of the run's end",
                )
        wildcards.resource(
            "*",
            "SageMaker's ListEndpoints/ListEndpointConfigs/ListModels (read-only, filtered by the run's names) take no "
            "resource; X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* and CloudWatch Logs' log-delivery "
            "actions, which CDK adds for tracing and logging, accept only '*'",
        )

    def _acknowledge(self) -> None:
        """Each finding on the exact resource it is about."""
        acknowledge_in_hipaa_and_nist(
            self.role,
            "The clean-up role's grants are specific to its state machine and not reusable",
            "IAMNoInlinePolicy",
        )
        acknowledge_in_hipaa_and_nist(
            self.events_role,
            "EventBridge's role for this rule's target (CDK's SfnStateMachine target): states:StartExecution on the "
            "clean-up state machine only, not reusable",
            "IAMNoInlinePolicy",
        )
        acknowledge(
            self.dead_letter_queue,
            "This queue is the dead-letter queue of the EventBridge target (the rule's DeadLetterConfig); the rule "
            "recognises only queues named in another queue's redrive policy as dead-letter queues",
            "AwsSolutions-SQS3",
        )
