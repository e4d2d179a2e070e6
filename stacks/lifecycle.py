"""Trainium training and the foundation-model lifecycle workflow that runs it: the training jobs' role and code, the
model registry, the notification topic, and the Step Functions workflow.

It receives the platform, and optionally the inference stack's serving target (deploy step) and the evaluation
stack's evaluation stage (gate); without them the workflow skips those stages.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_constructs.candidate_cleanup import CandidateCleanup
from cdk_constructs.compile_workflow import CompileJobRole
from cdk_constructs.handoffs import EvaluationStage, Platform, ServingTarget
from cdk_constructs.inference_role import LOG_GROUPS, METRIC_NAMESPACES
from cdk_constructs.lifecycle_workflow import LifecycleWorkflow, endpoint_wait_budget
from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from cdk_constructs.source_archive import SourceArchive
from compliance.packs import acknowledge_in_hipaa_and_nist
from config import AppConfig
from config.training import TRAINING_SOURCE_DIR, TrainingJobConfig
from neuron.compilation import CompilePlan, compile_plan, needs_compile_stage
from neuron.images import container, dlc_account, image_uri
from sagemaker_requests.compile_job import RETRY_ATTEMPTS, CompileJobTargets, compile_job_request
from sagemaker_requests.shapes import CreateTrainingJobRequest
from sagemaker_requests.storage_layout import TRAINING_OUTPUT_PREFIX, compiled_prefix
from sagemaker_requests.training_job import TrainingJobTargets, training_job_request

# Evaluation, registration and the two endpoint roll-outs, on top of the training jobs' own limits.
WORKFLOW_MARGIN_SECONDS = 12 * 3600
# SageMaker creates this group on an account's first training job; the stack never does (a fixed name would collide
# with it, with a retained copy after a stack delete, and with other profiles in the account).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
DEPLOY_DRIFT_NOTE = (
    "A lifecycle deploy replaces the endpoint's config outside CloudFormation: a later cdk deploy that changes the "
    "inference stack's endpoint config puts the profile's own model back. To keep a fine-tuned model, point the "
    f"profile's model source at its artifacts ({TRAINING_OUTPUT_PREFIX}<job>/output/model/) and deploy the inference "
    "stack"
)
# Compiled artifacts of the lifecycle's candidates: compiled/lifecycle/compile-<run id>/output/model/.
COMPILE_OWNER = "lifecycle"


class LifecycleStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        platform: Platform,
        serving: ServingTarget | None = None,
        evaluation: EvaluationStage | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Neuron GenAI: Trainium training and the foundation-model lifecycle workflow",
            **kwargs,
        )
        settings = config.lifecycle
        buckets = platform.buckets
        jobs = {"pretrain": settings.pretrain, "fine-tune": settings.fine_tune}

        self.code = SourceArchive(self, "TrainingCode", source=TRAINING_SOURCE_DIR)
        self.training = self._training_role(config, platform, [j for j in jobs.values() if j])
        self.training_role = self.training.role
        # The candidate endpoint loads a TGI / vLLM / LMI model only compiled (neuron/compilation.py).
        compiles = serving is not None and serving.server is not None and needs_compile_stage(serving.server)
        self.model_role = self._model_role(platform, serving, compiled=compiles) if serving is not None else None

        subnets = platform.vpc.select_subnets(subnet_type=platform.subnets.subnet_type).subnet_ids
        output = f"s3://{buckets.models.bucket_name}/{TRAINING_OUTPUT_PREFIX}"

        def request(
            stage: str, job: TrainingJobConfig, model_path: str, teacher_path: str | None
        ) -> CreateTrainingJobRequest:
            groups = [platform.workload_security_group.security_group_id]
            if job.attach_efa_security_group:
                groups.append(platform.efa_security_group.security_group_id)
            targets = TrainingJobTargets(
                image_uri=image_uri(job.container, config.region, job.instance_type),
                role_arn=self.training_role.role_arn,
                key_arn=platform.key.key_arn,
                region=config.region,
                datasets_bucket=buckets.datasets.bucket_name,
                output_s3_uri=output.rstrip("/"),
                checkpoints_bucket=buckets.checkpoints.bucket_name,
                code_s3_uri=self.code.asset.s3_object_url,
                code_file_name=self.code.file_name,
                subnet_ids=subnets,
                security_group_ids=groups,
            )
            return training_job_request(
                stage=stage,
                job=job,
                targets=targets,
                run_id_path="$.run.id",
                model_s3_uri_path=model_path,
                teacher_s3_uri_path=teacher_path,
            )

        self.requests = {
            "fine-tune": request(
                "fine-tune",
                settings.fine_tune,
                "$.model_source.s3_uri",
                "$.run.options.teacher_model_s3_uri" if settings.distillation_teacher_prefix else None,
            )
        }
        if settings.pretrain:
            self.requests["pretrain"] = request("pretrain", settings.pretrain, "$.model_source.s3_uri", None)

        group_name = config.model_package_group_name  # its length is a config rule
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=group_name,
            model_package_group_description=f"Foundation models trained by the {config.profile} lifecycle workflow",
        )
        if config.platform.retain_data:
            # The registry is data: it outlives the stack like the buckets that hold the models it names.
            self.model_package_group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.topic = sns.Topic(
            self, "Notifications", master_key=platform.key, enforce_ssl=True, display_name="Foundation-model lifecycle"
        )
        for email in settings.notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        deploys = serving is not None and settings.deploy
        defaults: dict[str, object] = {
            "base_model_s3_uri": f"s3://{buckets.models.bucket_name}/{settings.base_model_prefix}",
        }
        if deploys:
            defaults["deploy"] = True
        if settings.pretrain:
            defaults["pretrain"] = True
        if settings.distillation_teacher_prefix:
            defaults["teacher_model_s3_uri"] = (
                f"s3://{buckets.models.bucket_name}/{settings.distillation_teacher_prefix}"
            )
        if evaluation is not None and serving is None:
            defaults["evaluation_endpoint_name"] = ""
        if serving is not None:
            package_image, package_env = serving.image_uri, dict(serving.environment)
            package_type = str(serving.production_variant.get("InstanceType", settings.package_instance_type))
        else:
            package_type = settings.package_instance_type
            package_image = image_uri(settings.package_container, config.region, package_type)
            package_env = {}

        self.compile_plan: CompilePlan | None = None
        self.compile_request: CreateTrainingJobRequest | None = None
        self.compile_role: CompileJobRole | None = None
        compile_output = f"s3://{buckets.models.bucket_name}/{compiled_prefix(COMPILE_OWNER)}".rstrip("/")
        if compiles:
            assert serving is not None and serving.server is not None
            assert serving.shape is not None and serving.architecture is not None
            # The candidate endpoint loads a TGI / vLLM / LMI model only compiled (neuron/compilation.py): export the
            # trained model with the serving image in the served shape, then CreateModel names the artifacts.
            self.compile_plan = compile_plan(serving.server, serving.shape, serving.architecture, where=serving.setting)
            self.compile_role = CompileJobRole(
                self,
                "CompileJobs",
                models_bucket=buckets.models,
                read_prefixes=[TRAINING_OUTPUT_PREFIX],
                write_prefixes=[compiled_prefix(COMPILE_OWNER)],
                key=platform.key,
                image_repository_arns=[
                    self.format_arn(
                        service="ecr",
                        account=dlc_account(config.region),
                        resource="repository",
                        resource_name=container(serving.server).repository,
                    )
                ],
            )
            self.compile_request = compile_job_request(
                plan=self.compile_plan,
                targets=CompileJobTargets(
                    image_uri=serving.image_uri,
                    role_arn=self.compile_role.role.role_arn,
                    key_arn=platform.key.key_arn,
                    output_s3_uri=compile_output,
                    subnet_ids=subnets,
                    security_group_ids=[platform.workload_security_group.security_group_id],
                ),
                job_name_path="States.Format('compile-{}', $.run.id)",
                model_s3_uri_path="$.candidate.trained_s3_uri",
                tag_paths={"lifecycle-run": "$.run.id"},
                tags={"lifecycle-stage": "compile"},
            )

        attempts = sum(j.longest_seconds * j.retry_attempts for j in jobs.values() if j)
        if self.compile_plan is not None:
            attempts += self.compile_plan.max_runtime_seconds * (RETRY_ATTEMPTS + 1)
        self.workflow = LifecycleWorkflow(
            self,
            "Workflow",
            fine_tune_request=self.requests["fine-tune"],
            pretrain_request=self.requests.get("pretrain"),
            training_role=self.training_role,
            model_role=self.model_role.role if self.model_role is not None else None,
            training_output_s3_uri=output,
            compile_request=self.compile_request,
            compile_role=self.compile_role.role if self.compile_role else None,
            compile_output_s3_uri=compile_output,
            run_defaults=defaults,
            model_package_group_name=group_name,
            model_package_group_arn=self.model_package_group.attr_model_package_group_arn,
            package_image_uri=package_image,
            package_environment=package_env,
            package_instance_type=package_type,
            auto_approve=settings.approval == "auto",
            evaluation=evaluation,
            serving=serving,
            deploy=deploys,
            topic=self.topic,
            key=platform.key,
            log_retention=platform.log_retention,
            timeout=cdk.Duration.seconds(attempts + WORKFLOW_MARGIN_SECONDS),
            poll_interval=cdk.Duration.seconds(settings.endpoint_poll_seconds),
        )
        self.workflow.node.add_dependency(self.model_package_group)
        self.state_machine = self.workflow.state_machine
        acknowledge_in_hipaa_and_nist(
            self.workflow.role,
            "The workflow role's grants are specific to this state machine and not reusable",
            "IAMNoInlinePolicy",
        )
        # A run that hosts a candidate endpoint (a serving target and an evaluation stage) may leave it running when
        # it times out, is stopped or fails: the clean-up deletes it (and its config and model).
        self.candidate_cleanup: CandidateCleanup | None = None
        if self.workflow.hosts_candidate and serving is not None:
            self.candidate_cleanup = CandidateCleanup(
                self,
                "CandidateCleanup",
                lifecycle=self.state_machine,
                topic=self.topic,
                key=platform.key,
                log_retention=platform.log_retention,
                max_busy_seconds=endpoint_wait_budget(serving, live=False),
                poll_interval=cdk.Duration.seconds(settings.endpoint_poll_seconds),
            )

        cdk.CfnOutput(
            self,
            "LifecycleStateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="Start a run: aws stepfunctions start-execution --state-machine-arn <this> "
            "--input '{}' (see the README for the input)",
        )
        cdk.CfnOutput(self, "ModelPackageGroupName", value=group_name)
        cdk.CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn)
        cdk.CfnOutput(self, "TrainingRoleArn", value=self.training_role.role_arn)
        if deploys and serving is not None:
            # The value is the endpoint a deploy changes; the description says what that means for `cdk deploy`.
            cdk.CfnOutput(self, "DeployDriftNote", value=serving.endpoint_name, description=DEPLOY_DRIFT_NOTE)

    def _model_role(self, platform: Platform, serving: ServingTarget, *, compiled: bool) -> SageMakerExecutionRole:
        """The role the workflow's models (candidate and deployed) run as: their own, never the inference stack's.

        It reads only what the model loads (the compile job's output under compiled/lifecycle/, or what the
        fine-tune wrote under training-output/ for a server that compiles at load), pulls only the serving image,
        writes the live endpoint's captured data when capture is on, and runs in the VPC (CreateModel always sends
        a VpcConfig).
        """
        execution = SageMakerExecutionRole(
            self,
            "ModelRole",
            description="Models created by the lifecycle workflow (candidate and deployed)",
            log_groups=LOG_GROUPS,
            metric_namespaces=METRIC_NAMESPACES,
            image_repository_arns=[serving.image_repository_arn],
            in_vpc=True,
        )
        if compiled:
            execution.grant_read(platform.buckets.models, compiled_prefix(COMPILE_OWNER), label="models (compiled)")
        else:
            execution.grant_read(platform.buckets.models, TRAINING_OUTPUT_PREFIX, label="models (training output)")
        if serving.capture_prefix is not None:
            execution.grant_write(platform.buckets.data_capture, serving.capture_prefix, label="data-capture")
        execution.grant_key(platform.key, encrypt=serving.capture_prefix is not None)
        return execution

    def _training_role(
        self, config: AppConfig, platform: Platform, jobs: list[TrainingJobConfig]
    ) -> SageMakerExecutionRole:
        """What a training job needs and nothing else: its data, its base and teacher models, its outputs, its code
        object, its image, its logs, its network."""
        buckets, settings = platform.buckets, config.lifecycle
        account = dlc_account(config.region)
        execution = SageMakerExecutionRole(
            self,
            "TrainingRole",
            description="Trainium training jobs of the lifecycle workflow",
            log_groups=[f"{TRAINING_LOG_GROUP}:*"],
            metric_namespaces=["/aws/sagemaker/*"],
            image_repository_arns=[
                self.format_arn(service="ecr", account=account, resource="repository", resource_name=r)
                for r in sorted({container(j.container).repository for j in jobs})
            ],
            in_vpc=True,
        )
        execution.grant_read(buckets.datasets, label="datasets")
        # The fine-tune starts from the base model, or from the pre-training's output (under training-output/).
        reads = [settings.base_model_prefix, settings.distillation_teacher_prefix]
        execution.grant_read(buckets.models, *sorted(p for p in reads if p), label="models (base and teacher)")
        if settings.pretrain is not None:  # the fine-tune reads what the pre-training wrote
            execution.grant_read_write(buckets.models, TRAINING_OUTPUT_PREFIX, label="models (training output)")
        else:
            execution.grant_write(buckets.models, TRAINING_OUTPUT_PREFIX, label="models (training output)")
        execution.grant_read_write(buckets.checkpoints, label="checkpoints (checkpoints and compile cache)")
        execution.grant_object(self.code.asset.bucket, self.code.asset.s3_object_key)
        execution.grant_key(platform.key)
        return execution
