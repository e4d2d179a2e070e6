"""The Hub -> S3 staging stage as infrastructure: the staging jobs' own role, and a Step Functions workflow that copies
each staged model's pinned Hub snapshot into the models-bucket prefix its profile serves from.

The workflow runs one CreateProcessingJob (`.sync`) per model, each the full request of
`sagemaker_requests.hub_staging`, in order; a run stages every model (`{"model": "all"}`, the default) or the one named.
Transient SageMaker errors are retried, every other failure ends the run as failed with the error in its output, and
every state is logged to an encrypted log group with X-Ray tracing, as in the compile workflow. A run's output carries
each model's job and the S3 prefix it wrote.
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

from cdk_constructs.logged_state_machine import logged_state_machine
from cdk_constructs.sagemaker_role import SageMakerExecutionRole, key_grants_for_sagemaker
from cdk_constructs.sagemaker_tasks import SageMakerTasks, state_key
from compliance.packs import acknowledge_in_hipaa_and_nist
from compliance.wildcards import ExpectedWildcards
from sagemaker_requests.hub_staging import JOB_PREFIX

# SageMaker names the log group of every processing job; the stack never creates it.
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
ALL_MODELS = "all"
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
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the Hub staging workflow",
        )
        failed = sfn.Fail(
            self, "StagingFailed", error="StagingFailed", cause="A staging job failed; the run's output has the error"
        )
        # Every request names its job `hub-stage-<uuid>`: the role may act on those names only.
        tasks = SageMakerTasks(
            self,
            catch=failed,
            resources_of=lambda _operation, _parameters: [
                stack.format_arn(service="sagemaker", resource="processing-job", resource_name=f"{JOB_PREFIX}-*")
            ],
        )
        succeeded = sfn.Succeed(self, "StagingSucceeded")
        defaults = sfn.Pass(
            self, "LoadDefaults", result=sfn.Result.from_object({"model": ALL_MODELS}), result_path="$.defaults"
        )
        prepare = sfn.Pass(
            self,
            "PrepareRun",
            parameters={"options.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)", "staged": {}},
            result_path="$.run",
        )
        unknown = sfn.Fail(
            self,
            "UnknownModel",
            error="UnknownModel",
            cause=f'Start the run with {{"model": "<key>"}}, one of: {", ".join(requests)}, or "{ALL_MODELS}"',
        )
        model = "$.run.options.model"
        known = sfn.Choice(self, "ModelKnown").otherwise(unknown)

        # Built backwards: each model's step continues with the next model's choice; the last with success.
        following: sfn.IChainable = succeeded
        for key_name in reversed(list(requests)):
            field = state_key(key_name)
            task = tasks.task(
                f"Stage-{key_name}",
                "createProcessingJob",
                requests[key_name],
                sync=True,
                result_path=f"$.run.staged.{field}",
                result_selector={"ProcessingJobName.$": "$.ProcessingJobName"},
            )
            record = sfn.Pass(
                self,
                f"Record-{key_name}",
                parameters={"job.$": f"$.run.staged.{field}.ProcessingJobName", "prefix": staged_s3_uris[key_name]},
                result_path=f"$.run.staged.{field}",
            )
            task.next(record).next(following)
            following = (
                sfn.Choice(self, f"Stage-{key_name}-Requested")
                .when(
                    sfn.Condition.or_(
                        sfn.Condition.string_equals(model, ALL_MODELS), sfn.Condition.string_equals(model, key_name)
                    ),
                    task,
                )
                .otherwise(following)
            )
        known.when(
            sfn.Condition.or_(*(sfn.Condition.string_equals(model, k) for k in (ALL_MODELS, *requests))), following
        )
        self.requests = tasks.requests

        workflow = logged_state_machine(
            self,
            definition=sfn.Chain.start(defaults).next(prepare).next(known),
            key=key,
            log_retention=log_retention,
            timeout=timeout,
            role=self.role,
            comment="Hub staging: copy each model's pinned Hugging Face Hub snapshot into its models-bucket prefix",
        )
        self.state_machine, self.log_group = workflow.state_machine, workflow.log_group
        wildcards = ExpectedWildcards.of(self.role.node.find_child("DefaultPolicy"))
        for statement in tasks.policy_statements(stack):
            self.role.add_to_policy(statement)
        for resource in sorted({r for rs in tasks.resources.values() for r in rs}, key=str):
            wildcards.resource(
                resource,
                f"Staging jobs are named {JOB_PREFIX}-<uuid> per run: the prefix is fixed, the id is not known before "
                "the run",
            )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        for statement in key_grants_for_sagemaker(key.key_arn):
            self.role.add_to_policy(statement)
        wildcards.resource(
            "*",
            "X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* and CloudWatch Logs' log-delivery actions "
            "(CreateLogDelivery, ...), which CDK adds for tracing and logging, accept only '*'",
        )
        acknowledge_in_hipaa_and_nist(
            self.role, "The workflow role's grants are specific to this state machine", "IAMNoInlinePolicy"
        )
