"""The shared SageMaker-task builder, alone in a bare stack: the retry policy, the catch, the recorded permissions;
and the retry policy of every Task the profiles' workflows synthesize, pinned state by state."""

from __future__ import annotations

import fnmatch
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from cdk_constructs.sagemaker_tasks import IDEMPOTENT as IDEMPOTENT_POLICY
from cdk_constructs.sagemaker_tasks import SageMakerTasks, notify, sagemaker_resource
from config import available_profiles
from tests.support.harness import synth
from tests.support.state_machines import all_states, definition

# The three retry policies, written out: (ErrorEquals, IntervalSeconds, MaxAttempts, BackoffRate) with full jitter.
# Error names: an AWS SDK integration fails with `ServiceName.ErrorName` (docs.aws.amazon.com/step-functions/latest/
# dg/supported-services-awssdk.html, "Using AWS SDK service integrations"); the optimized SageMaker integration with
# SageMaker.AmazonSageMakerException; both as read in cdk_constructs/sagemaker_tasks.py's module docstring.
SAGEMAKER_TRANSIENT = {
    "ErrorEquals": [
        "SageMaker.AmazonSageMakerException",
        "SageMaker.SageMakerException",
        "SageMaker.ThrottlingException",
        "SageMaker.ResourceLimitExceededException",
    ],
    "IntervalSeconds": 30,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
IDEMPOTENT = {
    "ErrorEquals": ["States.TaskFailed"],
    "IntervalSeconds": 5,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
S3_TRANSIENT = {
    "ErrorEquals": ["S3.S3Exception", "S3.SdkClientException"],
    "IntervalSeconds": 5,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
# Every Task state of every profile's workflows and its one retry policy. A new Task without a row fails, as does a
# row whose policy changes (a SageMaker create retried on States.TaskFailed would re-create a failed job).
RETRIES = {
    # lifecycle: training, compile, hosting a candidate, registering, deploying, notifying
    "PreTrain": SAGEMAKER_TRANSIENT,
    "FineTune": SAGEMAKER_TRANSIENT,
    "CompileForServing": SAGEMAKER_TRANSIENT,
    "CreateModel": SAGEMAKER_TRANSIENT,
    "CreateCandidateEndpointConfig": SAGEMAKER_TRANSIENT,
    "CreateCandidateEndpoint": SAGEMAKER_TRANSIENT,
    "CandidateDescribe": IDEMPOTENT,
    "FoundationModelEvaluation": SAGEMAKER_TRANSIENT,
    "ClarifyDataBias": SAGEMAKER_TRANSIENT,
    "ReadEvaluationReport": S3_TRANSIENT,
    "DeleteCandidateEndpoint": IDEMPOTENT,
    "DeleteCandidateEndpointConfig": IDEMPOTENT,
    "DeleteCandidateAfterFailure": IDEMPOTENT,
    "RegisterModelPackage": SAGEMAKER_TRANSIENT,
    "CreateLiveEndpointConfig": SAGEMAKER_TRANSIENT,
    "UpdateLiveEndpoint": SAGEMAKER_TRANSIENT,
    "LiveDescribe": IDEMPOTENT,
    "NotifyRegistered": IDEMPOTENT,
    "NotifyRejected": IDEMPOTENT,
    "NotifyDeployed": IDEMPOTENT,
    "NotifyFailure": IDEMPOTENT,
    # evaluation (on demand): the Clarify jobs and the report
    "ClarifyModelBias": SAGEMAKER_TRANSIENT,
    "ClarifyExplainability": SAGEMAKER_TRANSIENT,
    "ReadReport": S3_TRANSIENT,
    # compile (one job per model, named Compile-<model>)
    "Compile-*": SAGEMAKER_TRANSIENT,
    "NotifyCompiled": IDEMPOTENT,
    # Hub staging (one processing job per model, named Stage-<model>)
    "Stage-*": SAGEMAKER_TRANSIENT,
}

REQUEST = {"TrainingJobName.$": "States.Format('ft-{}', $.run.id)", "RoleArn": "arn:aws:iam::111111111111:role/r"}


def rendered(stack: cdk.Stack, state: sfn.IChainable) -> dict[str, Any]:
    graph = sfn.StateGraph(state.start_state, "test")
    return dict(stack.resolve(graph.to_graph_json())["States"])


def test_a_sync_task_carries_the_request_retries_transient_errors_and_records_its_actions() -> None:
    stack = cdk.Stack()
    failed = sfn.Fail(stack, "Failed")
    builder = SageMakerTasks(stack, catch=failed)
    task = builder.task("FineTune", "createTrainingJob", REQUEST, sync=True, result_path="$.fine_tune")
    state = rendered(stack, task)["FineTune"]
    assert state["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::sagemaker:createTrainingJob.sync"]]
    }
    assert state["Parameters"] == REQUEST and state["ResultPath"] == "$.fine_tune"
    assert state["Retry"] == [SAGEMAKER_TRANSIENT]
    assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]
    assert builder.requests == {"FineTune": ("CreateTrainingJob", REQUEST)}
    assert builder.actions == {"CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"}
    (sagemaker, events) = [s.to_statement_json() for s in builder.policy_statements(stack, ["training-job"])]
    assert sagemaker["Action"] == [
        "sagemaker:AddTags",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    ]
    assert stack.resolve(sagemaker["Resource"])["Fn::Join"][1][-1] == ":training-job/*"
    assert stack.resolve(events["Resource"])["Fn::Join"][1][-1] == (
        ":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    )


def test_an_sdk_call_with_its_own_catch_and_retry_needs_no_event_rule() -> None:
    stack = cdk.Stack()
    cleanup = sfn.Pass(stack, "Cleanup")
    builder = SageMakerTasks(stack, catch=sfn.Fail(stack, "Failed"))
    task = builder.task(
        "Describe",
        "describeEndpoint",
        {"EndpointName": "e"},
        sdk=True,
        retry=IDEMPOTENT_POLICY,
        catch=cleanup,
        error_path="$.cleanup_error",
    )
    state = rendered(stack, task)["Describe"]
    assert state["Resource"]["Fn::Join"][1][-1] == ":states:::aws-sdk:sagemaker:describeEndpoint"
    assert "ResultPath" not in state
    assert state["Retry"] == [IDEMPOTENT]
    assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "Cleanup"}]
    assert builder.actions == {"DescribeEndpoint"}
    assert len(builder.policy_statements(stack, ["endpoint"])) == 1


def test_a_task_without_a_catch_is_refused() -> None:
    stack = cdk.Stack()
    with pytest.raises(ValueError, match="'Orphan' has nowhere to catch its failures"):
        SageMakerTasks(stack).task("Orphan", "createModel", {})


def test_a_notification_retries_and_catches_only_on_a_success_path() -> None:
    stack = cdk.Stack()
    topic = sns.Topic(stack, "Topic")
    failure = sfn.Pass(stack, "FailurePath")
    ok = rendered(stack, notify(stack, "Ok", topic=topic, message={"status": "OK"}, subject="s", catch=failure))["Ok"]
    assert ok["Retry"] == [IDEMPOTENT]
    assert ok["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailurePath"}]
    assert ok["Parameters"] == {"TopicArn": stack.resolve(topic.topic_arn), "Message": {"status": "OK"}, "Subject": "s"}
    bad = rendered(stack, notify(stack, "Bad", topic=topic, message={"status": "FAILED"}, subject="s"))["Bad"]
    assert "Catch" not in bad and bad["Retry"] == [IDEMPOTENT]


def test_resource_arns_name_the_integration() -> None:
    # Task resource ARNs: docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html (optimized, `.sync`)
    # and supported-services-awssdk.html (`arn:aws:states:::aws-sdk:<service>:<apiAction>`).
    stack = cdk.Stack()
    assert stack.resolve(sagemaker_resource("createModel", sdk=True)) == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::aws-sdk:sagemaker:createModel"]]
    }
    assert stack.resolve(sagemaker_resource("createProcessingJob", sync=True)) == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::sagemaker:createProcessingJob.sync"]]
    }


def test_every_task_of_every_profile_carries_exactly_its_retry_policy() -> None:
    seen: set[str] = set()
    for profile in available_profiles():
        s = synth(profile)
        for unit in s.templates:
            if not s.resources(unit, "AWS::StepFunctions::StateMachine"):
                continue
            for name, state in all_states(definition(s.templates[unit])).items():
                if state["Type"] != "Task":
                    continue
                rows = [pattern for pattern in RETRIES if fnmatch.fnmatchcase(name, pattern)]
                assert len(rows) == 1, f"{profile}/{unit}: Task {name} matches rows {rows} of RETRIES, not one"
                row = rows[0]
                assert state["Retry"] == [RETRIES[row]], (profile, unit, name)
                seen.add(row)
    assert seen == set(RETRIES)  # no row for a Task that no longer exists
