"""Least privilege (issue 12): the SageMaker execution-role construct alone in a bare Stack, wildcard
acknowledgements that name their exact finding, and what each synthesized role can reach."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
import yaml
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_constructs.handoffs import EvaluationStage
from cdk_constructs.lifecycle_workflow import LifecycleWorkflow
from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from cdk_constructs.source_archive import SourceArchive
from compliance.wildcards import ExpectedWildcards
from config import AppConfig, available_profiles, load_config
from config.loader import CONFIG_DIR
from neuron.errors import UserError
from stacks.lifecycle import LifecycleStack
from tests.support.harness import CDK_CONTEXT, Synthesized, synth, synth_config
from tests.support.iam_policies import allowed, flat, policies

ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


# --- the construct alone ---------------------------------------------------------------------------------------------
def bare() -> tuple[cdk.App, cdk.Stack, SageMakerExecutionRole, s3.IBucket]:
    """A bare Stack (imported bucket and key: nothing else for the packs to report) with one execution role."""
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Bare", env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    bucket = s3.Bucket.from_bucket_name(stack, "Data", "data-bucket")
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    execution = SageMakerExecutionRole(
        stack,
        "Execution",
        description="a test role",
        log_groups=["/aws/sagemaker/TrainingJobs:*"],
        metric_namespaces=["/aws/sagemaker/*"],
        image_repository_arns=[f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/images"],
        in_vpc=True,
    )
    execution.grant_read(bucket, "base/", "model.tar.gz", label="data")
    execution.grant_write(bucket, "out/", label="data")
    execution.grant_key(key, encrypt=False)
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    return app, stack, execution, bucket


def statements(app: cdk.App) -> list[dict[str, Any]]:
    template = app.synth().get_stack_by_name("Bare").template
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert [r["Type"] for r in template["Resources"].values()].count("AWS::IAM::Policy") == 0  # no inline policy
    found: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_role_construct_grants_exact_bucket_arns_and_prefixes_in_one_managed_policy() -> None:
    app, _, execution, _ = bare()
    found = statements(app)
    reads = next(s for s in found if s["Action"] == "s3:GetObject")
    assert reads["Resource"] == ["arn:aws:s3:::data-bucket/base/*", "arn:aws:s3:::data-bucket/model.tar.gz"]
    listing = next(s for s in found if s["Action"] == "s3:ListBucket")
    assert listing["Resource"] == "arn:aws:s3:::data-bucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["base/*", "model.tar.gz"]}}
    writes = next(s for s in found if "s3:PutObject" in s["Action"])
    assert writes["Resource"] == "arn:aws:s3:::data-bucket/out/*"
    key = next(s for s in found if "kms:Decrypt" in s["Action"])
    assert key == {"Action": ["kms:Decrypt", "kms:DescribeKey"], "Effect": "Allow", "Resource": KEY_ARN}
    assert any("ec2:CreateNetworkInterface" in s["Action"] for s in found)
    assert not any("*" in json.dumps(s["Action"]) for s in found)  # exact actions, no CDK grant sets
    assert execution.role.assume_role_policy is not None


def test_each_wildcard_is_acknowledged_by_its_exact_finding_with_its_own_reason() -> None:
    app, _, _, _ = bare()
    assembly = app.synth()
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    suppressed = {
        finding["ruleName"]: finding["reason"] for r in report["pluginReports"] for finding in r["suppressedViolations"]
    }
    assert set(suppressed) == {
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::data-bucket/base/*]",
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::data-bucket/out/*]",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:*]",
        *(
            f"AwsSolutions-IAM5[Resource::arn:aws:ec2:us-east-1:123456789012:{kind}/*]"
            for kind in ("network-interface", "subnet", "security-group")
        ),
    }
    assert "under base/" in suppressed["AwsSolutions-IAM5[Resource::arn:aws:s3:::data-bucket/base/*]"]
    assert "PutMetricData" in suppressed["AwsSolutions-IAM5[Resource::*]"]  # one reason per cause, joined


def test_a_new_unexpected_wildcard_fails_the_synth() -> None:
    app, _, execution, bucket = bare()
    execution.policy.add_statements(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")])
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_an_acknowledgement_whose_wildcard_is_gone_fails_the_synth() -> None:
    app, _, execution, bucket = bare()
    execution.wildcards.resource(bucket.arn_for_objects("gone/*"), "a reason that describes nothing in this policy")
    with pytest.raises(RuntimeError, match=r"data-bucket/gone/\* is not in the policy any more"):
        app.synth()


def test_a_wildcard_acknowledgement_needs_a_reason_a_reviewer_can_read() -> None:
    _, _, execution, _ = bare()
    with pytest.raises(ValueError, match="too short"):
        ExpectedWildcards.of(execution.policy).resource("*", "because")


def test_a_wildcard_invoke_needs_a_reason() -> None:
    _, _, execution, _ = bare()
    with pytest.raises(ValueError, match="say why"):
        execution.grant_invoke(["eval-*"])


# --- the synthesized profiles ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", available_profiles())
def test_no_policy_names_objects_of_every_bucket(profile: str) -> None:
    """Item 4: object ARNs name the platform's buckets, never `arn:aws:s3:::*/<prefix>`."""
    text = json.dumps(synth(profile).templates)
    assert "arn:aws:s3:::*" not in text and ':s3:::*"' not in text


def _hub_dev() -> Synthesized:
    """dev with its model from the Hugging Face Hub (no shipped profile has one since TGI needs a compiled export):
    served by LMI, which compiles at load, with internet egress."""
    data = load_config("dev", environ={}).model_dump()
    data["inference"]["models"]["chat"] |= {
        "source": {
            "type": "hub",
            "model_id": "meta-llama/Llama-3.1-8B-Instruct",
            "revision": "0123456789abcdef0123456789abcdef01234567",
        },
        "compiled_artifacts": None,
        "server": "lmi-neuronx",
    }
    data["evaluation"]["foundation_model"]["payload_format"] = "lmi"
    return synth_config(AppConfig.model_validate(data))


def test_hub_model_role_reaches_images_logs_metrics_and_its_capture_prefix_only() -> None:
    """Item 1: a Hub model with internet egress: its role reads no data and cannot decrypt."""
    dev = _hub_dev()
    found = policies(dev, "inference", "Execution")
    actions = {a for st in found for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    assert "s3:GetObject" not in actions and "s3:ListBucket" not in actions
    assert "kms:Decrypt" not in actions and not any(a.startswith("ec2:") for a in actions)
    assert allowed(found, "s3:PutObject", "<PublishOutputFnGetAttDataCaptureBucket>/data-capture/dev/x") or any(
        "data-capture/dev/*" in flat(st["Resource"]) for st in found if "s3:PutObject" in st["Action"]
    )


def test_s3_model_role_reads_its_prefixes_of_the_models_bucket_in_the_vpc(prod: Synthesized) -> None:
    found = policies(prod, "inference", "Execution")
    reads = [flat(r) for st in found if st["Action"] == "s3:GetObject" for r in st["Resource"]]
    assert reads and all(r.startswith("<PublishOutputFnGetAttModelsBucket") for r in reads)
    assert any("ec2:CreateNetworkInterface" in st["Action"] for st in found)


def test_a_hub_model_beside_s3_models_on_inference_components_is_refused(tmp_path: Path) -> None:
    """Item 1: components share the endpoint's role and network settings."""
    raw = yaml.safe_load((CONFIG_DIR / "multimodel.yaml").read_text())
    raw["inference"]["models"]["mistral"]["source"] = {
        "type": "hub",
        "model_id": "mistralai/Mistral-7B-Instruct-v0.3",
        "revision": "0123456789abcdef0123456789abcdef01234567",
    }
    raw["inference"]["models"]["mistral"].pop("compiled_artifacts", None)
    (tmp_path / "mixed.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(
        UserError, match=r"models \['mistral'\] download from the Hugging Face Hub.*\['embed', 'llama'\]"
    ):
        load_config("mixed", config_dir=tmp_path, environ={})


def test_lifecycle_models_run_as_their_own_role_in_the_vpc(dev: Synthesized) -> None:
    """Items 1 and 10: the candidate and deployed models are not the inference stack's role, read only what they load
    (dev serves with TGI: the compile job's output, docs/compile.md) and always get the network-interface statement
    (CreateModel sends a VpcConfig)."""
    states = json.loads(flat(dev.workflow("lifecycle")["DefinitionString"]))["States"]
    role = states["CreateModel"]["Parameters"]["ExecutionRoleArn"]
    assert role.startswith("<ModelRole") and role.endswith(".Arn>")
    found = policies(dev, "lifecycle", "ModelRole")
    assert any("ec2:CreateNetworkInterface" in st["Action"] for st in found)
    reads = [flat(r) for st in found if st["Action"] == "s3:GetObject" for r in [st["Resource"]]]
    assert reads == ["<PublishOutputFnGetAttModelsBucket970C6ADAArn603640D1>/compiled/lifecycle/*"]
    assert not [k for k in dev.templates["lifecycle"]["Resources"] if k.startswith("ServingReadsTrainingOutput")]


LIVE = "<EndpointRef>"


def workflow_statements(s: Synthesized) -> list[dict[str, Any]]:
    return policies(s, "lifecycle", "WorkflowRole")


def test_workflow_role_acts_only_on_its_own_names(dev: Synthesized) -> None:
    """Item 5: generated-name prefixes; DeleteEndpoint only on candidates; UpdateEndpoint only on the live one."""
    found = workflow_statements(dev)
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:"
    assert allowed(found, "sagemaker:DeleteEndpoint", f"{arn}endpoint/eval-1234")
    assert not allowed(found, "sagemaker:DeleteEndpoint", f"{arn}endpoint/someone-elses")
    assert not allowed(found, "sagemaker:CreateTrainingJob", f"{arn}training-job/other-job")
    assert allowed(found, "sagemaker:CreateTrainingJob", f"{arn}training-job/fine-tune-1234")
    assert not allowed(found, "sagemaker:CreateModel", f"{arn}model/other")
    update = [st for st in found if "sagemaker:UpdateEndpoint" in st["Action"]]
    assert len(update) == 1
    resources = sorted(flat(r) for r in update[0]["Resource"])
    # The live endpoint's ARN (the inference stack's output of the endpoint's Ref) and the workflow's live configs.
    assert resources == [
        next(r for r in resources if r.startswith("<PublishOutputRefEndpoint")),
        f"{arn}endpoint-config/live-*",
    ]
    everything = [
        flat(r) for st in found for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    ]
    # Every wildcard ARN has a fixed name prefix; model packages only in this profile's group.
    assert not [r for r in everything if r.startswith(arn) and r.endswith("/*") and "ModelPackageGroupArn" not in r]
    (passes,) = [st for st in found if st["Action"] == "iam:PassRole"]
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_training_role_reads_its_code_object_and_the_base_and_teacher_prefixes_only(dev: Synthesized) -> None:
    """Item 6."""
    found = policies(dev, "lifecycle", "TrainingRole")
    reads = sorted(flat(r) for st in found if st["Action"] == "s3:GetObject" for r in _listed(st["Resource"]))
    models = [r for r in reads if "ModelsBucket" in r]
    assert dev.config.lifecycle.distillation_teacher_prefix is None
    assert models == [
        f"<PublishOutputFnGetAttModelsBucket970C6ADAArn603640D1>/{dev.config.lifecycle.base_model_prefix}*"
    ]
    code = [r for r in reads if "cdk-" in r]
    stack = dev.stacks["lifecycle"]
    assert isinstance(stack, LifecycleStack)
    assert len(code) == 1 and code[0].endswith(f"/{stack.code.asset.s3_object_key}") and "*" not in code[0]


def _listed(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


def test_processing_role_invokes_the_profiles_endpoint_and_the_lifecycle_candidates_only(dev: Synthesized) -> None:
    """Item 8."""
    found = policies(dev, "evaluation", "ProcessingRole")
    (invoke,) = [st for st in found if st["Action"] == "sagemaker:InvokeEndpoint"]
    resources = [flat(r) for r in _listed(invoke["Resource"])]
    assert f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/eval-*" in resources
    assert any(r.startswith("<PublishOutputFnRef") or "Endpoint" in r for r in resources if "eval-" not in r)
    assert not [r for r in resources if r.endswith("endpoint/*") or r.endswith("inference-component/*")]


def test_model_monitor_role_reads_the_monitored_endpoints_captured_data() -> None:
    """Item 9: the schedules run as the processing role, which reads the configured capture prefix, and only it."""
    s = synth("monitoring")
    assert s.config.evaluation is not None and s.config.evaluation.monitoring is not None
    assert s.resources("evaluation", "AWS::SageMaker::MonitoringSchedule")
    found = policies(s, "evaluation", "ProcessingRole")
    reads = [flat(r) for st in found if st["Action"] == "s3:GetObject" for r in _listed(st["Resource"])]
    captured = [r for r in reads if "DataCaptureBucket" in r]
    assert len(captured) == 1 and captured[0].endswith(f"/{s.config.evaluation.monitoring.capture_prefix}*")
    # Without monitoring (dev) the role reads no captured data.
    plain = [flat(r) for st in policies(synth("dev"), "evaluation", "ProcessingRole") for r in _listed(st["Resource"])]
    assert not [r for r in plain if "DataCaptureBucket" in r]


def test_without_a_serving_target_a_passing_model_waits_for_a_person(dev: Synthesized) -> None:
    """Item 12: without an inference stack the jobs score whatever endpoint the input names, so the gate never
    auto-approves; with one (dev, approval auto) it does."""
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Bare", env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    job_role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    stage = EvaluationStage(
        jobs={"Score": {"ProcessingJobName.$": "States.Format('score-{}', States.UUID())"}},
        role=job_role,
        report_bucket=s3.Bucket.from_bucket_name(stack, "Reports", "reports"),
        report_key_path="States.Format('evaluation-reports/{}/report.json', $$.Execution.Name)",
        thresholds={"toxicity": 0.1},
        directions={"toxicity": "max"},
        report_prefix="evaluation-reports/",
    )
    LifecycleWorkflow(
        stack,
        "Workflow",
        fine_tune_request={"TrainingJobName.$": "States.Format('fine-tune-{}', $.run.id)"},
        pretrain_request=None,
        training_role=job_role,
        model_role=None,
        training_output_s3_uri="s3://models/training-output/",
        run_defaults={"evaluation_endpoint_name": ""},
        model_package_group_name="group",
        model_package_group_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/group",
        package_image_uri="image:1",
        package_environment={},
        package_instance_type="ml.inf2.xlarge",
        auto_approve=True,
        evaluation=stage,
        serving=None,
        deploy=False,
        topic=sns.Topic.from_topic_arn(stack, "Topic", f"arn:aws:sns:us-east-1:{ACCOUNT}:t"),
        key=kms.Key.from_key_arn(stack, "Key", KEY_ARN),
        log_retention=logs.RetentionDays.ONE_WEEK,
        timeout=cdk.Duration.hours(30),
        poll_interval=cdk.Duration.seconds(60),
    )
    template = app.synth().get_stack_by_name("Bare").template
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    states = json.loads(flat(machine["Properties"]["DefinitionString"]))["States"]
    assert states["GatePassed"]["Result"]["approval_status"] == "PendingManualApproval"
    assert dev.config.lifecycle.approval == "auto" and "inference" in dev.templates
    served = json.loads(flat(dev.workflow("lifecycle")["DefinitionString"]))
    assert served["States"]["GatePassed"]["Result"]["approval_status"] == "Approved"


def test_training_code_archive_is_built_in_a_private_directory(tmp_path: Path) -> None:
    """Item 13: not in a shared, world-writable folder where another user could swap the uploaded code."""
    (tmp_path / "train.py").write_text("print('train')\n")
    stack = cdk.Stack(cdk.App(), "Bare")
    first = SourceArchive(stack, "First", source=tmp_path)
    second = SourceArchive(stack, "Second", source=tmp_path)
    for archive in (first, second):
        assert stat.S_IMODE(archive.archive_path.parent.stat().st_mode) == 0o700
        assert archive.archive_path.parent.stat().st_uid == os.getuid()
    assert first.archive_path.parent != second.archive_path.parent
    assert first.file_name == second.file_name  # the same content gives the same asset


def test_buckets_refuse_other_keys_and_the_access_log_bucket_has_no_acls(dev: Synthesized) -> None:
    """Item 13."""
    platform = dev.templates["platform"]["Resources"]
    denies = [
        st
        for r in platform.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        for st in r["Properties"]["PolicyDocument"]["Statement"]
        if st.get("Sid") in ("DenyOtherEncryptionKeys", "DenyOtherEncryption")
    ]
    assert len(denies) == 2 * 5  # both statements on each of the five data buckets
    for st in denies:
        assert st["Effect"] == "Deny" and st["Action"] == "s3:PutObject"
    logs = next(
        r["Properties"] for k, r in platform.items() if r["Type"] == "AWS::S3::Bucket" and k.startswith("AccessLogs")
    )
    assert logs["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = logs["LifecycleConfiguration"]["Rules"]
    assert (
        rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == dev.config.platform.noncurrent_version_expiration_days
    )


def test_alarm_topic_key_serves_cloudwatch_only_for_this_account(dev: Synthesized) -> None:
    (key,) = [r for r in dev.templates["inference"]["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    (cloudwatch,) = [
        st
        for st in key["Properties"]["KeyPolicy"]["Statement"]
        if st.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_model_package_group_is_retained_with_the_data(prod: Synthesized, dev: Synthesized) -> None:
    for s in (prod, dev):
        (group,) = [
            r
            for r in s.templates["lifecycle"]["Resources"].values()
            if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
        ]
        assert (group.get("DeletionPolicy") == "Retain") == s.config.platform.retain_data
    assert prod.config.platform.retain_data and not dev.config.platform.retain_data


def test_s3_gateway_endpoint_reaches_this_accounts_buckets_and_the_documented_aws_buckets_only(
    dev: Synthesized,
) -> None:
    """Item 2: without a policy any workload in the VPC could write to any bucket of any account."""
    endpoints = [
        r["Properties"] for r in dev.templates["platform"]["Resources"].values() if r["Type"] == "AWS::EC2::VPCEndpoint"
    ]
    (gateway,) = [e for e in endpoints if e.get("VpcEndpointType") == "Gateway"]
    statements = {st["Sid"]: st for st in gateway["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ThisAccountsBuckets", "EcrImageLayers", "CloudFormationCustomResourceResponses"}
    assert statements["ThisAccountsBuckets"]["Condition"] == {
        "StringEquals": {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}
    }
    assert statements["EcrImageLayers"]["Resource"] == "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"
    assert statements["EcrImageLayers"]["Action"] == "s3:GetObject"
    assert statements["CloudFormationCustomResourceResponses"]["Resource"] == (
        "arn:aws:s3:::cloudformation-custom-resource-response-useast1/*"
    )
    interfaces = [e for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    assert interfaces
    for endpoint in interfaces:
        (only,) = endpoint["PolicyDocument"]["Statement"]
        assert only["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}


def test_endpoint_polls_wait_only_on_waiting_states_and_give_up_after_their_budget(dev: Synthesized) -> None:
    """Item 11: an unlisted status (Deleting, UpdateRollbackFailed, ...) or the end of the budget ends the wait."""
    states = json.loads(flat(dev.workflow("lifecycle")["DefinitionString"]))["States"]
    poll = dev.config.lifecycle.endpoint_poll_seconds
    for prefix in ("Candidate", "Live"):
        choice = states[f"{prefix}Status"]
        assert choice["Default"] == f"{prefix}NotServingNewModel"
        (in_service, keep_waiting) = choice["Choices"]
        assert in_service["And"][0] == {"Variable": f"$.{prefix}.status", "StringEquals": "InService"}
        assert keep_waiting["Next"] == f"{prefix}Wait"
        waiting, bound = keep_waiting["And"]
        assert sorted(c["StringEquals"] for c in waiting["Or"]) == ["Creating", "SystemUpdating", "Updating"]
        assert bound["Variable"] == f"$.{prefix}_polls.count" and 0 < bound["NumericLessThan"] * poll <= 12 * 3600
        assert states[f"{prefix}Describe"]["Next"] == f"{prefix}CountPoll"
        assert states[f"{prefix}CountPoll"]["Parameters"] == {"count.$": f"States.MathAdd($.{prefix}_polls.count, 1)"}
    assert (
        states["LiveStatus"]["Choices"][1]["And"][1]["NumericLessThan"]
        > (states["CandidateStatus"]["Choices"][1]["And"][1]["NumericLessThan"])
    )  # the live endpoint's blue/green deployment may take longer
