"""`neuronctl run` and `neuronctl capacity` with botocore's Stubber: exact requests, progress, failures, sorting."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from config import load_config
from neuronctl import capacity, cli, run
from neuronctl.context import Context
from neuronctl.discovery import Deployment
from neuronctl.errors import CliError, ExitCode
from neuronctl.session import Aws
from tests.support.harness import synth
from tests.support.offline import stubbed
from tests.support.rendered_requests import definition

pytest_plugins = ["tests.support.aws_fixtures"]  # the `aws` and `offline` fixtures
pytestmark = pytest.mark.usefixtures("offline")

MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:Lifecycle-ab12"
EXECUTION = "arn:aws:states:us-east-1:111122223333:execution:Lifecycle-ab12:run-1"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
DEFINITION = {
    "StartAt": "PreTrain",
    "States": {
        "PreTrain": {"Type": "Task", "Next": "FineTune"},
        "FineTune": {"Type": "Task", "Next": "Evaluate"},
        "Evaluate": {
            "Type": "Parallel",
            "Next": "Gate",
            "Branches": [
                {"StartAt": "Toxicity", "States": {"Toxicity": {"Type": "Task", "End": True}}},
                {"StartAt": "Bias", "States": {"Bias": {"Type": "Task", "End": True}}},
            ],
        },
        "Gate": {"Type": "Choice", "Choices": [], "Default": "Deploy"},
        "Deploy": {"Type": "Task", "End": True},
    },
}


@pytest.fixture()
def stubs(aws: Aws) -> Iterator[dict[str, Stubber]]:
    with stubbed(aws, ("cloudformation", "stepfunctions", "sagemaker", "ec2")) as stubbers:
        yield stubbers


def deployment(aws: Aws) -> Deployment:
    return Deployment(load_config("dev", environ={}), aws)


def expect_lifecycle_stack(stubs: dict[str, Stubber]) -> None:
    stubs["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "NeuronGenAI-dev-lifecycle",
                    "CreationTime": T0,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": "LifecycleStateMachineArn", "OutputValue": MACHINE}],
                }
            ]
        },
        {"StackName": "NeuronGenAI-dev-lifecycle"},
    )


def event(n: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"timestamp": T0 + timedelta(seconds=n), "type": kind, "id": n, "previousEventId": n - 1, **details}


def entered(n: int, name: str) -> dict[str, Any]:
    return event(n, "TaskStateEntered", stateEnteredEventDetails={"name": name})


def exited(n: int, name: str) -> dict[str, Any]:
    return event(n, "TaskStateExited", stateExitedEventDetails={"name": name})


def scheduled(n: int, job: str) -> dict[str, Any]:
    return event(
        n,
        "TaskScheduled",
        taskScheduledEventDetails={
            "resourceType": "sagemaker",
            "resource": "createTrainingJob.sync",
            "region": "us-east-1",
            "parameters": json.dumps({"TrainingJobName": job, "AlgorithmSpecification": {}}),
        },
    )


RUNNING_HISTORY = [
    event(1, "ExecutionStarted"),
    entered(2, "PreTrain"),
    scheduled(3, "pt-run-1"),
    exited(4, "PreTrain"),
    entered(5, "FineTune"),
    scheduled(6, "ft-run-1"),
]


def expect_progress(
    stubs: dict[str, Stubber],
    status: str,
    history: list[dict[str, Any]],
    job_status: tuple[str, str] | None = ("InProgress", "Training"),
    **execution: Any,
) -> None:
    sfn = stubs["stepfunctions"]
    sfn.add_response(
        "describe_execution",
        {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": status, "startDate": T0, **execution},
        {"executionArn": EXECUTION},
    )
    sfn.add_response(
        "describe_state_machine_for_execution",
        {
            "stateMachineArn": MACHINE,
            "name": "Lifecycle",
            "definition": json.dumps(DEFINITION),
            "roleArn": "arn:aws:iam::111122223333:role/sfn",
            "updateDate": T0,
        },
        {"executionArn": EXECUTION},
    )
    sfn.add_response("get_execution_history", {"events": history}, {"executionArn": EXECUTION, "maxResults": 1000})
    if job_status:
        stubs["sagemaker"].add_response(
            "describe_training_job",
            {
                "TrainingJobName": "ft-run-1",
                "TrainingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:training-job/ft-run-1",
                "ModelArtifacts": {"S3ModelArtifacts": "s3://b/k"},
                "TrainingJobStatus": job_status[0],
                "SecondaryStatus": job_status[1],
                "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "ResourceConfig": {"VolumeSizeInGB": 100},
                "StoppingCondition": {},
                "CreationTime": T0,
            },
            {"TrainingJobName": "ft-run-1"},
        )


def test_start_sends_the_exact_request(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_lifecycle_stack(stubs)
    stubs["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": T0},
        {
            "stateMachineArn": MACHINE,
            "name": "run-1",
            "input": json.dumps(
                {
                    "base_model": "s3://models/llama/",
                    "hyperparameters": {"epochs": 3, "lr": "3e-5x"},
                    "skip_pretraining": True,
                }
            ),
        },
    )
    run_input = run.parse_input(
        '{"base_model": "s3://models/llama/"}',
        ["hyperparameters.epochs=3", "hyperparameters.lr=3e-5x", "skip_pretraining=true"],
    )
    assert run.start(deployment(aws), "lifecycle", run_input, "run-1") == {"executionArn": EXECUTION, "startDate": T0}


def test_start_with_a_taken_name_says_so(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_lifecycle_stack(stubs)
    stubs["stepfunctions"].add_client_error("start_execution", "ExecutionAlreadyExists", "exists", 400)
    with pytest.raises(CliError, match="a lifecycle run named 'run-1' already exists"):
        run.start(deployment(aws), "lifecycle", {}, "run-1")


@pytest.mark.parametrize(
    ("raw", "params", "message"),
    [
        ("[1]", [], "--input must be a JSON object"),
        (
            "{",
            [],
            "--input is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (None, ["novalue"], "--param 'novalue' must look like key=value (dots make nested keys)"),
        (None, ["a=1", "a.b=2"], "--param 'a.b=2': 'a' is already a value, not an object"),
    ],
)
def test_bad_run_input_is_a_usage_error(raw: str | None, params: list[str], message: str) -> None:
    with pytest.raises(CliError) as caught:
        run.parse_input(raw, params)
    assert (caught.value.message, caught.value.code) == (message, ExitCode.USAGE)


def test_status_shows_states_done_the_current_job_and_elapsed_time(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_progress(stubs, "RUNNING", RUNNING_HISTORY)
    item = run.progress(aws.client, EXECUTION)
    assert (item.states_done, item.states_total, item.current_state) == (1, 7, "FineTune")
    assert item.line(T0 + timedelta(minutes=12, seconds=31)) == (
        "[12m31s] RUNNING | 1/7 states done | in FineTune | training job ft-run-1: InProgress/Training"
    )


def test_status_by_name_and_latest(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_lifecycle_stack(stubs)
    stubs["stepfunctions"].add_response(
        "list_executions",
        {
            "executions": [
                {
                    "executionArn": EXECUTION,
                    "stateMachineArn": MACHINE,
                    "name": "run-1",
                    "status": "RUNNING",
                    "startDate": T0,
                }
            ]
        },
        {"stateMachineArn": MACHINE, "maxResults": 1},
    )
    target = deployment(aws)
    assert run.execution_arn(target, "lifecycle", "run-1") == EXECUTION
    assert run.execution_arn(target, "lifecycle", None) == EXECUTION


def test_watch_polls_until_success_and_prints_each_change(
    aws: Aws, stubs: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    expect_progress(stubs, "RUNNING", RUNNING_HISTORY)
    expect_progress(stubs, "RUNNING", RUNNING_HISTORY)  # unchanged: no new line
    done = [
        *RUNNING_HISTORY,
        exited(7, "FineTune"),
        entered(8, "Deploy"),
        exited(9, "Deploy"),
        event(10, "ExecutionSucceeded"),
    ]
    expect_progress(stubs, "SUCCEEDED", done, ("Completed", "Completed"), stopDate=T0 + timedelta(hours=2))
    lines = io.StringIO()
    sleeps: list[float] = []
    clock = iter([T0 + timedelta(minutes=m) for m in (1, 2, 3)])
    item = run.watch(
        aws.client, EXECUTION, interval=30, sleep=sleeps.append, now=lambda: next(clock), progress_to=lines
    )
    assert item.status == "SUCCEEDED" and sleeps == [30, 30]
    assert lines.getvalue().splitlines() == [
        "[1m00s] RUNNING | 1/7 states done | in FineTune | training job ft-run-1: InProgress/Training",
        "[2h00m00s] SUCCEEDED | 3/7 states done | training job ft-run-1: Completed/Completed",
    ]
    assert run.finish(item, as_json=False, now=T0, watched=True) == ExitCode.OK
    assert capsys.readouterr().out == f"SUCCEEDED after 2h00m00s (3/7 states done): {EXECUTION}\n"


def test_a_failed_run_names_the_state_and_the_sagemaker_failure_reason(aws: Aws, stubs: dict[str, Stubber]) -> None:
    cause = json.dumps(
        {
            "TrainingJobName": "ft-run-1",
            "TrainingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: NeuronCore out of memory at step 12",
        }
    )
    failed = [
        *RUNNING_HISTORY,
        event(
            7,
            "TaskFailed",
            taskFailedEventDetails={
                "resourceType": "sagemaker",
                "resource": "createTrainingJob.sync",
                "error": "States.TaskFailed",
                "cause": cause,
            },
        ),
        event(8, "FailStateEntered", stateEnteredEventDetails={"name": "NotifyFailure"}),
        event(9, "ExecutionFailed", executionFailedEventDetails={"error": "LifecycleFailed", "cause": "see"}),
    ]
    expect_progress(
        stubs,
        "FAILED",
        failed,
        ("Failed", "Failed"),
        stopDate=T0 + timedelta(minutes=40),
        error="LifecycleFailed",
        cause="see",
    )
    item = run.progress(aws.client, EXECUTION)
    with pytest.raises(CliError) as caught:
        run.finish(item, as_json=False, now=T0)
    assert (caught.value.message, caught.value.code) == (
        "run failed in state 'FineTune': States.TaskFailed: ft-run-1: AlgorithmError: NeuronCore out of memory at "
        f"step 12 ({EXECUTION})",
        ExitCode.FAILED,
    )


def test_watch_gives_up_after_its_timeout(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_progress(stubs, "RUNNING", RUNNING_HISTORY)
    expect_progress(stubs, "RUNNING", RUNNING_HISTORY)
    with pytest.raises(CliError) as caught:
        run.watch(
            aws.client,
            EXECUTION,
            interval=60,
            timeout=60,
            sleep=lambda s: None,
            now=lambda: T0,
            progress_to=io.StringIO(),
        )
    assert caught.value.code == ExitCode.UNAVAILABLE
    assert caught.value.message == f"run still RUNNING after watching 60 s: {EXECUTION}"


def use_stubbed_aws(monkeypatch: pytest.MonkeyPatch, aws: Aws) -> None:
    """`neuronctl.cli.main` builds its own `Aws`; hand it the stubbed one instead (the rest of main runs as shipped)."""
    monkeypatch.setattr(Context, "aws", property(lambda self: aws))


def test_run_start_through_main_sends_no_name_and_prints_the_run_as_json(
    aws: Aws, stubs: dict[str, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --name no name is sent: Step Functions names the run with a UUID, so no name neuronctl builds can
    outgrow StartExecution's 80 characters."""
    expect_lifecycle_stack(stubs)
    stubs["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": T0},
        {"stateMachineArn": MACHINE, "input": json.dumps({"hyperparameters": {"epochs": 3}})},
    )
    use_stubbed_aws(monkeypatch, aws)
    assert cli.main(["run", "start", "lifecycle", "--param", "hyperparameters.epochs=3", "--json"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"executionArn": EXECUTION, "startDate": "2026-11-26T08:00:00+00:00"}
    assert captured.err == ""


def test_run_start_watch_through_main_follows_the_run_to_its_verdict(
    aws: Aws, stubs: dict[str, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    longest = "r" * run.RUN_NAME_MAX  # StartExecution's limit, sent as is (the service-model check passes it)
    expect_lifecycle_stack(stubs)
    stubs["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": T0},
        {"stateMachineArn": MACHINE, "name": longest, "input": "{}"},
    )
    expect_progress(stubs, "RUNNING", RUNNING_HISTORY)
    done = [*RUNNING_HISTORY, exited(7, "FineTune"), event(8, "ExecutionSucceeded")]
    expect_progress(stubs, "SUCCEEDED", done, ("Completed", "Completed"), stopDate=T0 + timedelta(hours=2))
    use_stubbed_aws(monkeypatch, aws)
    assert cli.main(["run", "start", "lifecycle", "--name", longest, "--watch", "--interval", "0"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert captured.out == f"SUCCEEDED after 2h00m00s (2/7 states done): {EXECUTION}\n"
    started, running, succeeded = captured.err.splitlines()
    assert started == f"started {EXECUTION}"
    # The running line's elapsed time is measured against the real clock: everything after it is exact.
    assert (
        running.split("] ", 1)[1]
        == "RUNNING | 1/7 states done | in FineTune | training job ft-run-1: InProgress/Training"
    )
    assert succeeded == "[2h00m00s] SUCCEEDED | 2/7 states done | training job ft-run-1: Completed/Completed"


def test_run_watch_through_main_follows_the_latest_run_and_exits_1_when_it_fails(
    aws: Aws, stubs: dict[str, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_lifecycle_stack(stubs)
    stubs["stepfunctions"].add_response(
        "list_executions",
        {
            "executions": [
                {
                    "executionArn": EXECUTION,
                    "stateMachineArn": MACHINE,
                    "name": "run-1",
                    "status": "RUNNING",
                    "startDate": T0,
                }
            ]
        },
        {"stateMachineArn": MACHINE, "maxResults": 1},
    )
    timed_out = [*RUNNING_HISTORY, event(7, "ExecutionTimedOut")]
    expect_progress(stubs, "TIMED_OUT", timed_out, ("Stopped", "Stopped"), stopDate=T0 + timedelta(hours=24))
    use_stubbed_aws(monkeypatch, aws)
    assert cli.main(["run", "watch", "lifecycle", "--interval", "0"]) == ExitCode.FAILED
    captured = capsys.readouterr()
    assert captured.out == f"TIMED_OUT after 24h00m00s (1/7 states done): {EXECUTION}\n"
    assert captured.err.splitlines() == [
        "[24h00m00s] TIMED_OUT | 1/7 states done | training job ft-run-1: Stopped/Stopped",
        f"neuronctl: error: run timed out in state 'FineTune': ExecutionTimedOut: no cause recorded ({EXECUTION})",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "r" * 81,
            "--name is 81 characters; Step Functions allows at most 80 for a run name: shorten it",
        ),
        (
            "fine tune",
            "--name 'fine tune' contains ' ', which Step Functions does not allow in a run name (no white space, "
            'brackets, ? * " # % \\ ^ | ~ ` $ & , ; : / or control characters): use letters, digits, - and _ '
            "(CloudWatch Logs needs those only)",
        ),
        ("ft:2026", "--name 'ft:2026' contains ':', which Step Functions"),
        ("ft\x7f", "--name 'ft\\x7f' contains '\\x7f', which Step Functions"),
    ],
    ids=["81-characters", "space", "colon", "control-character"],
)
def test_a_run_name_step_functions_would_refuse_is_a_usage_error_before_any_call(
    name: str,
    message: str,
    aws: Aws,
    stubs: dict[str, Stubber],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_stubbed_aws(monkeypatch, aws)  # no response queued: any call would fail the Stubber
    assert cli.main(["run", "start", "lifecycle", "--name", name]) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"neuronctl: error: {message}") and captured.err.count("\n") == 1


def test_the_run_name_limit_is_the_service_models(aws: Aws) -> None:
    shape = aws.client("stepfunctions").meta.service_model.operation_model("StartExecution").input_shape
    assert shape.members["name"].metadata["max"] == run.RUN_NAME_MAX == 80


def test_unknown_execution_is_not_found(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["stepfunctions"].add_client_error("describe_execution", "ExecutionDoesNotExist", "no", 400)
    with pytest.raises(CliError) as caught:
        run.progress(aws.client, EXECUTION)
    assert caught.value.code == ExitCode.NOT_FOUND


# ------------------------------------------------------------------------------------------------------------------
# capacity
# ------------------------------------------------------------------------------------------------------------------
START, END = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def plan_offering(offering_id: str, start: datetime, fee: str, count: int = 2) -> dict[str, Any]:
    return {
        "TrainingPlanOfferingId": offering_id,
        "TargetResources": ["training-job"],
        "DurationHours": 48,
        "UpfrontFee": fee,
        "CurrencyCode": "USD",
        "ReservedCapacityOfferings": [
            {
                "InstanceType": "ml.trn1.32xlarge",
                "InstanceCount": count,
                "AvailabilityZone": "us-east-1a",
                "DurationHours": 48,
                "StartTime": start,
                "EndTime": start + timedelta(hours=48),
            }
        ],
    }


def block(offering_id: str, start: datetime, fee: str) -> dict[str, Any]:
    return {
        "CapacityBlockOfferingId": offering_id,
        "InstanceType": "trn1.32xlarge",
        "AvailabilityZone": "us-east-1b",
        "InstanceCount": 2,
        "StartDate": start,
        "EndDate": start + timedelta(hours=48),
        "CapacityBlockDurationHours": 48,
        "UpfrontFee": fee,
        "CurrencyCode": "USD",
        "Tenancy": "default",
    }


def stub_offerings(stubs: dict[str, Stubber], *, paged: bool) -> None:
    """Two training plans and two capacity blocks for 2 x ml.trn1.32xlarge over 48 h, in no useful order."""
    day = timedelta(days=1)
    stubs["sagemaker"].add_response(
        "search_training_plan_offerings",
        {
            "TrainingPlanOfferings": [
                plan_offering("tpo-late", START + 3 * day, "2100.00"),
                plan_offering("tpo-early", START + day, "2400.00"),
            ]
        },
        {
            "InstanceType": "ml.trn1.32xlarge",
            "InstanceCount": 2,
            "DurationHours": 48,
            "TargetResources": ["training-job"],
            "StartTimeAfter": START,
            "EndTimeBefore": END,
        },
    )
    blocks_request = {
        "InstanceType": "trn1.32xlarge",
        "InstanceCount": 2,
        "CapacityDurationHours": 48,
        "StartDateRange": START,
        "EndDateRange": END,
    }
    first, second = block("cb-early-cheap", START + day, "1900.00"), block("cb-first", START, "2500.00")
    if paged:  # the second block comes on a second page
        stubs["ec2"].add_response(
            "describe_capacity_block_offerings", {"CapacityBlockOfferings": [first], "NextToken": "n1"}, blocks_request
        )
        stubs["ec2"].add_response(
            "describe_capacity_block_offerings",
            {"CapacityBlockOfferings": [second]},
            {**blocks_request, "NextToken": "n1"},
        )
    else:
        stubs["ec2"].add_response(
            "describe_capacity_block_offerings", {"CapacityBlockOfferings": [first, second]}, blocks_request
        )


def test_capacity_searches_both_sources_and_sorts_by_start_then_price(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stub_offerings(stubs, paged=True)
    offerings, notes = capacity.search(aws, ["ml.trn1.32xlarge"], count=2, hours=48, start_after=START, end_before=END)
    assert [o.offering_id for o in offerings] == ["cb-first", "cb-early-cheap", "tpo-early", "tpo-late"]
    assert offerings[1].per_instance_hour == pytest.approx(1900 / 96)
    assert notes == []


def test_types_a_source_cannot_reserve_become_notes(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["ec2"].add_client_error(
        "describe_capacity_block_offerings",
        "InvalidParameterValue",
        "The instance type inf2.48xlarge is not supported for Capacity Blocks.",
        400,
    )
    offerings, notes = capacity.search(aws, ["ml.inf2.48xlarge"], count=1, hours=24, start_after=None, end_before=None)
    assert offerings == []
    assert notes == [
        "training-plan: SageMaker training plans do not offer ml.inf2.48xlarge (they offer ml.trn1.32xlarge, "
        "ml.trn2.48xlarge among Neuron types)",
        "capacity-block: inf2.48xlarge: InvalidParameterValue: The instance type inf2.48xlarge is not supported for "
        "Capacity Blocks.",
    ]


def test_capacity_defaults_to_the_neuron_types_the_api_accepts(aws: Aws) -> None:
    assert capacity.default_instance_types(aws) == ["ml.trn1.32xlarge", "ml.trn2.48xlarge"]


def test_capacity_auth_failure_is_not_swallowed(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["sagemaker"].add_client_error("search_training_plan_offerings", "AccessDeniedException", "no", 400)
    with pytest.raises(Exception, match="AccessDeniedException"):
        capacity.search(
            aws, ["ml.trn1.32xlarge"], count=1, hours=24, start_after=None, end_before=None, sources=("training-plan",)
        )


# ------------------------------------------------------------------------------------------------------------------
# the evaluation workflow: the state machine the dev profile synthesizes
# ------------------------------------------------------------------------------------------------------------------
EVAL_MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:Evaluation-cd34"
EVAL_RUN = "arn:aws:states:us-east-1:111122223333:execution:Evaluation-cd34:eval-1"


@pytest.fixture()
def evaluation_definition() -> dict[str, Any]:
    """The `monitoring` profile's workflow: the one running all four jobs (dev has no tabular model for Clarify's)."""
    return definition(synth("monitoring").templates["evaluation"])


def expect_evaluation_stack(stubs: dict[str, Stubber]) -> None:
    stubs["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "NeuronGenAI-dev-evaluation",
                    "CreationTime": T0,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": "EvaluationStateMachineArn", "OutputValue": EVAL_MACHINE}],
                }
            ]
        },
        {"StackName": "NeuronGenAI-dev-evaluation"},
    )


def processing(n: int, job: str) -> dict[str, Any]:
    return event(
        n,
        "TaskScheduled",
        taskScheduledEventDetails={
            "resourceType": "sagemaker",
            "resource": "createProcessingJob.sync",
            "region": "us-east-1",
            "parameters": json.dumps({"ProcessingJobName": job, "AppSpecification": {}}),
        },
    )


def step(n: int, kind: str, name: str) -> list[dict[str, Any]]:
    """Entered then exited events of a state of `kind` (Pass, Task, Parallel, Choice, ...)."""
    return [
        event(n, f"{kind}StateEntered", stateEnteredEventDetails={"name": name}),
        event(n + 1, f"{kind}StateExited", stateExitedEventDetails={"name": name}),
    ]


EVAL_RUNNING = [
    event(1, "ExecutionStarted"),
    event(8, "ParallelStateEntered", stateEnteredEventDetails={"name": "EvaluationJobs"}),
    entered(9, "ClarifyDataBias"),
    processing(10, "clarify-bias-eval-1"),
    exited(11, "ClarifyDataBias"),
    entered(12, "FoundationModelEvaluation"),
    processing(13, "fmeval-eval-1"),
]


def expect_evaluation_progress(
    stubs: dict[str, Stubber],
    definition_: dict[str, Any],
    status: str,
    history: list[dict[str, Any]],
    job_status: str,
    **execution: Any,
) -> None:
    sfn = stubs["stepfunctions"]
    sfn.add_response(
        "describe_execution",
        {"executionArn": EVAL_RUN, "stateMachineArn": EVAL_MACHINE, "status": status, "startDate": T0, **execution},
        {"executionArn": EVAL_RUN},
    )
    sfn.add_response(
        "describe_state_machine_for_execution",
        {
            "stateMachineArn": EVAL_MACHINE,
            "name": "Evaluation",
            "definition": json.dumps(definition_),
            "roleArn": "arn:aws:iam::111122223333:role/sfn",
            "updateDate": T0,
        },
        {"executionArn": EVAL_RUN},
    )
    sfn.add_response("get_execution_history", {"events": history}, {"executionArn": EVAL_RUN, "maxResults": 1000})
    job: dict[str, Any] = {
        "ProcessingJobName": "fmeval-eval-1",
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:processing-job/fmeval-eval-1",
        "ProcessingJobStatus": job_status,
        "CreationTime": T0,
        "AppSpecification": {"ImageUri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/fmeval:1"},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.2xlarge", "VolumeSizeInGB": 30}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 7200},
        "RoleArn": "arn:aws:iam::111122223333:role/job",
    }
    if job_status == "Failed":
        job["FailureReason"] = "ClientError: endpoint chat-endpoint returned 424 for 12 of 40 prompts"
    stubs["sagemaker"].add_response("describe_processing_job", job, {"ProcessingJobName": "fmeval-eval-1"})


def test_start_evaluation_sends_the_endpoint_to_the_evaluation_state_machine(
    aws: Aws, stubs: dict[str, Stubber]
) -> None:
    expect_evaluation_stack(stubs)
    stubs["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": EVAL_RUN, "startDate": T0},
        {
            "stateMachineArn": EVAL_MACHINE,
            "name": "eval-1",
            "input": json.dumps(
                {"evaluation": {"endpoint_name": "chat-endpoint", "inference_component_name": "chat-ic"}}
            ),
        },
    )
    run_input = run.parse_input(
        None, ["evaluation.endpoint_name=chat-endpoint", "evaluation.inference_component_name=chat-ic"]
    )
    assert run.start(deployment(aws), "evaluation", run_input, "eval-1") == {"executionArn": EVAL_RUN, "startDate": T0}


def test_watch_evaluation_counts_the_states_of_the_parallel_branches(
    aws: Aws, stubs: dict[str, Stubber], evaluation_definition: dict[str, Any]
) -> None:
    # 6 top-level states + 4 jobs in the Parallel's branches, each with its own Fail state.
    assert run.count_states(evaluation_definition) == 14
    expect_evaluation_progress(stubs, evaluation_definition, "RUNNING", EVAL_RUNNING, "InProgress")
    done = [
        *EVAL_RUNNING,
        exited(14, "FoundationModelEvaluation"),
        *step(15, "Task", "ClarifyModelBias"),
        *step(17, "Task", "ClarifyExplainability"),
        event(19, "ParallelStateExited", stateExitedEventDetails={"name": "EvaluationJobs"}),
        *step(20, "Task", "ReadReport"),
        *step(22, "Choice", "ThresholdsMet"),
        *step(24, "Succeed", "ModelPassed"),
        event(26, "ExecutionSucceeded"),
    ]
    expect_evaluation_progress(
        stubs, evaluation_definition, "SUCCEEDED", done, "Completed", stopDate=T0 + timedelta(minutes=50)
    )
    lines = io.StringIO()
    sleeps: list[float] = []
    clock = iter([T0 + timedelta(minutes=m) for m in (20, 21)])
    item = run.watch(aws.client, EVAL_RUN, interval=30, sleep=sleeps.append, now=lambda: next(clock), progress_to=lines)
    assert item.status == "SUCCEEDED" and sleeps == [30]
    assert lines.getvalue().splitlines() == [
        "[20m00s] RUNNING | 1/14 states done | in FoundationModelEvaluation | processing job fmeval-eval-1: InProgress",
        "[50m00s] SUCCEEDED | 8/14 states done | processing job fmeval-eval-1: Completed",
    ]


def test_a_failed_evaluation_job_exits_1_naming_the_job_and_its_failure_reason(
    aws: Aws,
    stubs: dict[str, Stubber],
    evaluation_definition: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cause = json.dumps(
        {
            "ProcessingJobName": "fmeval-eval-1",
            "ProcessingJobStatus": "Failed",
            "FailureReason": "ClientError: endpoint chat-endpoint returned 424 for 12 of 40 prompts",
        }
    )
    failed = [
        *EVAL_RUNNING,
        event(
            14,
            "TaskFailed",
            taskFailedEventDetails={
                "resourceType": "sagemaker",
                "resource": "createProcessingJob.sync",
                "error": "States.TaskFailed",
                "cause": cause,
            },
        ),
        event(15, "FailStateEntered", stateEnteredEventDetails={"name": "FoundationModelEvaluationFailed"}),
        event(16, "ParallelStateFailed"),
        event(17, "FailStateEntered", stateEnteredEventDetails={"name": "EvaluationFailed"}),
        event(18, "ExecutionFailed", executionFailedEventDetails={"error": "EvaluationFailed", "cause": cause}),
    ]
    expect_evaluation_stack(stubs)  # `status evaluation eval-1` turns the run name into an ARN
    expect_evaluation_progress(
        stubs,
        evaluation_definition,
        "FAILED",
        failed,
        "Failed",
        stopDate=T0 + timedelta(minutes=25),
        error="EvaluationFailed",
        cause=cause,
    )
    monkeypatch.setattr(Context, "aws", property(lambda self: aws))
    assert cli.main(["run", "status", "evaluation", "eval-1"]) == ExitCode.FAILED
    captured = capsys.readouterr()
    assert captured.out == ("[25m00s] FAILED | 1/14 states done | processing job fmeval-eval-1: Failed\n")
    assert captured.err == (
        "neuronctl: error: run failed in state 'FoundationModelEvaluation': States.TaskFailed: fmeval-eval-1: "
        f"ClientError: endpoint chat-endpoint returned 424 for 12 of 40 prompts ({EVAL_RUN})\n"
    )


def test_capacity_table_lists_offerings_by_start_date_then_price(
    aws: Aws, stubs: dict[str, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_offerings(stubs, paged=False)
    monkeypatch.setattr(Context, "aws", property(lambda self: aws))
    assert (
        cli.main(
            [
                "capacity",
                "--instance-type",
                "ml.trn1.32xlarge",
                "--count",
                "2",
                "--hours",
                "48",
                "--start-after",
                "2026-12-01",
                "--end-before",
                "2027-01-01",
            ]
        )
        == ExitCode.OK
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["start", "(UTC)", "end", "(UTC)"]
    rows = [line.split() for line in lines[2:]]
    # start date first; on the same start (Dec 2), the cheaper offering (capacity block, $1,900) first.
    assert [(r[0], r[4], r[9], r[-1]) for r in rows] == [
        ("2026-12-01", "capacity-block", "2,500.00", "cb-first"),
        ("2026-12-02", "capacity-block", "1,900.00", "cb-early-cheap"),
        ("2026-12-02", "training-plan", "2,400.00", "tpo-early"),
        ("2026-12-04", "training-plan", "2,100.00", "tpo-late"),
    ]
    assert rows[1][-2] == "$19.79"  # $1,900 over 2 instances x 48 h
