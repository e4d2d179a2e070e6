"""The foundation-model lifecycle as one Step Functions standard workflow:

prepare -> [pre-train] -> fine-tune -> [Neuron compile] -> [candidate model + endpoint]
-> [evaluation jobs -> report -> gate] -> register model package -> [deploy to the live endpoint, wait for InService]
-> notify.

Every SageMaker call is a Task whose parameters are a full API request (built in `sagemaker_requests.training_job`,
`sagemaker_requests.compile_job` and `sagemaker_requests.release`); `cdk_constructs.sagemaker_tasks` gives each the
shared retry policy and a catch into the failure notification. Every state is logged to an encrypted log group with
X-Ray tracing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_constructs.handoffs import EvaluationStage, ServingTarget
from cdk_constructs.logged_state_machine import logged_state_machine
from cdk_constructs.sagemaker_role import key_grants_for_sagemaker
from cdk_constructs.sagemaker_tasks import (
    IDEMPOTENT,
    S3_TRANSIENT,
    SageMakerTasks,
    notify,
    publish_key_statement,
    state_key,
)
from compliance.wildcards import ExpectedWildcards
from sagemaker_requests import release
from sagemaker_requests.run_names import NAMED_RESOURCES, candidate_names, name_prefix, run_id

# EndpointStatus values (botocore 1.44.8 SageMaker service model: OutOfService, Creating, Updating, SystemUpdating,
# RollingBack, InService, Deleting, Failed, UpdateRollbackFailed). Only these three mean "keep waiting"; every other
# status, listed or added later, ends the wait with an error instead of polling forever.
ENDPOINT_WAITING = ("Creating", "Updating", "SystemUpdating")
# The longest an endpoint may take, on top of its model download and start-up timeouts, before the wait gives up.
ENDPOINT_WAIT_MARGIN_SECONDS = 3600
# A live update keeps the endpoint's blue/green deployment, which SageMaker bounds by its
# MaximumExecutionTimeoutInSeconds (at most 28800 s in the botocore 1.44.8 service model, BlueGreenUpdatePolicy).
BLUE_GREEN_MAX_SECONDS = 28800


def endpoint_wait_budget(serving: ServingTarget, *, live: bool) -> int:
    """How long a wait for InService may take: the variant's model download and start-up timeouts, a margin, and
    for the live endpoint the longest blue/green deployment."""
    variant = serving.production_variant
    startup = int(variant.get("ContainerStartupHealthCheckTimeoutInSeconds", 0))
    download = int(variant.get("ModelDataDownloadTimeoutInSeconds", 0))
    return startup + download + ENDPOINT_WAIT_MARGIN_SECONDS + (BLUE_GREEN_MAX_SECONDS if live else 0)


class LifecycleWorkflow(Construct):
    """The lifecycle as one Step Functions standard workflow, started per run with options merged over defaults.

    Args:
        fine_tune_request: the CreateTrainingJob request of the fine-tuning job (`sagemaker_requests.training_job`).
        pretrain_request: the CreateTrainingJob request of continued pre-training; `None` leaves the stage out,
            otherwise it runs when the run's `pretrain` option is true.
        training_role: the role the training jobs run as (passed to SageMaker).
        model_role: the role the workflow's models (candidate and deployed) run as; required with `serving`.
        training_output_s3_uri: the S3 prefix training jobs write under; the model is `<prefix><job>/output/model/`.
        compile_request: the CreateTrainingJob request of the Neuron compile job (`sagemaker_requests.compile_job`)
            that exports the trained model for the serving target's server. Default: None (a server that compiles
            at load, or no serving target: the trained model is served as it is).
        compile_role: the role the compile job runs as (passed to SageMaker); with `compile_request`. Default: None.
        compile_output_s3_uri: the compile job's S3OutputPath; the artifacts are `<uri>/<job>/output/model/`.
            Default: None (with `compile_request`, required).
        run_defaults: the run options a run's input is merged over (`States.JsonMerge`).
        model_package_group_arn: the group's ARN (the role may register versions in this group only).
        model_package_group_name, package_image_uri, package_environment, package_instance_type: where and how the
            trained model is registered (CreateModelPackage).
        auto_approve: register a model that passes the gate as Approved (else PendingManualApproval).
        evaluation: the evaluation jobs and the gate's thresholds; `None` registers every model ungated as
            PendingManualApproval.
        serving: the inference stack's target; with it the candidate is hosted on its own endpoint for evaluation
            and, when `deploy` is true, an approved model is rolled onto the live endpoint.
        deploy: whether an approved model is deployed (needs `serving`; the run's `deploy` option must be true too).
        topic: where every end of a run is announced.
        key: the platform key (log group encryption; SageMaker creates grants on it for job outputs and volumes; the
            topic's encryption: the role may use it through SNS to publish).
        log_retention: of the workflow's log group.
        timeout: of a whole execution.
        poll_interval: between DescribeEndpoint calls while an endpoint is being created or updated.

    Attributes:
        state_machine: the workflow.
        role: the role the workflow runs as.
        log_group: every state's input and output, KMS-encrypted.
        requests: each SageMaker Task's (operation, parameters) as written into the definition.
        hosts_candidate: whether a run creates a candidate endpoint (a serving target and an evaluation stage): what
            `CandidateCleanup` deletes when the run cannot.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fine_tune_request: Mapping[str, Any],
        pretrain_request: Mapping[str, Any] | None,
        training_role: iam.IRole,
        model_role: iam.IRole | None,
        training_output_s3_uri: str,
        run_defaults: Mapping[str, Any],
        model_package_group_name: str,
        model_package_group_arn: str,
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
        compile_request: Mapping[str, Any] | None = None,
        compile_role: iam.IRole | None = None,
        compile_output_s3_uri: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the foundation-model lifecycle workflow",
        )
        self._passed_roles: list[iam.IRole] = [training_role]
        self._model_role = model_role
        self._live_endpoint_arn = serving.endpoint_arn if serving is not None else None
        group = cdk.Fn.select(1, cdk.Fn.split("model-package-group/", model_package_group_arn))
        self._package_arns = [
            model_package_group_arn,
            cdk.Stack.of(self).format_arn(
                service="sagemaker", resource="model-package", resource_name=cdk.Fn.join("", [group, "/*"])
            ),
        ]
        self._report_bucket: s3.IBucket | None = None
        self._report_prefix = ""
        self._topic = topic
        self._poll = poll_interval
        self._training_output = training_output_s3_uri

        self.hosts_candidate = serving is not None and evaluation is not None
        self._notify_failure = self._failure_path()
        self._tasks = SageMakerTasks(self, catch=self._notify_failure, resources_of=self._resources_of)
        self.requests = self._tasks.requests

        start = self._prepare(run_defaults)
        trained = self._training(start, fine_tune_request, pretrain_request)
        candidate = self._candidate(trained, serving, compile_request, compile_role, compile_output_s3_uri)
        gate_outcomes, report_uri_path = self._evaluation_gate(candidate, evaluation, serving, auto_approve)
        register = self._register(
            gate_outcomes,
            group_name=model_package_group_name,
            image_uri=package_image_uri,
            environment=package_environment,
            instance_type=package_instance_type,
            report_uri_path=report_uri_path,
        )
        self._release(register, serving if deploy else None)

        workflow = logged_state_machine(
            self,
            definition=start,
            key=key,
            log_retention=log_retention,
            timeout=timeout,
            role=self.role,
            comment="Foundation-model lifecycle: pre-train, fine-tune, compile, evaluate, gate, register, deploy, "
            "notify",
        )
        self.state_machine, self.log_group = workflow.state_machine, workflow.log_group
        self._grant(key)

    # ---- stages, in the order a run passes them ---------------------------------------------------------------------
    def _failure_path(self) -> sfn.IChainable:
        """Every task's catch lands here. `$.error` is the failure; `$.cleanup_error` a failure of the clean-up after
        it (deleting the candidate endpoint), else "none". The notification carries both: a failed clean-up never
        hides the original error."""
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
        return (
            sfn.Choice(self, "CheckCleanupError")
            .when(sfn.Condition.is_present("$.cleanup_error"), notify_failure)
            .otherwise(no_cleanup_error)
        )

    def _prepare(self, run_defaults: Mapping[str, Any]) -> sfn.Chain:
        """A run id (a hash of the execution's ARN, so the clean-up can compute the run's names from the event of its
        end: `sagemaker_requests.run_names`) and the options (the execution input merged over the defaults)."""
        defaults = sfn.Pass(
            self, "LoadDefaults", result=sfn.Result.from_object(dict(run_defaults)), result_path="$.defaults"
        )
        prepare = sfn.Pass(
            self,
            "PrepareRun",
            parameters={
                "id.$": run_id("$$.Execution.Id"),
                "options.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)",
            },
            result_path="$.run",
        )
        return sfn.Chain.start(defaults).next(prepare)

    def _training(
        self, start: sfn.Chain, fine_tune_request: Mapping[str, Any], pretrain_request: Mapping[str, Any] | None
    ) -> sfn.INextable:
        """[pre-train ->] fine-tune; the fine-tuning job starts from the base model or the pre-trained one."""
        fine_tune = self._tasks.task(
            "FineTune", "createTrainingJob", fine_tune_request, sync=True, result_path="$.fine_tune"
        )
        base_model = sfn.Pass(
            self,
            "StartFromBaseModel",
            parameters={"s3_uri.$": "$.run.options.base_model_s3_uri"},
            result_path="$.model_source",
        )
        if pretrain_request is None:
            start.next(base_model).next(fine_tune)
            return fine_tune
        pretrain = self._tasks.task(
            "PreTrain", "createTrainingJob", pretrain_request, sync=True, result_path="$.pretrain"
        )
        pretrained = sfn.Pass(
            self,
            "StartFromPreTrainedModel",
            parameters={"s3_uri.$": self._model_uri("$.pretrain.TrainingJobName")},
            result_path="$.model_source",
        )
        pretrain.next(pretrained)
        pretrained.next(fine_tune)
        base_model.next(fine_tune)
        start.next(
            sfn.Choice(self, "PreTrainingRequested")
            .when(sfn.Condition.boolean_equals("$.run.options.pretrain", True), pretrain)
            .otherwise(base_model)
        )
        return fine_tune

    def _candidate(
        self,
        trained: sfn.INextable,
        serving: ServingTarget | None,
        compile_request: Mapping[str, Any] | None,
        compile_role: iam.IRole | None,
        compile_output_s3_uri: str | None,
    ) -> sfn.INextable:
        """Name the run's candidate (model, evaluation endpoint, live config), compile it for the serving target's
        server when that server loads only compiled models, and, with a serving target, create the SageMaker model
        from what the server loads (the compiled artifacts, else the fine-tuned weights)."""
        candidate = sfn.Pass(
            self,
            "RecordCandidate",
            parameters={
                "trained_s3_uri.$": self._model_uri("$.fine_tune.TrainingJobName"),
                "model_s3_uri.$": self._model_uri("$.fine_tune.TrainingJobName"),
                **candidate_names("$.run.id"),
            },
            result_path="$.candidate",
        )
        tail: sfn.INextable = trained.next(candidate)
        if compile_request is not None:
            # The serving image's own export of the trained model in the served shape (neuron/compilation.py).
            if compile_role is None or compile_output_s3_uri is None:
                raise ValueError("a compile request needs compile_role and compile_output_s3_uri")
            self._passed_roles.append(compile_role)
            compiled = (
                f"States.Format('{compile_output_s3_uri.rstrip('/')}/{{}}/output/model/', $.compile.TrainingJobName)"
            )
            tail = tail.next(
                self._tasks.task(
                    "CompileForServing",
                    "createTrainingJob",
                    compile_request,
                    sync=True,
                    result_path="$.compile",
                    result_selector={"TrainingJobName.$": "$.TrainingJobName"},
                )
            ).next(
                sfn.Pass(
                    self,
                    "RecordCompiledArtifacts",
                    parameters={
                        "trained_s3_uri.$": "$.candidate.trained_s3_uri",
                        "model_s3_uri.$": compiled,
                        "model_name.$": "$.candidate.model_name",
                        "eval_endpoint_name.$": "$.candidate.eval_endpoint_name",
                        "live_config_name.$": "$.candidate.live_config_name",
                    },
                    result_path="$.candidate",
                )
            )
        if serving is None:
            return tail
        if self._model_role is None:
            raise ValueError("a serving target needs the model role the workflow's models run as")
        self._passed_roles.append(self._model_role)
        return tail.next(
            self._tasks.task(
                "CreateModel",
                "createModel",
                release.create_model_request(
                    serving=serving,
                    execution_role_arn=self._model_role.role_arn,
                    model_name_path="$.candidate.model_name",
                    model_s3_uri_path="$.candidate.model_s3_uri",
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
        )

    def _evaluation_gate(
        self,
        tail: sfn.INextable,
        evaluation: EvaluationStage | None,
        serving: ServingTarget | None,
        auto_approve: bool,
    ) -> tuple[list[sfn.INextable], str | None]:
        """Evaluate the candidate and decide its approval status; returns the states that lead to registration and
        the JSONPath of the report's S3 URI (None without evaluation)."""
        if evaluation is None:
            ungated = sfn.Pass(
                self,
                "NoEvaluationGate",
                result=sfn.Result.from_object({"approval_status": "PendingManualApproval", "gated": False}),
                result_path="$.gate",
            )
            tail.next(ungated)
            return [ungated], None
        self._passed_roles.append(evaluation.role)
        tail = self._evaluation(tail, evaluation, serving)
        approved = sfn.Pass(
            self,
            "GatePassed",
            result=sfn.Result.from_object(
                {
                    # Without a serving target the jobs scored whatever endpoint the run's input named, not this
                    # run's model: a person approves it.
                    "approval_status": "Approved" if auto_approve and serving is not None else "PendingManualApproval",
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
        tail.next(
            sfn.Choice(self, "EvaluationGate").when(self._gate_condition(evaluation), approved).otherwise(rejected)
        )
        return [approved, rejected], "$.evaluation.report.uri"

    def _register(
        self,
        gate_outcomes: Sequence[sfn.INextable],
        *,
        group_name: str,
        image_uri: str,
        environment: Mapping[str, str],
        instance_type: str,
        report_uri_path: str | None,
    ) -> sfn.CustomState:
        """Register the model package with the gate's approval status (and the report as its quality metrics)."""
        register = self._tasks.task(
            "RegisterModelPackage",
            "createModelPackage",
            release.model_package_request(
                group_name=group_name,
                image_uri=image_uri,
                environment=environment,
                instance_type=instance_type,
                model_s3_uri_path="$.candidate.model_s3_uri",
                approval_status_path="$.gate.approval_status",
                report_s3_uri_path=report_uri_path,
                description_path="States.Format('Lifecycle run {} (training job {})', $.run.id, "
                "$.fine_tune.TrainingJobName)",
            ),
            sdk=True,
            result_path="$.registration",
        )
        for state in gate_outcomes:
            state.next(register)
        return register

    def _release(self, register: sfn.CustomState, deploy_to: ServingTarget | None) -> None:
        """Rejected -> notify and fail; Approved (and the run's `deploy` option) with a target -> deploy; else notify
        the registration."""
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
        if deploy_to is not None:
            after_register.when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.gate.approval_status", "Approved"),
                    sfn.Condition.boolean_equals("$.run.options.deploy", True),
                ),
                self._deploy(deploy_to, succeeded),
            )
        register.next(after_register.otherwise(registered))

    # ---- building blocks ----------------------------------------------------------------------------------------
    def _model_uri(self, job_name_path: str) -> str:
        """The intrinsic that formats the model a training job wrote (`<output prefix><job>/output/model/`)."""
        return f"States.Format('{self._training_output}{{}}/output/model/', {job_name_path})"

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
        return notify(
            self,
            name,
            topic=self._topic,
            message=message,
            subject=f"Foundation-model lifecycle: {status}",
            catch=None if error else self._notify_failure,
        )

    def _wait_in_service(
        self,
        prefix: str,
        describe: Mapping[str, Any],
        *,
        done: sfn.IChainable,
        config_name_path: str,
        on_error: sfn.IChainable,
        max_wait_seconds: int,
    ) -> sfn.Pass:
        """Poll DescribeEndpoint until InService on the new config, at most `max_wait_seconds`: a status other than
        the waiting ones (Failed, RollingBack, Deleting, UpdateRollbackFailed, ...), InService on another config (a
        rolled-back deployment) or the end of the budget goes to `on_error`."""
        key = f"$.{state_key(prefix)}"
        polls = f"{key}_polls"
        max_polls = -(-max_wait_seconds // int(self._poll.to_seconds()))
        start = sfn.Pass(self, f"{prefix}StartPolling", result=sfn.Result.from_object({"count": 0}), result_path=polls)
        wait = sfn.Wait(self, f"{prefix}Wait", time=sfn.WaitTime.duration(self._poll))
        count = sfn.Pass(
            self, f"{prefix}CountPoll", parameters={"count.$": f"States.MathAdd({polls}.count, 1)"}, result_path=polls
        )
        check = self._tasks.task(
            f"{prefix}Describe",
            "describeEndpoint",
            describe,
            sdk=True,
            retry=IDEMPOTENT,
            result_path=key,
            catch=on_error,
            result_selector={"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
        )
        not_serving = sfn.Pass(
            self,
            f"{prefix}NotServingNewModel",
            parameters={
                "Error": "EndpointNotInServiceOnNewConfig",
                "Cause.$": f"States.Format('endpoint is {{}} on config {{}} after {{}} polls (at most {max_polls})', "
                f"{key}.status, {key}.config, {polls}.count)",
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
                sfn.Condition.and_(
                    sfn.Condition.or_(*(sfn.Condition.string_equals(status, s) for s in ENDPOINT_WAITING)),
                    sfn.Condition.number_less_than(f"{polls}.count", max_polls),
                ),
                wait,
            )
            .otherwise(not_serving)
        )
        start.next(wait)
        wait.next(check).next(count).next(decide)
        return start

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
            on_error = self._tasks.task(
                "DeleteCandidateAfterFailure",
                "deleteEndpoint",
                release.delete_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
                sdk=True,
                retry=IDEMPOTENT,
                result_path=sfn.JsonPath.DISCARD,
                error_path="$.cleanup_error",
            )
            on_error.next(self._notify_failure)
            config = self._tasks.task(
                "CreateCandidateEndpointConfig",
                "createEndpointConfig",
                release.endpoint_config_request(
                    serving=serving,
                    candidate=True,
                    config_name_path="$.candidate.eval_endpoint_name",
                    model_name_path="$.candidate.model_name",
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
            endpoint = self._tasks.task(
                "CreateCandidateEndpoint",
                "createEndpoint",
                release.create_endpoint_request(
                    endpoint_name_path="$.candidate.eval_endpoint_name",
                    config_name_path="$.candidate.eval_endpoint_name",
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
            waiting = self._wait_in_service(
                "Candidate",
                release.describe_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
                done=jobs_start,
                config_name_path="$.candidate.eval_endpoint_name",
                on_error=on_error,
                max_wait_seconds=endpoint_wait_budget(serving, live=False),
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
                self._tasks.task(
                    name,
                    "createProcessingJob",
                    request,
                    sync=True,
                    result_path=f"$.evaluation.jobs.{state_key(name)}",
                    catch=on_error,
                )
            )
        if serving is not None:
            tail = tail.next(
                self._tasks.task(
                    "DeleteCandidateEndpoint",
                    "deleteEndpoint",
                    release.delete_endpoint_request(endpoint_name_path="$.candidate.eval_endpoint_name"),
                    sdk=True,
                    retry=IDEMPOTENT,
                    result_path=sfn.JsonPath.DISCARD,
                    catch=on_error,
                )
            ).next(
                self._tasks.task(
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
            # Spelt as IAM spells it (CDK derives `s3:getObject` from the SDK call). IAM matches either, but
            # checkov's IAM checks (cloudsplaining 0.7.0, scan/statement_detail.py L62-63) count an action that
            # differs from its CamelCase name as one that takes only '*', so CKV_AWS_108 reports it whatever the
            # resource (tests/test_checkov.py).
            iam_action="s3:GetObject",
            parameters={
                "Bucket": evaluation.report_bucket.bucket_name,
                "Key": sfn.JsonPath.string_at(evaluation.report_key_path),
            },
            iam_resources=[evaluation.report_bucket.arn_for_objects(f"{evaluation.report_prefix}*")],
            result_selector={"report": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.Body"))},
            result_path="$.evaluation.result",
        )
        S3_TRANSIENT.apply(read_report)
        read_report.add_catch(self._notify_failure, errors=["States.ALL"], result_path="$.error")
        self._report_bucket, self._report_prefix = evaluation.report_bucket, evaluation.report_prefix
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
        config = self._tasks.task(
            "CreateLiveEndpointConfig",
            "createEndpointConfig",
            release.endpoint_config_request(
                serving=serving,
                candidate=False,
                config_name_path="$.candidate.live_config_name",
                model_name_path="$.candidate.model_name",
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        update = self._tasks.task(
            "UpdateLiveEndpoint",
            "updateEndpoint",
            release.update_endpoint_request(serving=serving, config_name_path="$.candidate.live_config_name"),
            result_path=sfn.JsonPath.DISCARD,
        )
        deployed = self._notify("NotifyDeployed", "DEPLOYED").next(done)
        waiting = self._wait_in_service(
            "Live",
            release.describe_endpoint_request(endpoint_name=serving.endpoint_name),
            done=deployed,
            config_name_path="$.candidate.live_config_name",
            on_error=self._notify_failure,
            max_wait_seconds=endpoint_wait_budget(serving, live=True),
        )
        config.next(update).next(waiting)
        return config

    # ---- permissions ----------------------------------------------------------------------------------------------
    def _resources_of(self, operation: str, parameters: Mapping[str, Any]) -> list[str]:
        """The ARNs one SageMaker call touches: the names it passes (generated with a fixed prefix, or the live
        endpoint), never a whole resource type."""
        stack = cdk.Stack.of(self)
        if operation == "CreateModelPackage":
            return list(self._package_arns)
        arns = []
        for parameter, resource in NAMED_RESOURCES.items():
            if f"{parameter}.$" in parameters:
                name = f"{name_prefix(parameters[f'{parameter}.$'])}*"
                arns.append(stack.format_arn(service="sagemaker", resource=resource, resource_name=name))
            elif parameter in parameters:
                if resource != "endpoint" or self._live_endpoint_arn is None:
                    raise ValueError(f"{operation}: a fixed {parameter} other than the live endpoint's")
                arns.append(self._live_endpoint_arn)
        if not arns:
            raise ValueError(f"{operation}: no resource name found to scope its permission to")
        return arns

    def _grant(self, key: kms.IKey) -> None:
        """Each SageMaker action on the names it uses, PassRole only to SageMaker for the roles its requests name,
        the key grants SageMaker creates with the caller's credentials; every wildcard named with its reason."""
        stack = cdk.Stack.of(self)
        self.wildcards = ExpectedWildcards.of(self.role.node.find_child("DefaultPolicy"))
        for statement in self._tasks.policy_statements(stack):
            self.role.add_to_policy(statement)
        for resource in sorted({r for rs in self._tasks.resources.values() for r in rs}, key=str):
            if "*" in json.dumps(stack.resolve(resource)):
                self.wildcards.resource(
                    resource,
                    "Names the workflow generates per run (<prefix><run id>) or the versions of this profile's "
                    "model package group: the prefix is fixed, the run id is not known before the run",
                )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=sorted({r.role_arn for r in self._passed_roles}, key=str),
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        if self._report_bucket is not None:
            self.wildcards.resource(
                self._report_bucket.arn_for_objects(f"{self._report_prefix}*"),
                "The evaluation report of a run is read from the reports prefix of the evaluation bucket; its key "
                "holds the execution's name, known only at run time",
            )
            # The report is SSE-KMS encrypted with the platform key.
            self.role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))
        for statement in key_grants_for_sagemaker(key.key_arn):
            self.role.add_to_policy(statement)
        self.role.add_to_policy(publish_key_statement(stack, key.key_arn))  # the topic's key is the platform key
        self.wildcards.resource(
            "*",
            "X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* and CloudWatch Logs' log-delivery actions "
            "(CreateLogDelivery, ...), which CDK adds for tracing and logging, accept only '*'",
        )
