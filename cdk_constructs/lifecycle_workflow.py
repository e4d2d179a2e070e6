"""The foundation-model lifecycle as one Step Functions standard workflow:

prepare -> [pre-train] -> fine-tune -> [candidate model + endpoint] -> [evaluation jobs -> report -> gate]
-> register model package -> [deploy to the live endpoint, wait for InService] -> notify.

Every SageMaker call is a Task whose parameters are a full API request (built in `training_job_request` and
`release_requests`), every Task retries transient errors and catches the rest into a failure notification, and every
state is logged to an encrypted log group with X-Ray tracing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_constructs.handoffs import EvaluationStage, ServingTarget
from cdk_constructs.sagemaker_role import key_grants_for_sagemaker
from sagemaker_requests import release

# Transient failures of a SageMaker call (throttling, capacity, internal errors) that a later attempt can survive.
# A .sync job that ran and failed raises States.TaskFailed and is not retried here: RetryStrategy retries inside the
# job, and a second CreateTrainingJob with the same name would fail anyway.
SAGEMAKER_TRANSIENT = (
    "SageMaker.AmazonSageMakerException",
    "SageMaker.SageMakerException",
    "SageMaker.ThrottlingException",
)
# Reads, deletes and notifications are idempotent: retry any task failure.
IDEMPOTENT = ("States.TaskFailed",)
ENDPOINT_FAILED = ("Failed", "OutOfService", "RollingBack")
SYNC_RULES = {"createTrainingJob": "SageMakerTrainingJobsRule", "createProcessingJob": "SageMakerProcessingJobsRule"}


def sagemaker_resource(action: str, *, sync: bool = False, sdk: bool = False) -> str:
    """The Task resource of an optimized SageMaker integration, or of the AWS SDK integration."""
    service = "aws-sdk:sagemaker" if sdk else "sagemaker"
    return f"arn:{cdk.Aws.PARTITION}:states:::{service}:{action}{'.sync' if sync else ''}"


def state_key(name: str) -> str:
    """A workflow-state field name for a state name (JSONPath dot notation needs word characters)."""
    return re.sub(r"\W", "_", name)


class LifecycleWorkflow(Construct):
    """`self.state_machine`, `self.role`, `self.log_group`; `self.requests` maps each SageMaker Task to its
    (operation, parameters) as written into the definition."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fine_tune_request: Mapping[str, Any],
        pretrain_request: Mapping[str, Any] | None,
        training_role: iam.IRole,
        training_output_s3_uri: str,
        run_defaults: Mapping[str, Any],
        model_package_group_name: str,
        package_image_uri: str,
        package_environment: Mapping[str, str],
        package_instance_type: str,
        auto_approve: bool,
        evaluation: EvaluationStage | None,
        serving: ServingTarget | None,
        deploy: bool,
        topic: sns.ITopic,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        timeout: cdk.Duration,
        poll_interval: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.requests: dict[str, tuple[str, dict[str, Any]]] = {}
        self._sagemaker_actions: set[str] = set()
        self._sync_actions: set[str] = set()
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the foundation-model lifecycle workflow",
        )
        self._principal = self.role
        self._passed_roles: list[iam.IRole] = [training_role]
        self._topic = topic
        self._poll = poll_interval
        stack = cdk.Stack.of(self)

        # ---- failure path: every task's catch lands here --------------------------------------------------------
        # `$.error` is the failure; `$.cleanup_error` a failure of the clean-up after it (deleting the candidate
        # endpoint), else "none". The notification carries both: a failed clean-up never hides the original error.
        failed = sfn.Fail(
            self,
            "LifecycleFailed",
            error="LifecycleFailed",
            cause="A lifecycle task failed; the failure notification carries the error",
        )
        notify_failure = self._notify("NotifyFailure", "FAILED", error=True)
        notify_failure.next(failed)
        no_cleanup_error = sfn.Pass(
            self, "NoCleanupError", result=sfn.Result.from_string("none"), result_path="$.cleanup_error"
        )
        no_cleanup_error.next(notify_failure)
        self._notify_failure: sfn.IChainable = (
            sfn.Choice(self, "CheckCleanupError")
            .when(sfn.Condition.is_present("$.cleanup_error"), notify_failure)
            .otherwise(no_cleanup_error)
        )

        # ---- prepare the run: a run id and the options (input merged over the defaults) ------------------------
        defaults = sfn.Pass(
            self, "LoadDefaults", result=sfn.Result.from_object(dict(run_defaults)), result_path="$.defaults"
        )
        prepare = sfn.Pass(
            self,
            "PrepareRun",
            parameters={
                "id.$": "States.UUID()",
                "options.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)",
            },
            result_path="$.run",
        )
        chain = sfn.Chain.start(defaults).next(prepare)

        # ---- training -------------------------------------------------------------------------------------------
        fine_tune = self._task(
            "FineTune",
            "createTrainingJob",
            fine_tune_request,
            sync=True,
            result_path="$.fine_tune",
            retry=SAGEMAKER_TRANSIENT,
        )
        base_model = sfn.Pass(
            self,
            "StartFromBaseModel",
            parameters={"s3_uri.$": "$.run.options.base_model_s3_uri"},
            result_path="$.model_source",
        )
        if pretrain_request is not None:
            pretrain = self._task(
                "PreTrain",
                "createTrainingJob",
                pretrain_request,
                sync=True,
                result_path="$.pretrain",
                retry=SAGEMAKER_TRANSIENT,
            )
            pretrained = sfn.Pass(
                self,
                "StartFromPreTrainedModel",
                parameters={
                    "s3_uri.$": f"States.Format('{training_output_s3_uri}{{}}/output/model/', "
                    "$.pretrain.TrainingJobName)"
                },
                result_path="$.model_source",
            )
            pretrain.next(pretrained)
            pretrained.next(fine_tune)
            base_model.next(fine_tune)
            choose = (
                sfn.Choice(self, "PreTrainingRequested")
                .when(sfn.Condition.boolean_equals("$.run.options.pretrain", True), pretrain)
                .otherwise(base_model)
            )
            chain = chain.next(choose)
            after_training: sfn.INextable = fine_tune
        else:
            chain = chain.next(base_model).next(fine_tune)
            after_training = fine_tune

        candidate = sfn.Pass(
            self,
            "RecordCandidate",
            parameters={
                "model_s3_uri.$": f"States.Format('{training_output_s3_uri}{{}}/output/model/', "
                "$.fine_tune.TrainingJobName)",
                "model_name.$": "States.Format('lifecycle-{}', $.run.id)",
                "eval_endpoint_name.$": "States.Format('eval-{}', $.run.id)",
                "live_config_name.$": "States.Format('live-{}', $.run.id)",
            },
            result_path="$.candidate",
        )
        tail: sfn.INextable = after_training.next(candidate)
        if serving is not None:
            self._passed_roles.append(serving.execution_role)
            tail = tail.next(
                self._task(
                    "CreateModel",
                    "createModel",
                    release.create_model_request(
                        serving=serving,
                        model_name_path="$.candidate.model_name",
                        model_s3_uri_path="$.candidate.model_s3_uri",
                    ),
                    result_path=sfn.JsonPath.DISCARD,
                    retry=SAGEMAKER_TRANSIENT,
                )
            )

        # ---- evaluation and gate --------------------------------------------------------------------------------
        report_uri_path: str | None = None
        if evaluation is not None:
            self._passed_roles.append(evaluation.role)
            tail = self._evaluation(tail, evaluation, serving)
            report_uri_path = "$.evaluation.report.uri"
            approved = sfn.Pass(
                self,
                "GatePassed",
                result=sfn.Result.from_object(
                    {
                        "approval_status": "Approved" if auto_approve else "PendingManualApproval",
                        "gated": True,
                        "passed": True,
                    }
                ),
                result_path="$.gate",
            )
            rejected = sfn.Pass(
                self,
                "GateFailed",
                result=sfn.Result.from_object({"approval_status": "Rejected", "gated": True, "passed": False}),
                result_path="$.gate",
            )
            gate = (
                sfn.Choice(self, "EvaluationGate").when(self._gate_condition(evaluation), approved).otherwise(rejected)
            )
            tail.next(gate)
            register_inputs: list[sfn.INextable] = [approved, rejected]
        else:
            ungated = sfn.Pass(
                self,
                "NoEvaluationGate",
                result=sfn.Result.from_object({"approval_status": "PendingManualApproval", "gated": False}),
                result_path="$.gate",
            )
            tail.next(ungated)
            register_inputs = [ungated]

        # ---- register -------------------------------------------------------------------------------------------
        register = self._task(
            "RegisterModelPackage",
            "createModelPackage",
            release.model_package_request(
                group_name=model_package_group_name,
                image_uri=package_image_uri,
                environment=package_environment,
                instance_type=package_instance_type,
                model_s3_uri_path="$.candidate.model_s3_uri",
                approval_status_path="$.gate.approval_status",
                report_s3_uri_path=report_uri_path,
                description_path="States.Format('Lifecycle run {} (training job {})', $.run.id, "
                "$.fine_tune.TrainingJobName)",
            ),
            sdk=True,
            result_path="$.registration",
            retry=SAGEMAKER_TRANSIENT,
        )
        for state in register_inputs:
            state.next(register)

        succeeded = sfn.Succeed(self, "LifecycleSucceeded")
        registered = self._notify("NotifyRegistered", "REGISTERED").next(succeeded)
        rejected_end = self._notify("NotifyRejected", "REJECTED").next(
            sfn.Fail(
                self,
                "ModelRejected",
                error="ModelRejected",
                cause="The evaluation gate rejected the model; it is registered with status Rejected",
            )
        )
        after_register = sfn.Choice(self, "ApprovedForDeployment").when(
            sfn.Condition.string_equals("$.gate.approval_status", "Rejected"), rejected_end
        )
        if serving is not None and deploy:
            after_register.when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.gate.approval_status", "Approved"),
                    sfn.Condition.boolean_equals("$.run.options.deploy", True),
                ),
                self._deploy(serving, succeeded),
            )
        register.next(after_register.otherwise(registered))

        # ---- the state machine ----------------------------------------------------------------------------------
        self.log_group = logs.LogGroup(self, "Logs", encryption_key=key, retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=self.role,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="Foundation-model lifecycle: pre-train, fine-tune, evaluate, gate, register, deploy, notify",
        )
        self._grant(stack, key)

    # ---- building blocks ----------------------------------------------------------------------------------------
    def _task(
        self,
        name: str,
        action: str,
        parameters: Mapping[str, Any],
        *,
        result_path: str,
        retry: Sequence[str],
        sync: bool = False,
        sdk: bool = False,
        result_selector: Mapping[str, Any] | None = None,
        on_error: sfn.IChainable | None = None,
        error_path: str = "$.error",
    ) -> sfn.CustomState:
        """One SageMaker call with its full request; retried on `retry`, every other error caught into `error_path`
        and on to `on_error`."""
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": sagemaker_resource(action, sync=sync, sdk=sdk),
            "Parameters": dict(parameters),
            "ResultPath": result_path,
        }
        if result_selector:
            state["ResultSelector"] = dict(result_selector)
        task = sfn.CustomState(self, name, state_json=state)
        task.add_retry(errors=list(retry), interval=cdk.Duration.seconds(15), backoff_rate=2, max_attempts=3)
        task.add_catch(on_error or self._notify_failure, errors=["States.ALL"], result_path=error_path)
        operation = action[0].upper() + action[1:]
        self.requests[name] = (operation, dict(parameters))
        self._sagemaker_actions.add(operation)
        if sync:
            self._sync_actions.add(action)
            self._sagemaker_actions |= {operation.replace("Create", verb, 1) for verb in ("Describe", "Stop")}
        return task

    def _notify(self, name: str, status: str, *, error: bool = False) -> tasks.SnsPublish:
        message: dict[str, Any] = {
            "status": status,
            "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
            "run": sfn.JsonPath.object_at("$.run"),
        }
        if error:
            message["error"] = sfn.JsonPath.object_at("$.error")
            message["cleanup_error"] = sfn.JsonPath.object_at("$.cleanup_error")
        else:
            message["gate"] = sfn.JsonPath.object_at("$.gate")
            message["model_package"] = sfn.JsonPath.string_at("$.registration.ModelPackageArn")
        publish = tasks.SnsPublish(
            self,
            name,
            topic=self._topic,
            message=sfn.TaskInput.from_object(message),
            subject=f"Foundation-model lifecycle: {status}",
            result_path=sfn.JsonPath.DISCARD,
        )
        publish.add_retry(errors=list(IDEMPOTENT), interval=cdk.Duration.seconds(5), backoff_rate=2, max_attempts=3)
        if not error:
            publish.add_catch(self._notify_failure, errors=["States.ALL"], result_path="$.error")
        return publish

    def _wait_in_service(
        self,
        prefix: str,
        describe: Mapping[str, Any],
        *,
        done: sfn.IChainable,
        config_name_path: str,
        on_error: sfn.IChainable,
    ) -> sfn.Wait:
        """Poll DescribeEndpoint until InService on the new config; Failed, or InService on another config (a
        rolled-back deployment), goes to `on_error`."""
        key = f"$.{state_key(prefix)}"
        wait = sfn.Wait(self, f"{prefix}Wait", time=sfn.WaitTime.duration(self._poll))
        check = self._task(
            f"{prefix}Describe",
            "describeEndpoint",
            describe,
            sdk=True,
            retry=IDEMPOTENT,
            result_path=key,
            on_error=on_error,
            result_selector={"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
        )
        not_serving = sfn.Pass(
            self,
            f"{prefix}NotServingNewModel",
            parameters={
                "Error": "EndpointNotInServiceOnNewConfig",
                "Cause.$": f"States.Format('endpoint is {{}} on config {{}}', {key}.status, {key}.config)",
            },
            result_path="$.error",
        )
        not_serving.next(on_error)
        status = f"{key}.status"
        decide = (
            sfn.Choice(self, f"{prefix}Status")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals(status, "InService"),
                    sfn.Condition.string_equals_json_path(f"{key}.config", config_name_path),
                ),
                done,
            )
            .when(
                sfn.Condition.or_(*(sfn.Condition.string_equals(status, s) for s in (*ENDPOINT_FAILED, "InService"))),
                not_serving,
            )
            .otherwise(wait)
        )
        wait.next(check).next(decide)
        return wait

    def _evaluation(
        self, tail: sfn.INextable, evaluation: EvaluationStage, serving: ServingTarget | None
    ) -> sfn.INextable:
        """Host the candidate (when there is a serving target), run every evaluation job, read the report."""
        jobs_start = sfn.Pass(self, "RunEvaluationJobs")
        on_error: sfn.IChainable = self._notify_failure
        if serving is not None:
            start = sfn.Pass(
                self,
                "PrepareEvaluation",
                parameters={"endpoint_name.$": "$.candidate.eval_endpoint_name", "jobs": {}},
                result_path="$.evaluation",
            )
            # The candidate endpoint costs money until it is deleted: any failure from here on deletes it first.
            on_error = self._task(
                "DeleteCandidateAfterFailure",
                "deleteEndpoint",
                release.delete_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
                sdk=True,
                retry=IDEMPOTENT,
                result_path=sfn.JsonPath.DISCARD,
                error_path="$.cleanup_error",
            )
            on_error.next(self._notify_failure)
            config = self._task(
                "CreateCandidateEndpointConfig",
                "createEndpointConfig",
                release.endpoint_config_request(
                    serving=serving,
                    candidate=True,
                    config_name_path="$.candidate.eval_endpoint_name",
                    model_name_path="$.candidate.model_name",
                ),
                result_path=sfn.JsonPath.DISCARD,
                retry=SAGEMAKER_TRANSIENT,
            )
            endpoint = self._task(
                "CreateCandidateEndpoint",
                "createEndpoint",
                release.create_endpoint_request(
                    endpoint_name_path="$.candidate.eval_endpoint_name",
                    config_name_path="$.candidate.eval_endpoint_name",
                ),
                result_path=sfn.JsonPath.DISCARD,
                retry=SAGEMAKER_TRANSIENT,
            )
            waiting = self._wait_in_service(
                "Candidate",
                release.describe_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
                done=jobs_start,
                config_name_path="$.candidate.eval_endpoint_name",
                on_error=on_error,
            )
            tail.next(start).next(config).next(endpoint).next(waiting)
        else:
            start = sfn.Pass(
                self,
                "PrepareEvaluation",
                parameters={"endpoint_name.$": "$.run.options.evaluation_endpoint_name", "jobs": {}},
                result_path="$.evaluation",
            )
            missing = sfn.Fail(
                self,
                "EvaluationEndpointMissing",
                error="EvaluationEndpointMissing",
                cause="No inference stack hosts the candidate: start the run with "
                "evaluation_endpoint_name, the endpoint the evaluation jobs score",
            )
            tail.next(start).next(
                sfn.Choice(self, "EvaluationEndpointNamed")
                .when(sfn.Condition.string_equals("$.evaluation.endpoint_name", ""), missing)
                .otherwise(jobs_start)
            )

        tail = jobs_start
        for name, request in evaluation.jobs.items():
            tail = tail.next(
                self._task(
                    name,
                    "createProcessingJob",
                    request,
                    sync=True,
                    retry=SAGEMAKER_TRANSIENT,
                    result_path=f"$.evaluation.jobs.{state_key(name)}",
                    on_error=on_error,
                )
            )
        if serving is not None:
            tail = tail.next(
                self._task(
                    "DeleteCandidateEndpoint",
                    "deleteEndpoint",
                    release.delete_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
                    sdk=True,
                    retry=IDEMPOTENT,
                    result_path=sfn.JsonPath.DISCARD,
                    on_error=on_error,
                )
            ).next(
                self._task(
                    "DeleteCandidateEndpointConfig",
                    "deleteEndpointConfig",
                    release.delete_endpoint_config_request(config_name_path="$.candidate.eval_endpoint_name"),
                    sdk=True,
                    retry=IDEMPOTENT,
                    result_path=sfn.JsonPath.DISCARD,
                )
            )

        read_report = tasks.CallAwsService(
            self,
            "ReadEvaluationReport",
            service="s3",
            action="getObject",
            parameters={
                "Bucket": evaluation.report_bucket.bucket_name,
                "Key": sfn.JsonPath.string_at(evaluation.report_key_path),
            },
            iam_resources=[evaluation.report_bucket.arn_for_objects("*")],
            result_selector={"report": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.Body"))},
            result_path="$.evaluation.result",
        )
        read_report.add_retry(
            errors=["S3.S3Exception", "S3.SdkClientException"],
            interval=cdk.Duration.seconds(5),
            backoff_rate=2,
            max_attempts=3,
        )
        read_report.add_catch(self._notify_failure, errors=["States.ALL"], result_path="$.error")
        evaluation.report_bucket.grant_read(self._principal)
        record = sfn.Pass(
            self,
            "RecordReportLocation",
            parameters={
                "uri.$": f"States.Format('s3://{evaluation.report_bucket.bucket_name}/{{}}', "
                f"{evaluation.report_key_path})"
            },
            result_path="$.evaluation.report",
        )
        return tail.next(read_report).next(record)

    def _gate_condition(self, evaluation: EvaluationStage) -> sfn.Condition:
        """Every metric present, numeric, and on the right side of its threshold (from config, not from the job)."""
        conditions = []
        for metric, threshold in sorted(evaluation.thresholds.items()):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", metric):
                raise ValueError(f"metric name {metric!r} cannot be addressed in the gate; use letters, digits and _")
            direction = evaluation.directions.get(metric)
            if direction not in ("min", "max"):
                raise ValueError(f"metric {metric!r} has direction {direction!r}; expected 'min' or 'max'")
            score = f"$.evaluation.result.report.metrics.{metric}.score"
            compare = (
                sfn.Condition.number_greater_than_equals
                if direction == "min"
                else sfn.Condition.number_less_than_equals
            )
            conditions += [
                sfn.Condition.is_present(score),
                sfn.Condition.is_numeric(score),
                compare(score, float(threshold)),
            ]
        if not conditions:
            raise ValueError("the evaluation stage names no thresholds: the gate would approve every model")
        return sfn.Condition.and_(*conditions)

    def _deploy(self, serving: ServingTarget, done: sfn.IChainable) -> sfn.IChainable:
        config = self._task(
            "CreateLiveEndpointConfig",
            "createEndpointConfig",
            release.endpoint_config_request(
                serving=serving,
                candidate=False,
                config_name_path="$.candidate.live_config_name",
                model_name_path="$.candidate.model_name",
            ),
            result_path=sfn.JsonPath.DISCARD,
            retry=SAGEMAKER_TRANSIENT,
        )
        update = self._task(
            "UpdateLiveEndpoint",
            "updateEndpoint",
            release.update_endpoint_request(serving=serving, config_name_path="$.candidate.live_config_name"),
            result_path=sfn.JsonPath.DISCARD,
            retry=SAGEMAKER_TRANSIENT,
        )
        deployed = self._notify("NotifyDeployed", "DEPLOYED").next(done)
        waiting = self._wait_in_service(
            "Live",
            release.describe_endpoint_request(endpoint_name=serving.endpoint_name),
            done=deployed,
            config_name_path="$.candidate.live_config_name",
            on_error=self._notify_failure,
        )
        config.next(update).next(waiting)
        return config

    # ---- permissions ----------------------------------------------------------------------------------------------
    def _grant(self, stack: cdk.Stack, key: kms.IKey) -> None:
        def arn(resource: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name="*")

        resources = [
            arn(r)
            for r in (
                "training-job",
                "processing-job",
                "model",
                "endpoint",
                "endpoint-config",
                "model-package",
                "model-package-group",
            )
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=sorted({f"sagemaker:{a}" for a in self._sagemaker_actions} | {"sagemaker:AddTags"}),
                resources=resources,
            )
        )
        # .sync integrations watch the jobs through these managed EventBridge rules.
        rules = [
            stack.format_arn(service="events", resource="rule", resource_name=f"StepFunctionsGetEventsFor{rule}")
            for action, rule in SYNC_RULES.items()
            if action in self._sync_actions
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"], resources=rules)
        )
        for role in self._passed_roles:
            role.grant_pass_role(self.role)
        # SageMaker creates grants on the platform key for encrypted job outputs and endpoint volumes.
        for statement in key_grants_for_sagemaker(key.key_arn):
            self.role.add_to_policy(statement)
