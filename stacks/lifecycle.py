"""Trainium training and the foundation-model lifecycle workflow that runs it: the training jobs' role and code, the
model registry, the notification topic, and the Step Functions workflow.

It receives the platform, and optionally the inference stack's serving target (deploy step) and the evaluation
stack's evaluation stage (gate); without them the workflow skips those stages.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_constructs import sagemaker_role as role_statements
from cdk_constructs.handoffs import EvaluationStage, Platform, ServingTarget
from cdk_constructs.lifecycle_workflow import LifecycleWorkflow
from cdk_constructs.source_archive import SourceArchive
from compliance.packs import acknowledge_in_hipaa_and_nist
from compliance.wildcards import acknowledge_wildcards
from config import AppConfig
from config.training import TRAINING_SOURCE_DIR, TrainingJobConfig
from neuron.images import container, dlc_account, image_uri
from sagemaker_requests.storage_layout import TRAINING_OUTPUT_PREFIX
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
        self.training_role = self._training_role(config, platform, [j for j in jobs.values() if j])

        subnets = platform.vpc.select_subnets(subnet_type=platform.subnets.subnet_type).subnet_ids
        output = f"s3://{buckets.models.bucket_name}/{TRAINING_OUTPUT_PREFIX}"

        def request(stage: str, job: TrainingJobConfig, model_path: str, teacher_path: str | None) -> dict:
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

        attempts = sum(j.longest_seconds * j.retry_attempts for j in jobs.values() if j)
        self.workflow = LifecycleWorkflow(
            self,
            "Workflow",
            fine_tune_request=self.requests["fine-tune"],
            pretrain_request=self.requests.get("pretrain"),
            training_role=self.training_role,
            training_output_s3_uri=output,
            run_defaults=defaults,
            model_package_group_name=group_name,
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
        if serving is not None:
            self.serving_read = self._serving_reads_training_output(platform, serving)
        self.state_machine = self.workflow.state_machine
        acknowledge_wildcards(
            self.workflow.role,
            "Job, model, endpoint and package names are generated per run (a UUID), so the workflow's SageMaker "
            "actions are scoped to this account and region by resource type, not by name; the report read is "
            "limited to the evaluation bucket; KMS actions are CDK's grant set on the platform key",
        )
        acknowledge_in_hipaa_and_nist(
            self.workflow.role,
            "The workflow role's grants are specific to this state machine and not reusable",
            "IAMNoInlinePolicy",
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

    def _serving_reads_training_output(self, platform: Platform, serving: ServingTarget) -> iam.ManagedPolicy:
        """The serving role loads the fine-tuned model (CreateModel) from the training output prefix.

        A managed policy in this stack, attached to the inference stack's role: the grant exists exactly as long as
        the workflow that needs it, and the inference stack takes no reference back to this one.
        """
        models = platform.buckets.models
        statements = [
            iam.PolicyStatement(
                sid="ReadTrainedModels",
                actions=["s3:GetObject"],
                resources=[models.arn_for_objects(f"{TRAINING_OUTPUT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="ListTrainedModels",
                actions=["s3:ListBucket"],
                resources=[models.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{TRAINING_OUTPUT_PREFIX}*"]}},
            ),
            iam.PolicyStatement(sid="DecryptTrainedModels", actions=["kms:Decrypt"], resources=[platform.key.key_arn]),
        ]
        policy = iam.ManagedPolicy(
            self,
            "ServingReadsTrainingOutput",
            roles=[serving.execution_role],
            statements=statements,
            description="The serving role reads models trained by the lifecycle workflow",
        )
        acknowledge_wildcards(
            policy,
            f"Trained models are written under {TRAINING_OUTPUT_PREFIX}<job>/ with per-run "
            "job names: reads are limited to that prefix of the models bucket",
        )
        return policy

    def _training_role(self, config: AppConfig, platform: Platform, jobs: list[TrainingJobConfig]) -> iam.Role:
        """What a training job needs and nothing else: its data, its outputs, its image, its logs, its network."""
        buckets = platform.buckets
        role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Trainium training jobs of the lifecycle workflow",
        )
        buckets.datasets.grant_read(role)
        buckets.models.grant_read(role)
        buckets.models.grant_put(role, f"{TRAINING_OUTPUT_PREFIX}*")
        buckets.checkpoints.grant_read_write(role)
        self.code.asset.grant_read(role)
        platform.key.grant_encrypt_decrypt(role)
        repositories = sorted({container(j.container).repository for j in jobs})
        account = dlc_account(config.region)
        role.add_to_policy(
            role_statements.ecr_pull(
                [
                    self.format_arn(service="ecr", account=account, resource="repository", resource_name=r)
                    for r in repositories
                ]
            )
        )
        role.add_to_policy(role_statements.ecr_login())
        role.add_to_policy(role_statements.write_logs(self, [f"{TRAINING_LOG_GROUP}:*"]))
        role.add_to_policy(role_statements.publish_metrics("/aws/sagemaker/*"))
        # Jobs in a VPC: SageMaker creates and removes the jobs' network interfaces with the role's credentials.
        role.add_to_policy(role_statements.vpc_network_interfaces())
        acknowledge_wildcards(
            role,
            "ECR authorization tokens, CloudWatch metrics (limited to SageMaker namespaces) and the network "
            "interfaces SageMaker creates for VPC jobs have no resource-level ARNs; object access is limited to the "
            "platform's buckets, the training-output prefix and the code asset; log streams are per job; the "
            "S3 and KMS action wildcards are CDK's read/write grant sets",
        )
        acknowledge_in_hipaa_and_nist(
            role, "The training role's grants are specific to these jobs", "IAMNoInlinePolicy"
        )
        return role
