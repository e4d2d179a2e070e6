"""Every AWS request the workflows of every profile embed, checked as the service would check it: botocore's structure
check plus each value's enum, length/range and pattern from the installed botocore's service models, with every
computed (`.$`) value evaluated for a worst-case execution (tests/support/service_model.py, workflow_requests.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from pydantic import ValidationError

from config import available_profiles
from config.evaluation import PROCESSING_MAX_RUNTIME, JobResources
from config.training import MAX_KEEP_ALIVE_SECONDS
from neuronctl.session import Aws, AwsOptions
from tests.support.harness import Synthesized, synth
from tests.support.offline import check_every_request, offline_session
from tests.support.service_model import CLIENT_SERVICES, SERVICES, check_client, java_pattern, service_model, violations
from tests.support.workflow_requests import (
    EXECUTION_NAME,
    RUN_UUID,
    definitions,
    evaluate,
    execution_status_event,
    requests,
    run_id_of,
)

# The evaluation workflow is started by `neuronctl evaluate` with the endpoint to score (its longest possible names:
# SageMaker's EndpointName and InferenceComponentName are at most 63 characters).
EVALUATION_INPUT = {"evaluation": {"endpoint_name": "e" * 63, "inference_component_name": "i" * 63}}


# The candidate clean-up is started by EventBridge with the event of a lifecycle execution's end.
CLEANUP_MACHINE = "CandidateCleanupStateMachine"
LIFECYCLE_MACHINE = "WorkflowStateMachine"


def execution_input(unit: str, machine: str, machines: list[tuple[str, str]]) -> dict[str, Any]:
    if unit == "evaluation":
        return EVALUATION_INPUT
    if machine.startswith(CLEANUP_MACHINE):
        (lifecycle,) = [m for u, m in machines if u == unit and m.startswith(LIFECYCLE_MACHINE)]
        return execution_status_event(lifecycle, "TIMED_OUT")
    return {}


def embedded(s: Synthesized) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(machine and state, service, operation, request) of every API task of every state machine of a profile.
    The clean-up's states are named `lifecycle/cleanup/<state>`."""
    found = []
    machines = list(definitions(s))
    names = [(unit, name) for unit, name, _ in machines]
    for unit, name, definition in machines:
        where = f"{unit}/cleanup" if name.startswith(CLEANUP_MACHINE) else unit
        for state, service, operation, request in requests(definition, name, execution_input(unit, name, names)):
            found.append((f"{where}/{state}", service, operation, request))
    return found


def fine_tune_request(s: Synthesized) -> dict[str, Any]:
    (request,) = [r for name, _, op, r in embedded(s) if name == "lifecycle/FineTune" and op == "CreateTrainingJob"]
    return request


# --- the validator catches what botocore's structure check lets through ---------------------------------------------
BOGUS = {
    "TrainingInputMode": (("AlgorithmSpecification", "TrainingInputMode"), "Bogus", "is not one of"),
    "CompressionType": (("OutputDataConfig", "CompressionType"), "WHATEVER", "is not one of"),
    "InstanceType": (("ResourceConfig", "InstanceType"), "ml.nope", "is not one of"),
    "TrainingJobName": (("TrainingJobName",), "job name with spaces!" * 4 + "abcdef", "does not match"),
}


@pytest.mark.parametrize("member", sorted(BOGUS))
def test_a_bogus_create_training_job_value_is_rejected_though_botocore_accepts_it(
    member: str, dev: Synthesized
) -> None:
    path, bad, message = BOGUS[member]
    request = copy.deepcopy(fine_tune_request(dev))
    assert violations("sagemaker", "CreateTrainingJob", request) == []
    node = request
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = bad
    shape = service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    assert not ParamValidator().validate(request, shape).has_errors()  # the gap this validator closes
    problems = violations("sagemaker", "CreateTrainingJob", request)
    mine = [p for p in problems if p.startswith(f"CreateTrainingJob.{'.'.join(path)}: ") and repr(bad) in p]
    assert any(message in p for p in mine), problems


def test_the_90_character_job_name_is_refused_for_its_length_too() -> None:
    name = "job name with spaces!" * 4 + "abcdef"
    assert len(name) == 90
    problems = violations("sagemaker", "DescribeTrainingJob", {"TrainingJobName": name})
    assert problems[0].startswith("DescribeTrainingJob.TrainingJobName: 90 characters ('job name")
    assert problems[0].endswith("is above the maximum 63") and "does not match" in problems[1]


def lifecycle_definition(s: Synthesized) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (name, d) for unit, name, d in definitions(s) if unit == "lifecycle" and name.startswith(LIFECYCLE_MACHINE)
    ]
    return found


def test_a_computed_job_name_over_63_characters_fails(dev: Synthesized) -> None:
    """A stage prefix of 32 characters + a 32-character run id (an MD5 hex digest) = 64: one too many for a training
    job name."""
    assert len("fine-tune-with-a-longer-prefix--") == 32
    name, lifecycle = lifecycle_definition(dev)
    fine_tune = lifecycle["States"]["FineTune"]["Parameters"]
    assert fine_tune["TrainingJobName.$"] == "States.Format('fine-tune-{}', $.run.id)"
    fine_tune["TrainingJobName.$"] = "States.Format('fine-tune-with-a-longer-prefix--{}', $.run.id)"
    (request,) = [r for state, _, _, r in requests(lifecycle, name, {}) if state == "FineTune"]
    assert request["TrainingJobName"] == f"fine-tune-with-a-longer-prefix--{run_id_of(name)}"
    assert any(
        p.startswith("CreateTrainingJob.TrainingJobName: 64 characters") and "above the maximum 63" in p
        for p in violations("sagemaker", "CreateTrainingJob", request)
    )


def test_ranges_list_lengths_and_map_sizes_are_checked(dev: Synthesized) -> None:
    request = copy.deepcopy(fine_tune_request(dev))
    request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = 21601  # KeepAlivePeriodInSeconds: max 21600
    request["StoppingCondition"]["MaxRuntimeInSeconds"] = 0  # MaxRuntimeInSeconds: min 1
    request["Tags"] = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]  # TagList: max 50
    request["Environment"] = {f"K{i}": "v" for i in range(101)}  # TrainingEnvironmentMap: max 100
    problems = "\n".join(violations("sagemaker", "CreateTrainingJob", request))
    assert "CreateTrainingJob.ResourceConfig.KeepAlivePeriodInSeconds: 21601 is above the maximum 21600" in problems
    assert "CreateTrainingJob.StoppingCondition.MaxRuntimeInSeconds: 0 is below the minimum 1" in problems
    assert "CreateTrainingJob.Tags: 51 entries is above the maximum 50" in problems
    assert "CreateTrainingJob.Environment: 101 entries is above the maximum 100" in problems


# --- Java patterns as Python patterns --------------------------------------------------------------------------------
def test_every_pattern_of_the_services_we_call_compiles() -> None:
    """The workflows' four services and every service neuronctl and the evaluation job call."""
    patterns = {
        shape.metadata["pattern"]
        for service in SERVICES | CLIENT_SERVICES
        for shape in map(service_model(service).shape_for, service_model(service).shape_names)
        if "pattern" in shape.metadata
    }
    assert len(patterns) > 100
    for pattern in patterns:
        java_pattern(pattern)  # raises regex.error on a construct the translation misses


# (shape, values the pattern must accept, values it must refuse). Accepted values are the examples the SageMaker and
# Step Functions API references give (a role ARN, an S3 URI, an instance of each name rule), plus the characters the
# Java classes stand for: \p{L} letters of any script, \p{Z} separators, supplementary-plane characters.
PATTERN_CASES = [
    ("sagemaker", "TrainingJobName", ["fine-tune-1", "a", "a--b"], ["-a", "a-", "a b", "a_b"]),
    ("sagemaker", "RoleArn", ["arn:aws:iam::111122223333:role/SageMakerRole"], ["arn:aws:iam::1:role/x"]),
    ("sagemaker", "S3Uri", ["s3://amzn-s3-demo-bucket/prefix/", "https://example.com/a"], ["bucket/prefix"]),
    ("sagemaker", "TagValue", ["lifecycle-run é 1 :/=+-@", ""], ["semi;colon", "a\tb"]),
    ("sagemaker", "EntityDescription", ["Lifecycle run (job) \u2013 na\u00efve \u2713"], ["\x01"]),
    ("sagemaker", "ClientToken", ["token-1"], ["token 1", "\x7f"]),
    ("stepfunctions", "TraceHeader", ["Root=1-5759e988-bd862e3fe1be46a994272793"], ["é"]),
    ("stepfunctions", "CharacterRestrictedName", ["run-2026_11.30"], ["123", "run 1", "run/1"]),
]


@pytest.mark.parametrize(("service", "shape", "accepted", "refused"), PATTERN_CASES)
def test_translated_patterns_accept_the_documented_values_and_refuse_others(
    service: str, shape: str, accepted: list[str], refused: list[str]
) -> None:
    pattern = java_pattern(service_model(service).shape_for(shape).metadata["pattern"])
    assert [v for v in accepted if not pattern.fullmatch(v)] == []
    assert [v for v in refused if pattern.fullmatch(v)] == []


def test_surrogate_pairs_become_the_supplementary_planes() -> None:
    """Java's `\\uD800\\uDC00-\\uDBFF\\uDFFF` is every code point above U+FFFF (an emoji, for one)."""
    patterns = [
        p
        for p in (s.metadata.get("pattern") for s in map(sagemaker().shape_for, sagemaker().shape_names))
        if p and "\\uD800\\uDC00-\\uDBFF\\uDFFF" in p
    ]
    assert patterns
    assert java_pattern(patterns[0]).fullmatch("text \U0001f600 and tab\t")
    assert not java_pattern(patterns[0]).fullmatch("\x01")


def sagemaker() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


# --- the same check on a client's requests (neuronctl, the evaluation job) -------------------------------------------
def test_a_checked_client_reports_what_the_service_would_refuse_though_botocore_and_the_stubber_accept_it() -> None:
    """The hook the neuronctl fixtures install (tests.support.offline.check_every_request) on every client."""
    found: list[str] = []
    sfn = offline_session().client("stepfunctions")
    check_client(sfn, found.append)
    machine = "arn:aws:states:us-east-1:111122223333:stateMachine:Lifecycle"
    started = {"executionArn": f"{machine.replace('stateMachine', 'execution')}:r", "startDate": "2026-11-26T08:00:00Z"}
    with Stubber(sfn) as stubber:
        for name in ("r" * 80, "r" * 81):
            stubber.add_response("start_execution", started, {"stateMachineArn": machine, "name": name})
            sfn.start_execution(stateMachineArn=machine, name=name)
    assert found == [f"stepfunctions StartExecution.name: 81 characters ({'r' * 81!r}) is above the maximum 80"]

    found.clear()
    runtime = offline_session().client("sagemaker-runtime")
    check_client(runtime, found.append)
    with Stubber(runtime) as stubber:
        stubber.add_response("invoke_endpoint", {"Body": b"{}"}, {"EndpointName": "chat_endpoint", "Body": b"{}"})
        runtime.invoke_endpoint(EndpointName="chat_endpoint", Body=b"{}")
    assert found == [
        "sagemaker-runtime InvokeEndpoint.EndpointName: 'chat_endpoint' does not match EndpointName's pattern "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
    ]


def test_every_client_neuronctl_creates_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wiring the neuronctl fixtures use: any `Aws` - also the one `neuronctl.cli.main` builds - hands out checked
    clients, so a test whose command sends a value the service refuses fails."""
    found = check_every_request(monkeypatch)
    aws = Aws(AwsOptions(region="us-east-1"), session=offline_session())
    runtime = aws.client("sagemaker-runtime")
    assert aws.client("sagemaker-runtime") is runtime  # checked once, not once per use
    with Stubber(runtime) as stubber:
        stubber.add_response("invoke_endpoint", {"Body": b"{}"}, {"EndpointName": "e" * 64, "Body": b"{}"})
        runtime.invoke_endpoint(EndpointName="e" * 64, Body=b"{}")
    assert found == [
        f"sagemaker-runtime InvokeEndpoint.EndpointName: 64 characters ({'e' * 64!r}) is above the maximum 63"
    ]


# --- the evaluator ----------------------------------------------------------------------------------------------------
def test_the_evaluator_computes_the_intrinsics_the_workflows_use() -> None:
    state = {"run": {"id": "r1"}, "defaults": {"a": 1, "b": 2}, "doc": '{"x": [1]}'}
    ctx = {"Execution": {"Name": "exec", "Id": "arn:x", "Input": {"b": 3}}}
    assert evaluate("States.Format('s3://b/{}/{}/x', $.run.id, $$.Execution.Name)", state, ctx) == "s3://b/r1/exec/x"
    assert evaluate("States.Format('a, b {}', States.Format('{}-1', $.run.id))", state, ctx) == "a, b r1-1"
    assert evaluate("States.JsonMerge($.defaults, $$.Execution.Input, false)", state, ctx) == {"a": 1, "b": 3}
    assert evaluate("States.JsonToString($.run)", state, ctx) == '{"id":"r1"}'
    assert evaluate("States.StringToJson($.doc)", state, ctx) == {"x": [1]}
    assert evaluate("States.UUID()", state, ctx) == RUN_UUID and len(RUN_UUID) == 36
    # The digests of the developer guide's algorithms, as lowercase hex (hashlib's test vectors for "abc").
    assert evaluate("States.Hash('abc', 'MD5')", state, ctx) == "900150983cd24fb0d6963f7d28e17f72"
    assert evaluate("States.Hash('abc', 'SHA-1')", state, ctx) == "a9993e364706816aba3e25717850c26c9cd0d89d"
    with pytest.raises(AssertionError, match=r"States\.ArrayLength: not an intrinsic function the workflows use"):
        evaluate("States.ArrayLength($.run)", state, ctx)
    with pytest.raises(AssertionError, match="2 placeholders, 1 values"):
        evaluate("States.Format('{}{}', $.run.id)", state, ctx)
    with pytest.raises(KeyError, match="has no 'missing' there"):
        evaluate("$.run.missing", state, ctx)


def test_computed_values_reach_their_worst_case_lengths(dev: Synthesized) -> None:
    sent = {name: request for name, _, _, request in embedded(dev)}
    run = run_id_of(lifecycle_definition(dev)[0])
    assert len(run) == 32 and sent["lifecycle/FineTune"]["TrainingJobName"] == f"fine-tune-{run}"
    key = sent["lifecycle/ReadEvaluationReport"]["Key"]  # the state machine's name (80 characters), the execution's
    assert (
        key.startswith("evaluation-reports/")
        and key.endswith(f"/{EXECUTION_NAME}/report.json")
        and len(key) == 19 + 80 + 1 + 80 + 12
    )
    assert len(EXECUTION_NAME) == service_model("stepfunctions").shape_for("Name").metadata["max"] == 80
    # The evaluation job sees the state as it is when the job starts: the endpoint, no job results yet.
    target = json.loads(sent["lifecycle/FoundationModelEvaluation"]["Environment"]["EVALUATION_TARGET"])
    assert target == {"endpoint_name": f"eval-{run}", "jobs": {}}


# --- every embedded request of every profile --------------------------------------------------------------------------
@pytest.mark.parametrize("profile", available_profiles())
def test_every_embedded_request_of_every_profile_passes_the_service_model(profile: str) -> None:
    found = embedded(synth(profile))
    problems = {name: p for name, service, op, request in found if (p := violations(service, op, request))}
    assert problems == {}
    if any(name.startswith("lifecycle/") for name, *_ in found):
        assert {"sagemaker", "sns"} <= {service for _, service, _, _ in found}, profile


def test_every_workflow_request_service_is_covered() -> None:
    """A Task for a service the validator has no model entry for would be skipped silently: fail instead."""
    for profile in available_profiles():
        for _, _, definition in definitions(synth(profile)):
            text = json.dumps(definition)
            for resource in {r for r in text.split('"') if r.startswith("arn:aws:states:::")}:
                assert any(resource.startswith(p) for p in ALL_PREFIXES), resource


ALL_PREFIXES = (
    "arn:aws:states:::sagemaker:",
    "arn:aws:states:::aws-sdk:sagemaker:",
    "arn:aws:states:::aws-sdk:s3:",
    "arn:aws:states:::s3:",
    "arn:aws:states:::sns:",
    "arn:aws:states:::aws-sdk:sns:",
    "arn:aws:states:::states:",
    "arn:aws:states:::aws-sdk:sfn:",
)


def test_the_configs_limits_are_the_service_models() -> None:
    # The config refuses what SageMaker would refuse, no more and no less: warm pools (config/training.py) and the
    # processing job runtime of evaluation and monitoring jobs (config/evaluation.py), read from the installed botocore.
    sagemaker = service_model("sagemaker")
    assert sagemaker.shape_for("KeepAlivePeriodInSeconds").metadata["max"] == MAX_KEEP_ALIVE_SECONDS == 21_600
    assert sagemaker.shape_for("ProcessingMaxRuntimeInSeconds").metadata["max"] == PROCESSING_MAX_RUNTIME == 777_600
    stopping = sagemaker.shape_for("ProcessingStoppingCondition").members["MaxRuntimeInSeconds"]
    assert stopping.name == "ProcessingMaxRuntimeInSeconds"
    with pytest.raises(ValidationError, match="less than or equal to 777600"):
        JobResources(max_runtime_seconds=PROCESSING_MAX_RUNTIME + 1)
