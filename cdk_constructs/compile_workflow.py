"""The Neuron compile (export) stage as infrastructure: the compile jobs' own role, and a stand-alone Step Functions
workflow that compiles a profile's own S3 models for their servers.

The workflow runs one CreateTrainingJob (`.sync`) per model, each the full request of
`sagemaker_requests.compile_job`, in order; a run compiles every model (`{"model": "all"}`, the default) or the one
named. Transient SageMaker errors are retried, every other failure is caught into a failure notification, and every
state is logged to an encrypted log group with X-Ray tracing, as in the lifecycle workflow. A run's output (and its
success notification) carries each model's job and compiled-artifacts S3 prefix (its `compiled_artifacts`). The
per-model shape is `per_model_jobs`, shared with Hub staging; this module adds the notifications.
"""

from __future__ import annotations

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

from cdk_constructs.per_model_jobs import TRAINING_JOB, per_model_job_workflow
from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from cdk_constructs.sagemaker_tasks import notify, publish_key_statement

# SageMaker names the log group of every training job; the stack never creates it (see stacks/lifecycle.py).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
JOB_PREFIX = "compile-"  # every compile job is named `compile-<uuid or run id>`


class CompileJobRole(Construct):
    """The execution role of compile jobs (a `SageMakerExecutionRole`): read the model, write the compiled prefix,
    the platform key, pull the serving images, write the jobs' logs and metrics, run in the VPC. Nothing else.

    Args:
        models_bucket: the platform's models bucket (sources and compiled artifacts).
        read_prefixes: the key prefixes of the models the jobs compile (`training-output/`, `llama-3.1-8b/`, ...).
        write_prefixes: the prefixes the jobs' output goes to (`compiled/lifecycle/`, `compile-jobs/`).
        key: the platform key (inputs are decrypted, outputs encrypted with it).
        image_repository_arns: the serving images' ECR repositories the jobs pull.
        synced_prefixes: exact artifacts prefixes kept in sync with the job's checkpoint directory
            (CheckpointConfig): SageMaker reads what is there at the start, writes and deletes to mirror the job.
            Default: none (the jobs write only their own output).

    Attributes:
        execution: the `SageMakerExecutionRole` (its managed policy holds every statement).
        role: the role the compile jobs run as (`RoleArn` of the request; passed by the workflows).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        models_bucket: s3.IBucket,
        read_prefixes: Sequence[str],
        write_prefixes: Sequence[str],
        key: kms.IKey,
        image_repository_arns: Sequence[str],
        synced_prefixes: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.execution = SageMakerExecutionRole(
            self,
            "Execution",
            description="Neuron compile (export) jobs: read a model, write its compiled artifacts",
            log_groups=[f"{TRAINING_LOG_GROUP}:*"],
            metric_namespaces=["/aws/sagemaker/*"],
            image_repository_arns=image_repository_arns,
            in_vpc=True,
        )
        self.role = self.execution.role
        reads, writes, synced = sorted(set(read_prefixes)), sorted(set(write_prefixes)), sorted(set(synced_prefixes))
        self.execution.grant_read(models_bucket, *reads, label="models (compile sources)")
        if writes:
            self.execution.grant_write(models_bucket, *writes, label="models (compile output)")
        if synced:
            # The checkpoint sync mirrors the job's directory: it reads what is there, writes, and deletes.
            self.execution.grant_read_write(models_bucket, *synced, label="models (compiled artifacts)")
            objects = [models_bucket.arn_for_objects(f"{p}*") for p in synced]
            self.execution.policy.add_statements(iam.PolicyStatement(actions=["s3:DeleteObject"], resources=objects))
            for arn in objects:
                self.execution.wildcards.resource(
                    arn,
                    "The checkpoint sync deletes, under the model's compiled-artifacts prefix only, what the export "
                    "removed from the job's directory; file names are the exporter's",
                )
        self.execution.grant_key(key)


class CompileWorkflow(Construct):
    """Compile each model of `requests` in order; a run compiles all (`{"model": "all"}`, default) or the one named.

    Args:
        requests: model key -> the CreateTrainingJob request of its compile job (`sagemaker_requests.compile_job`).
        artifacts_s3_uris: model key -> the exact prefix its request syncs the artifacts to (its
            `compiled_artifacts`), recorded by each run as `compiled.<key>.compiled_artifacts`.
        job_role: the role the compile jobs run as (passed to SageMaker).
        topic: where a run's end (COMPILED, FAILED) is announced, with the compiled prefixes or the error.
        key: the platform key (log group; SageMaker creates grants on it for the jobs' encrypted outputs; the topic's
            encryption: the role may use it through SNS to publish).
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
        artifacts_s3_uris: Mapping[str, str],
        job_role: iam.IRole,
        topic: sns.ITopic,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        timeout: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        if not requests:
            raise ValueError("a compile workflow needs at least one model to compile")
        self._topic = topic
        failed = sfn.Fail(
            self, "CompileFailed", error="CompileFailed", cause="A compile job failed; the notification has the error"
        )
        notify_failure = self._notify("NotifyFailure", "FAILED", error=True).next(failed)
        succeeded = self._notify("NotifyCompiled", "COMPILED", catch=notify_failure).next(
            sfn.Succeed(self, "CompileSucceeded")
        )
        workflow = per_model_job_workflow(
            self,
            requests=requests,
            records={k: {"compiled_artifacts": artifacts_s3_uris[k]} for k in requests},
            job=TRAINING_JOB,
            job_name_prefix=JOB_PREFIX,
            jobs_named="Compile jobs",
            state_prefix="Compile",
            output="compiled",
            role_description="Runs the Neuron compile workflow",
            job_role=job_role,
            key=key,
            failure=notify_failure,
            success=succeeded,
            log_retention=log_retention,
            timeout=timeout,
            comment="Neuron compile: export each model with its serving image into compiled artifacts",
            # The topic's key is the platform key: the role uses it through SNS to publish.
            extra_statements=[publish_key_statement(cdk.Stack.of(self), key.key_arn)],
        )
        self.role, self.state_machine, self.log_group = workflow.role, workflow.state_machine, workflow.log_group
        self.requests = workflow.requests

    def _notify(
        self, name: str, status: str, *, error: bool = False, catch: sfn.IChainable | None = None
    ) -> tasks.SnsPublish:
        message: dict[str, Any] = {
            "status": status,
            "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
            "compiled": sfn.JsonPath.object_at("$.run.compiled"),
        }
        if error:
            message["error"] = sfn.JsonPath.object_at("$.error")
        return notify(self, name, topic=self._topic, message=message, subject=f"Neuron compile: {status}", catch=catch)
