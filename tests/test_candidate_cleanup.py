"""Issue 12, item 11: a lifecycle run that times out, is stopped or fails leaves no candidate endpoint running.

The synthesized profiles: the EventBridge rule on the lifecycle's ends, the names the clean-up computes from the event
against the names the lifecycle computes inside the run (both evaluated for the same sample execution), its scope, and
its compliance acknowledgements (the construct alone: tests/test_constructs.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config import available_profiles
from tests.support.harness import Synthesized, synth
from tests.support.iam_policies import allowed, flat, policies, policy_documents
from tests.support.service_model import violations
from tests.support.workflow_requests import (
    context,
    definitions,
    evaluate,
    execution_status_event,
    render,
    requests,
    run_id_of,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:"
CLEANUP = "CandidateCleanup"


def machines(s: Synthesized) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """(name, definition) of the lifecycle workflow and of its clean-up, as deployed."""
    found = {name: d for unit, name, d in definitions(s) if unit == "lifecycle"}
    (lifecycle,) = [(n, d) for n, d in found.items() if n.startswith("WorkflowStateMachine")]
    (cleanup,) = [(n, d) for n, d in found.items() if n.startswith(f"{CLEANUP}StateMachine")]
    return lifecycle, cleanup


def lifecycle_names(name: str, definition: dict[str, Any]) -> dict[str, str]:
    """The candidate names the lifecycle's own Pass states compute inside its run."""
    ctx = context(name)
    states = definition["States"]
    run = {"id": evaluate(states["PrepareRun"]["Parameters"]["id.$"], {}, ctx)}
    recorded = render(states["RecordCandidate"]["Parameters"], {"run": run, "fine_tune": {"TrainingJobName": "j"}}, ctx)
    return {k: v for k, v in recorded.items() if k.endswith("_name")}


def cleanup_names(name: str, definition: dict[str, Any], event: dict[str, Any]) -> dict[str, str]:
    """The candidate names the clean-up computes from the event of the run's end."""
    ctx = context(name)
    states = definition["States"]
    run = render(states["IdentifyRun"]["Parameters"], event, ctx)
    names: dict[str, str] = render(states["NameCandidate"]["Parameters"], {**event, "run": run}, ctx)
    return names


# --- the rule --------------------------------------------------------------------------------------------------------
def test_the_rule_matches_the_lifecycles_timed_out_aborted_and_failed_executions_only(dev: Synthesized) -> None:
    resources = dev.templates["lifecycle"]["Resources"]
    (lifecycle,) = [
        k for k, r in resources.items() if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("Workflow")
    ]
    (rule,) = dev.resources("lifecycle", "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [{"Ref": lifecycle}], "status": ["TIMED_OUT", "ABORTED", "FAILED"]},
    }
    (target,) = rule["Properties"]["Targets"]
    (cleanup,) = [
        k for k in resources if k.startswith(f"{CLEANUP}StateMachine") and resources[k]["Type"].endswith("StateMachine")
    ]
    assert target["Arn"] == {"Ref": cleanup}
    assert "Input" not in target and "InputPath" not in target and "InputTransformer" not in target  # the whole event
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and "DeadLetterConfig" in target
    # EventBridge's role may start the clean-up and nothing else.
    events_role = target["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        st
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": events_role} in r["Properties"]["Roles"]
        for st in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": cleanup}}]
    # Only this rule may put undeliverable events in the dead-letter queue.
    (queue_policy,) = dev.resources("lifecycle", "AWS::SQS::QueuePolicy").values()
    (send,) = [st for st in queue_policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Allow"]
    (rule_id,) = dev.resources("lifecycle", "AWS::Events::Rule")
    assert send["Principal"] == {"Service": "events.amazonaws.com"} and send["Action"] == "sqs:SendMessage"
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


@pytest.mark.parametrize("profile", available_profiles())
def test_every_profile_that_creates_candidates_cleans_them_up(profile: str) -> None:
    """A candidate endpoint exists only with a serving target and an evaluation stage (an inference and an evaluation
    stack); then, and only then, the rule does."""
    s = synth(profile)
    if "lifecycle" not in s.templates:
        return
    (states,) = [d["States"] for unit, _, d in definitions(s) if unit == "lifecycle" and "PrepareRun" in d["States"]]
    hosts = "inference" in s.templates and "evaluation" in s.templates
    rules = s.resources("lifecycle", "AWS::Events::Rule")
    assert ("CreateCandidateEndpoint" in states) == hosts == (len(rules) == 1), profile


# --- the names -------------------------------------------------------------------------------------------------------
def test_the_cleanup_computes_the_names_the_run_gave_its_candidate(dev: Synthesized) -> None:
    """For the same execution, the clean-up (from the event) and the lifecycle (inside the run) compute the same
    names; with the run id a UUID drawn inside the run, nothing in the event could give them."""
    (lifecycle_name, lifecycle), (cleanup_name, cleanup) = machines(dev)
    run = run_id_of(lifecycle_name)
    expected = {
        "model_name": f"lifecycle-{run}",
        "eval_endpoint_name": f"eval-{run}",
        "live_config_name": f"live-{run}",
    }
    assert lifecycle_names(lifecycle_name, lifecycle) == expected
    for status in ("TIMED_OUT", "ABORTED", "FAILED"):
        event = execution_status_event(lifecycle_name, status)
        assert cleanup_names(cleanup_name, cleanup, event) == expected
    # Another execution (of the same machine, or the same name on another machine) gives other names.
    other = execution_status_event(lifecycle_name, "TIMED_OUT")
    other["detail"]["executionArn"] = other["detail"]["executionArn"].replace(":execution:", ":execution:x")
    assert cleanup_names(cleanup_name, cleanup, other)["eval_endpoint_name"] != expected["eval_endpoint_name"]


def test_the_cleanup_deletes_exactly_what_the_run_created(dev: Synthesized) -> None:
    """The requests each workflow sends for the same sample execution: every name the run's Create* calls give is
    the name the clean-up lists and deletes; each request passes the service model."""
    (lifecycle_name, lifecycle), (cleanup_name, cleanup) = machines(dev)
    created = {state: r for state, _, _, r in requests(lifecycle, lifecycle_name, {})}
    event = execution_status_event(lifecycle_name, "ABORTED")
    sent = {
        state: (operation, r)
        for state, service, operation, r in requests(cleanup, cleanup_name, event)
        if service == "sagemaker"
    }
    endpoint = created["CreateCandidateEndpoint"]["EndpointName"]
    config = created["CreateCandidateEndpointConfig"]["EndpointConfigName"]
    model = created["CreateModel"]["ModelName"]
    live = created["CreateLiveEndpointConfig"]["EndpointConfigName"]
    assert sent == {
        "FindCandidateEndpoint": ("ListEndpoints", {"NameContains": endpoint}),
        "DeleteCandidateEndpoint": ("DeleteEndpoint", {"EndpointName": endpoint}),
        "FindCandidateConfig": ("ListEndpointConfigs", {"NameContains": config}),
        "DeleteCandidateEndpointConfig": ("DeleteEndpointConfig", {"EndpointConfigName": config}),
        "FindLiveConfig": ("ListEndpointConfigs", {"NameContains": live}),
        "FindCandidateModel": ("ListModels", {"NameContains": model}),
        "DeleteCandidateModel": ("DeleteModel", {"ModelName": model}),
    }
    for operation, request in sent.values():
        assert violations("sagemaker", operation, request) == []
    assert len(endpoint) == len("eval-") + 32


def test_a_name_the_list_filter_refuses_is_caught() -> None:
    """The validator checks the List filters the clean-up sends (pattern [a-zA-Z0-9-]+, at most 63)."""
    problems = violations("sagemaker", "ListEndpoints", {"NameContains": "eval_" + "a" * 63})
    assert any("above the maximum 63" in p for p in problems) and any("does not match" in p for p in problems)


# --- scope -----------------------------------------------------------------------------------------------------------
def test_the_cleanup_role_deletes_only_the_lifecycles_candidates(dev: Synthesized) -> None:
    found = policies(dev, "lifecycle", f"{CLEANUP}Role")
    assert allowed(found, "sagemaker:DeleteEndpoint", f"{ARN}endpoint/eval-0a82b254786b1921417b9e1fae80f330")
    assert allowed(found, "sagemaker:DeleteEndpointConfig", f"{ARN}endpoint-config/eval-1")
    assert allowed(found, "sagemaker:DeleteModel", f"{ARN}model/lifecycle-1")
    for action, resource in [
        ("sagemaker:DeleteEndpoint", "endpoint/live-endpoint"),
        ("sagemaker:DeleteEndpointConfig", "endpoint-config/live-1"),  # the deployed model's config stays
        ("sagemaker:DeleteModel", "model/someone-elses"),
        ("sagemaker:DeleteEndpoint", "endpoint/NeuronGenAI-dev-chat"),
    ]:
        assert not allowed(found, action, f"{ARN}{resource}"), (action, resource)
    actions = {a for st in found for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    sagemaker = sorted(a for a in actions if a.startswith("sagemaker:"))
    assert sagemaker == [
        "sagemaker:DeleteEndpoint",
        "sagemaker:DeleteEndpointConfig",
        "sagemaker:DeleteModel",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:ListEndpoints",
        "sagemaker:ListModels",
    ]
    assert not [a for a in actions if a.startswith("iam:") or a.startswith("s3:")]
    (publish,) = [st for st in found if st["Action"] == "sns:Publish"]
    assert publish["Resource"] == {"Ref": next(iter(dev.resources("lifecycle", "AWS::SNS::Topic")))}
    (key,) = [st for st in found if st["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]]
    assert flat(key["Condition"]["StringEquals"]["kms:ViaService"]) == "sns.us-east-1.<AWS::URLSuffix>"


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_role_that_publishes_to_an_encrypted_topic_may_use_its_key_through_sns(profile: str) -> None:
    """SNS generates and decrypts an encrypted topic's data key with the publisher's credentials: without
    kms:GenerateDataKey and kms:Decrypt on the topic's key every notification fails with KMS AccessDenied."""
    s = synth(profile)
    checked = 0
    for unit, template in s.templates.items():
        resources = template["Resources"]
        for policy in (r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"):
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            for publish in (st for st in statements if st["Action"] == "sns:Publish"):
                topic = resources[publish["Resource"]["Ref"]]["Properties"]
                if "KmsMasterKeyId" not in topic:
                    continue
                checked += 1
                uses = [st for st in statements if st["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]]
                assert [st["Resource"] for st in uses] == [topic["KmsMasterKeyId"]], (unit, policy)
                (via,) = uses[0]["Condition"]["StringEquals"].values()
                assert flat(via) == f"sns.{s.config.region}.<AWS::URLSuffix>"
    assert checked == 3  # the lifecycle workflow, its candidate clean-up, the compile workflow


def test_parliament_sees_the_cleanup_policies(dev: Synthesized) -> None:
    """tests/test_policy_lint.py lints every policy of every profile; the clean-up's two are among them."""
    where = [w for w, _ in policy_documents(dev) if CLEANUP in w]
    assert len(where) == 2, where


def test_every_cleanup_acknowledgement_names_its_exact_finding_and_resource(dev: Synthesized) -> None:
    suppressed = {
        (finding["ruleName"], construct["constructPath"].removeprefix("NeuronGenAI-dev-lifecycle/"))
        for report in dev.validation_report["pluginReports"]
        for finding in report["suppressedViolations"]
        for construct in finding["violatingConstructs"]
        if f"/{CLEANUP}/" in construct["constructPath"]
    }
    role, events_role = (
        f"{CLEANUP}/Role/DefaultPolicy/Resource",
        f"{CLEANUP}/StateMachine/EventsRole/DefaultPolicy/Resource",
    )
    assert suppressed == {
        ("AwsSolutions-IAM5[Resource::*]", role),
        *(
            (f"AwsSolutions-IAM5[Resource::arn:aws:sagemaker:us-east-1:<AWS::AccountId>:{name}]", role)
            for name in ("endpoint/eval-*", "endpoint-config/eval-*", "model/lifecycle-*")
        ),
        *(
            (f"{pack}-IAMNoInlinePolicy", path)
            for pack in ("HIPAA.Security", "NIST.800.53.R5")
            for path in (role, events_role)
        ),
        ("AwsSolutions-SQS3", f"{CLEANUP}/DeadLetters/Resource"),
    }
    unacknowledged = [
        finding["ruleName"]
        for report in dev.validation_report["pluginReports"]
        for finding in report["violations"]
        if CLEANUP in json.dumps(finding)
    ]
    assert unacknowledged == []
