"""The Hub -> S3 staging workflow: each model whose `s3-prefix` source names `from_hub` gets its pinned Hugging Face Hub
snapshot copied into that prefix of the models bucket, so the inference stack serves it network-isolated in the VPC.

Its own stack, receiving only the platform: the files must exist before the compile workflow exports them and before
the endpoint loads them, so this stack deploys, and its workflow runs, first (docs/inference.md "Staging a Hub
model"). The staging jobs are the one place the platform reaches the Hub: outside the VPC (the subnets have no route to
the internet), with a role that can write only the staged prefixes and read only the token secret named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk_constructs.handoffs import Platform
from cdk_constructs.hub_staging import HubStagingJobRole, HubStagingWorkflow
from config import AppConfig
from config.inference import HubStaging, InferenceConfig, S3PrefixSource
from neuron.catalog import HUB_STAGING_IMAGE_REPOSITORY
from neuron.images import dlc_account, hub_staging_image_uri
from sagemaker_requests.hub_staging import StagingTargets, staging_request

STAGING_SCRIPT = Path(__file__).resolve().parent.parent / "staging" / "stage_hub_snapshot.py"
MARGIN_SECONDS = 3600


def staged_models(inference: InferenceConfig | None) -> dict[str, tuple[S3PrefixSource, HubStaging]]:
    """model key -> (its S3 source, where the source's files come from), for every source with `from_hub`."""
    if inference is None:
        return {}
    return {
        key: (model.source, model.source.from_hub)
        for key, model in inference.models.items()
        if isinstance(model.source, S3PrefixSource) and model.source.from_hub is not None
    }


class HubStagingStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, platform: Platform, **kwargs: Any
    ) -> None:
        inference = config.inference
        staged = staged_models(inference)
        if inference is None or not staged:
            raise ValueError("HubStagingStack needs inference models with an s3-prefix source that sets from_hub")
        region = config.region
        image = hub_staging_image_uri(region)  # refuses a region the image is not published in, before any resource
        super().__init__(
            scope,
            construct_id,
            description="Neuron GenAI: Hub -> S3 staging of pinned Hugging Face snapshots into the models bucket",
            **kwargs,
        )
        bucket = platform.buckets.models
        self.code = s3_assets.Asset(self, "Code", path=str(STAGING_SCRIPT))
        self.job_role = HubStagingJobRole(
            self,
            "StagingJobs",
            models_bucket=bucket,
            staged_prefixes=[source.prefix for source, _ in staged.values()],
            key=platform.key,
            image_repository_arns=[
                self.format_arn(
                    service="ecr",
                    account=dlc_account(region),
                    resource="repository",
                    resource_name=HUB_STAGING_IMAGE_REPOSITORY,
                )
            ],
            code_bucket=self.code.bucket,
            code_key=self.code.s3_object_key,
            token_secrets=sorted({s.token_secret for _, s in staged.values() if s.token_secret}),
        )
        self.staged_s3_uris = {key: f"s3://{bucket.bucket_name}/{source.prefix}" for key, (source, _) in staged.items()}
        self.requests = {
            key: dict(
                staging_request(
                    staging=snapshot,
                    targets=StagingTargets(
                        image_uri=image,
                        role_arn=self.job_role.role.role_arn,
                        key_arn=platform.key.key_arn,
                        code_s3_uri=self.code.s3_object_url,
                        code_file_name=self.code.s3_object_key.rsplit("/", 1)[-1],
                        output_s3_uri=self.staged_s3_uris[key],
                        region=region,
                    ),
                    parameters=inference.models[key].arch.parameters,
                    where=f"inference.models.{key}.source.from_hub",
                    tags={"model": key, "profile": config.profile},
                )
            )
            for key, (_, snapshot) in staged.items()
        }
        longest = sum(snapshot.max_runtime_seconds for _, snapshot in staged.values())
        self.workflow = HubStagingWorkflow(
            self,
            "Workflow",
            requests=self.requests,
            staged_s3_uris=self.staged_s3_uris,
            job_role=self.job_role.role,
            key=platform.key,
            log_retention=platform.log_retention,
            timeout=cdk.Duration.seconds(longest + MARGIN_SECONDS),
        )
        self.state_machine = self.workflow.state_machine
        cdk.CfnOutput(
            self,
            "StagingStateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="Stage the profile's Hub snapshots into S3: neuronctl run start stage [--param model=<key>] "
            "(see docs/inference.md)",
        )
        cdk.CfnOutput(
            self,
            "StagedSnapshots",
            value=", ".join(
                f"{key}: {s.model_id}@{s.pinned_revision} -> {source.prefix}" for key, (source, s) in staged.items()
            ),
            description="What each run copies from the Hugging Face Hub, and where in the models bucket",
        )
