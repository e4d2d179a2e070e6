"""The on-demand evaluation workflow: score any deployed endpoint with the same jobs the lifecycle runs.

Input: {"evaluation": {"endpoint_name": "...", "inference_component_name": "..." (optional)}}.
Writes this run's Clarify analysis configs (they name the endpoint), runs every job in parallel, reads the report and
ends in Succeed (thresholds met) or Fail with the report's risk verdicts as the cause. Every task retries its transient
errors and sends anything else to one Fail state (`EvaluationFailed`) whose cause is the caught error's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_constructs.logged_state_machine import logged_state_machine
from cdk_constructs.sagemaker_role import key_grants_for_sagemaker
from cdk_constructs.sagemaker_tasks import S3_TRANSIENT, SageMakerTasks
from compliance.packs import acknowledge
from compliance.wildcards import ExpectedWildcards
from sagemaker_requests.processing import generated_name_prefix

JOB_RESULT = {
    "ProcessingJobName.$": "$.ProcessingJobName",
    "ProcessingJobStatus.$": "$.ProcessingJobStatus",
    "ProcessingJobArn.$": "$.ProcessingJobArn",
}


class EvaluationWorkflow(Construct):
    """The on-demand evaluation workflow (see the module docstring for its input and ends).

    Args:
        jobs: state name -> CreateProcessingJob request (`sagemaker_requests.processing`); all run in parallel.
        bucket: the evaluation bucket (the report under `evaluation-reports/`).
        report_key_path: JSONPath of this run's report key.
        job_role: the role the processing jobs run as; the only role the workflow may pass.
        key: the platform key (log group, job outputs and volumes).
        log_retention: of the workflow's log group.

    Attributes:
        state_machine: the workflow (timeout 12 hours).
        log_group: every state's input and output, KMS-encrypted.
        requests: each processing job's (operation, parameters) as written into the definition.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        jobs: Mapping[str, Mapping[str, Any]],
        bucket: s3.IBucket,
        report_key_path: str,
        job_role: iam.IRole,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        failed = sfn.Fail(
            self, "EvaluationFailed", error="EvaluationFailed", cause_path=sfn.JsonPath.string_at("$.error.Cause")
        )
        steps: list[sfn.State] = []
        parallel = sfn.Parallel(self, "EvaluationJobs", result_path="$.jobs")
        self._tasks = SageMakerTasks(self)
        self.requests = self._tasks.requests
        for state_name, request in jobs.items():
            parallel.branch(self._processing_job(state_name, request))
        parallel.add_catch(failed, result_path="$.error")
        steps.append(parallel)

        read = _s3_task(
            tasks.CallAwsService(
                self,
                "ReadReport",
                service="s3",
                action="getObject",
                # Spelt as IAM spells it (CDK derives `s3:getObject` from the SDK call). IAM matches either, but
                # checkov's IAM checks (cloudsplaining 0.7.0, scan/statement_detail.py L62-63) count an action that
                # differs from its CamelCase name as one that takes only '*', so CKV_AWS_108 reports it whatever the
                # resource (tests/test_checkov.py).
                iam_action="s3:GetObject",
                parameters={"Bucket": bucket.bucket_name, "Key": sfn.JsonPath.string_at(report_key_path)},
                iam_resources=[bucket.arn_for_objects("evaluation-reports/*")],
                result_selector={
                    "document": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.Body")),
                    "key": sfn.JsonPath.string_at(report_key_path),
                },
                result_path="$.report",
            ),
            failed,
        )
        steps.append(read)
        verdict = (
            sfn.Choice(self, "ThresholdsMet")
            .when(
                sfn.Condition.boolean_equals("$.report.document.passed", True),
                sfn.Succeed(self, "ModelPassed"),
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "ModelBelowThresholds",
                    error="ModelBelowThresholds",
                    cause_path=sfn.JsonPath.format(
                        "report {} failed; risks: {}",
                        sfn.JsonPath.string_at("$.report.key"),
                        sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.report.document.risks")),
                    ),
                )
            )
        )
        chain: sfn.Chain = sfn.Chain.start(steps[0])
        for step in steps[1:]:
            chain = chain.next(step)
        definition = chain.next(verdict)

        workflow = logged_state_machine(
            self, definition=definition, key=key, log_retention=log_retention, timeout=cdk.Duration.hours(12)
        )
        self.state_machine, self.log_group = workflow.state_machine, workflow.log_group
        role = self.state_machine.role
        expected = ExpectedWildcards.of(role.node.find_child("DefaultPolicy"))
        jobs_arns = [
            stack.format_arn(
                service="sagemaker",
                resource="processing-job",
                resource_name=f"{generated_name_prefix(request['ProcessingJobName.$'])}*",
            )
            for request in jobs.values()
        ]
        for arn in sorted(set(jobs_arns)):
            expected.resource(
                arn, "Each run's processing jobs are named <prefix>-<uuid>: the prefix is fixed, the uuid per run"
            )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=sorted(set(jobs_arns)),
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForSageMakerProcessingJobsRule",
                    )
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # The evaluation bucket is SSE-KMS with the platform key: reading the report.
        role.add_to_principal_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))
        # The jobs name the key (VolumeKmsKeyId, output KmsKeyId): SageMaker creates its grants on it with the
        # caller's credentials, so CreateProcessingJob fails without these.
        for statement in key_grants_for_sagemaker(key.key_arn):
            role.add_to_principal_policy(statement)
        expected.resource(
            bucket.arn_for_objects("evaluation-reports/*"),
            "Each run reads its report under evaluation-reports/<execution name>/",
        )
        expected.resource(
            "*",
            "X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* and CloudWatch Logs' log-delivery actions "
            "(CreateLogDelivery, ...), which CDK adds for tracing and logging, accept only '*'",
        )
        acknowledge(
            role,
            "The policies CDK generates for the workflow's own tasks",
            "HIPAA.Security-IAMNoInlinePolicy",
            "NIST.800.53.R5-IAMNoInlinePolicy",
        )

    def _processing_job(self, state_name: str, request: Mapping[str, Any]) -> sfn.CustomState:
        """A createProcessingJob.sync task with the shared SageMaker retry policy.

        A state in a Parallel branch can only catch into its own branch: any other error ends the branch in a Fail
        state named after the job (`<state>Failed`, the job's error as the cause), which fails the Parallel and
        reaches the workflow's own catch.
        """
        failed = sfn.Fail(
            self, f"{state_name}Failed", error=f"{state_name}Failed", cause_path=sfn.JsonPath.string_at("$.error.Cause")
        )
        return self._tasks.task(
            state_name, "createProcessingJob", request, sync=True, result_selector=JOB_RESULT, catch=failed
        )


def _s3_task(task: tasks.CallAwsService, failed: sfn.Fail) -> tasks.CallAwsService:
    """Retry S3's transient errors with backoff; catch anything else (or the last retry) into the failure state."""
    S3_TRANSIENT.apply(task)
    task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    return task
