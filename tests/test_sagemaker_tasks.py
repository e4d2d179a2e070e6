"""The shared SageMaker-task builder, alone in a bare stack: the retry policy, the catch, the recorded permissions."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from cdk_constructs.sagemaker_tasks import IDEMPOTENT, SageMakerTasks, notify, sagemaker_resource

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
    assert state["Retry"] == [
        {
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
    ]
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
        retry=IDEMPOTENT,
        catch=cleanup,
        error_path="$.cleanup_error",
    )
    state = rendered(stack, task)["Describe"]
    assert state["Resource"]["Fn::Join"][1][-1] == ":states:::aws-sdk:sagemaker:describeEndpoint"
    assert "ResultPath" not in state
    assert state["Retry"][0]["ErrorEquals"] == ["States.TaskFailed"]
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
    assert ok["Retry"][0]["ErrorEquals"] == ["States.TaskFailed"]
    assert ok["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailurePath"}]
    assert ok["Parameters"] == {"TopicArn": stack.resolve(topic.topic_arn), "Message": {"status": "OK"}, "Subject": "s"}
    bad = rendered(stack, notify(stack, "Bad", topic=topic, message={"status": "FAILED"}, subject="s"))["Bad"]
    assert "Catch" not in bad


def test_resource_arns_name_the_integration() -> None:
    assert sagemaker_resource("createModel", sdk=True).endswith(":states:::aws-sdk:sagemaker:createModel")
    assert sagemaker_resource("createProcessingJob", sync=True).endswith(":states:::sagemaker:createProcessingJob.sync")
