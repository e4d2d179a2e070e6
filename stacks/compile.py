"""The stand-alone Neuron compile workflow: a profile's own S3 models exported, each by its serving image, into the
compiled artifacts its endpoint loads.

Its own stack, receiving only the platform: the artifacts must exist before the inference stack's endpoint can start
(TGI and vLLM never compile at start-up), so this stack deploys, and its workflow runs, before the inference stack;
in the lifecycle stack it would wait for the inference stack it hands a model to. Built when the profile serves at
least one model from an S3 prefix on a server that takes a compile stage.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_constructs.compile_workflow import CompileJobRole, CompileWorkflow
from cdk_constructs.handoffs import Platform
from cdk_constructs.served_model import serving_shape
from config import AppConfig
from config.inference import InferenceConfig, ModelConfig, S3PrefixSource
from neuron.compilation import CHECKPOINT_DIR, CompilePlan, compile_plan, needs_compile_stage
from neuron.images import container, dlc_account, image_uri
from neuron.planning import plan
from neuron.serving import MODEL_DIR
from sagemaker_requests.compile_job import RETRY_ATTEMPTS, CompileJobTargets, compile_job_request
from sagemaker_requests.storage_layout import COMPILE_JOBS_PREFIX, compiled_prefix

MARGIN_SECONDS = 3600


def artifacts_prefix(key: str, model: ModelConfig) -> str:
    """Where the workflow writes a model's export: its `compiled_artifacts` (what the endpoint loads), else the
    default `compiled/<key>/` to set it to."""
    return model.compiled_artifacts or compiled_prefix(key)


def compilable_models(inference: InferenceConfig | None) -> dict[str, ModelConfig]:
    """The models the workflow compiles: an uncompressed S3 source (a training channel cannot unpack a tarball; a
    Hub model is not the profile's own) on a server that takes a compile stage."""
    if inference is None:
        return {}
    return {
        key: model
        for key, model in inference.models.items()
        if isinstance(model.source, S3PrefixSource) and needs_compile_stage(model.server)
    }


class CompileStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, platform: Platform, **kwargs: Any
    ) -> None:
        inference = config.inference
        models = compilable_models(inference)
        if inference is None or not models:
            raise ValueError("CompileStack needs inference models with an S3 prefix source on a compiled server")
        plans = plan(inference)  # the same pre-flight (and serving shapes) the inference stack builds from
        compiles: dict[str, CompilePlan] = {
            key: compile_plan(
                model.server,
                serving_shape(plans[key], model_location=MODEL_DIR),
                plans[key].arch,
                where=f"inference.models.{key}",
                output_dir=CHECKPOINT_DIR,  # synced to the exact compiled_artifacts prefix
            )
            for key, model in models.items()
        }
        super().__init__(
            scope,
            construct_id,
            description="Neuron GenAI: compile (export) of the profile's S3 models for their serving containers",
            **kwargs,
        )
        buckets = platform.buckets
        region = config.region
        self.job_role = CompileJobRole(
            self,
            "CompileJobs",
            models_bucket=buckets.models,
            read_prefixes=[m.source.prefix for m in models.values() if isinstance(m.source, S3PrefixSource)],
            write_prefixes=[COMPILE_JOBS_PREFIX],
            synced_prefixes=[artifacts_prefix(key, model) for key, model in models.items()],
            key=platform.key,
            image_repository_arns=[
                self.format_arn(
                    service="ecr",
                    account=dlc_account(region),
                    resource="repository",
                    resource_name=container(m.server).repository,
                )
                for m in models.values()
            ],
        )
        subnets = platform.vpc.select_subnets(subnet_type=platform.subnets.subnet_type).subnet_ids
        self.requests: dict[str, dict[str, Any]] = {}
        self.artifacts_s3_uris: dict[str, str] = {}
        jobs_output = f"s3://{buckets.models.bucket_name}/{COMPILE_JOBS_PREFIX}".rstrip("/")
        for key, model in models.items():
            assert isinstance(model.source, S3PrefixSource)
            artifacts = f"s3://{buckets.models.bucket_name}/{artifacts_prefix(key, model)}"
            self.artifacts_s3_uris[key] = artifacts
            self.requests[key] = dict(
                compile_job_request(
                    plan=compiles[key],
                    targets=CompileJobTargets(
                        # The very image URI the inference stack serves this model with.
                        image_uri=image_uri(model.server, region, inference.instance_type),
                        role_arn=self.job_role.role.role_arn,
                        key_arn=platform.key.key_arn,
                        output_s3_uri=jobs_output,
                        subnet_ids=subnets,
                        security_group_ids=[platform.workload_security_group.security_group_id],
                    ),
                    job_name_path="States.Format('compile-{}', States.UUID())",
                    model_s3_uri=f"s3://{buckets.models.bucket_name}/{model.source.prefix}",
                    tags={"model": key, "profile": config.profile},
                    artifacts_s3_uri=artifacts,
                )
            )
        self.compile_plans = compiles

        self.topic = sns.Topic(
            self, "Notifications", master_key=platform.key, enforce_ssl=True, display_name="Neuron compile"
        )
        for email in config.lifecycle.notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        longest = sum(p.max_runtime_seconds * (RETRY_ATTEMPTS + 1) for p in compiles.values())
        self.workflow = CompileWorkflow(
            self,
            "Workflow",
            requests=self.requests,
            artifacts_s3_uris=self.artifacts_s3_uris,
            job_role=self.job_role.role,
            topic=self.topic,
            key=platform.key,
            log_retention=platform.log_retention,
            timeout=cdk.Duration.seconds(longest + MARGIN_SECONDS),
        )
        self.state_machine = self.workflow.state_machine

        cdk.CfnOutput(
            self,
            "CompileStateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="Compile the profile's S3 models: neuronctl run start compile [--param model=<key>] "
            "(see docs/compile.md)",
        )
        cdk.CfnOutput(self, "CompileNotificationTopicArn", value=self.topic.topic_arn)
        cdk.CfnOutput(
            self,
            "CompiledArtifacts",
            value=", ".join(f"{key}: {artifacts_prefix(key, model)}" for key, model in models.items()),
            description="Where each model's export lands (models bucket): its compiled_artifacts, which the "
            "inference stack loads",
        )
