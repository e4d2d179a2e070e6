"""The Hub -> S3 staging stage as infrastructure: the staging jobs' own role, and a Step Functions workflow that copies
each staged model's pinned Hub snapshot into the models-bucket prefix its profile serves from.

The workflow runs one CreateProcessingJob (`.sync`) per model, each the full request of
`sagemaker_requests.hub_staging`, in order; a run stages every model (`{"model": "all"}`, the default) or the one named.
Transient SageMaker errors are retried, every other failure ends the run as failed with the error in its output, and
every state is logged to an encrypted log group with X-Ray tracing, as in the compile workflow. A run's output carries
each model's job and the S3 prefix it wrote. The per-model shape is `per_model_jobs`, shared with the compile workflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_constructs.per_model_jobs import PROCESSING_JOB, per_model_job_workflow
from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from sagemaker_requests.hub_staging import JOB_PREFIX

# SageMaker names the log group of every processing job; the stack never creates it.
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
# A secret's ARN ends in '-' and six random characters that a name does not carry (Secrets Manager user guide,
# "Secret ARN"; aws-cdk-lib's Secret.fromSecretNameV2 grants the same pattern).
SECRET_SUFFIX = "-??????"


def secret_arns(stack: cdk.Stack, secret: str) -> list[str]:
    """The ARNs GetSecretValue on `secret` (a name or an ARN, as the profile gives it) is called on: a name or a
    partial ARN matches the secret's full ARN only with the random suffix; a complete ARN matches itself."""
    if secret.startswith("arn:"):
        return [secret, f"{secret}{SECRET_SUFFIX}"]
    return [
        stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{secret}{SECRET_SUFFIX}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
    ]


class HubStagingJobRole(Construct):
    """The execution role of staging jobs (a `SageMakerExecutionRole`): write only the staged prefixes of the models
    bucket, encrypt with the platform key, read the staging script's one object, read the given token secrets, pull
    the staging image, write the jobs' logs and metrics. No reads of the models bucket, no VPC, nothing else: the job
    reaches the internet, so its role reaches almost nothing of the platform.

    Args:
        models_bucket: the platform's models bucket.
        staged_prefixes: the exact source prefixes the jobs write (`bge-base-en-v1.5/`, ...).
        key: the platform key (the jobs' volumes and uploads are encrypted with it).
        image_repository_arns: the staging image's ECR repository.
        code_bucket: the bucket of the staging script's asset (CDK's assets bucket).
        code_key: the script's object key.
        token_secrets: the Hub token secrets (names or ARNs) the jobs read at run time. Default: none.

    Attributes:
        execution: the `SageMakerExecutionRole` (its managed policy holds every statement).
        role: the role the staging jobs run as (`RoleArn` of the request; passed by the workflow).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        models_bucket: s3.IBucket,
        staged_prefixes: Sequence[str],
        key: kms.IKey,
        image_repository_arns: Sequence[str],
        code_bucket: s3.IBucket,
        code_key: str,
        token_secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if not staged_prefixes:
            raise ValueError("a staging role needs at least one prefix to write")
        stack = cdk.Stack.of(self)
        self.execution = SageMakerExecutionRole(
            self,
            "Execution",
            description="Hub staging jobs: write a pinned Hugging Face Hub snapshot into its models-bucket prefix",
            log_groups=[f"{PROCESSING_LOG_GROUP}:*"],
            metric_namespaces=["/aws/sagemaker/*"],
            image_repository_arns=image_repository_arns,
        )
        self.role = self.execution.role
        self.execution.grant_write(models_bucket, *sorted(set(staged_prefixes)), label="models (staged snapshots)")
        # Uploads with SSE-KMS: GenerateDataKey to write, Decrypt to complete a multipart upload.
        self.execution.grant_key(key)
        # The script is a ProcessingInput of type S3Prefix (CreateProcessingJob has no single-object type): SageMaker
        # lists the prefix, which is the object's own key, then gets the object.
        self.execution.grant_object(code_bucket, code_key)
        self.execution.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[code_bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": code_key}},
            )
        )
        arns = sorted({arn for secret in token_secrets for arn in secret_arns(stack, secret)}, key=str)
        if arns:
            self.execution.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=arns))


class HubStagingWorkflow(Construct):
    """Stage each model of `requests` in order; a run stages all (`{"model": "all"}`, default) or the one named.

    Args:
        requests: model key -> the CreateProcessingJob request of its staging job (`sagemaker_requests.hub_staging`).
        staged_s3_uris: model key -> the prefix its job writes (its source's `prefix`), recorded by each run as
            `staged.<key>.prefix`.
        job_role: the role the staging jobs run as (passed to SageMaker).
        key: the platform key (log group; SageMaker creates grants on it for the jobs' encrypted volumes and outputs).
        log_retention: of the workflow's log group.
        timeout: of a whole execution.

    Attributes:
        state_machine: the workflow.
        role: the role the workflow runs as.
        log_group: every state's input and output, KMS-encrypted.
        requests: each Task state's (operation, parameters) as written into the definition.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        requests: Mapping[str, Mapping[str, Any]],
        staged_s3_uris: Mapping[str, str],
        job_role: iam.IRole,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        timeout: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        if not requests:
            raise ValueError("a staging workflow needs at least one model to stage")
        failed = sfn.Fail(
            self, "StagingFailed", error="StagingFailed", cause="A staging job failed; the run's output has the error"
        )
        workflow = per_model_job_workflow(
            self,
            requests=requests,
            records={k: {"prefix": staged_s3_uris[k]} for k in requests},
            job=PROCESSING_JOB,
            job_name_prefix=f"{JOB_PREFIX}-",  # every request names its job `hub-stage-<uuid>`
            jobs_named="Staging jobs",
            state_prefix="Stage",
            output="staged",
            role_description="Runs the Hub staging workflow",
            job_role=job_role,
            key=key,
            failure=failed,
            success=sfn.Succeed(self, "StagingSucceeded"),
            log_retention=log_retention,
            timeout=timeout,
            comment="Hub staging: copy each model's pinned Hugging Face Hub snapshot into its models-bucket prefix",
        )
        self.role, self.state_machine, self.log_group = workflow.role, workflow.state_machine, workflow.log_group
        self.requests = workflow.requests
