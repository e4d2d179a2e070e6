"""The compile constructs built alone in a bare stack: the workflow's states, run options and permissions, the job
role's scopes, and the lifecycle's compile step when it is given a compile request."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_constructs.compile_workflow import CompileJobRole, CompileWorkflow
from cdk_constructs.lifecycle_workflow import LifecycleWorkflow
from tests.support.bare_stack import bare, definition, policy_statements, ref, resources

RETENTION = logs.RetentionDays.ONE_MONTH


REQUEST = {"TrainingJobName.$": "States.Format('compile-{}', States.UUID())"}


def built_role(stack: cdk.Stack) -> tuple[CompileJobRole, s3.Bucket, kms.Key]:
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Models")
    role = CompileJobRole(
        stack,
        "Jobs",
        models_bucket=bucket,
        read_prefixes=["llama/", "mistral/"],
        write_prefixes=["compile-jobs/"],
        synced_prefixes=["compiled/llama/", "compiled/mistral/"],
        key=key,
        image_repository_arns=["arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference"],
    )
    return role, bucket, key


def managed_statements(stack: cdk.Stack, role: iam.IRole) -> list[dict[str, Any]]:
    role_ref = ref(stack, role.node.default_child)
    return [
        st
        for p in resources(stack, "AWS::IAM::ManagedPolicy").values()
        if role_ref in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def object_grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """S3 object action -> the key patterns it is granted on (the part after the bucket ARN)."""
    grants: dict[str, set[str]] = {}
    for st in statements:
        for action in _list(st["Action"]):
            if action.startswith("s3:") and action != "s3:ListBucket":
                for r in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                    grants.setdefault(action, set()).add(str(r["Fn::Join"][1][-1]))
    return grants


def test_compile_job_role_reads_the_sources_and_writes_only_the_compiled_prefixes() -> None:
    stack = bare()
    role, _, _ = built_role(stack)
    statements = managed_statements(stack, role.role)
    assert object_grants(statements) == {
        "s3:GetObject": {"/llama/*", "/mistral/*", "/compiled/llama/*", "/compiled/mistral/*"},
        "s3:PutObject": {"/compile-jobs/*", "/compiled/llama/*", "/compiled/mistral/*"},
        "s3:AbortMultipartUpload": {"/compile-jobs/*", "/compiled/llama/*", "/compiled/mistral/*"},
        "s3:DeleteObject": {"/compiled/llama/*", "/compiled/mistral/*"},  # the checkpoint sync's deletions
    }
    actions = {a for st in statements for a in _list(st["Action"])}
    assert {"ecr:BatchGetImage", "logs:PutLogEvents", "ec2:CreateNetworkInterface", "kms:Decrypt"} <= actions
    assert not {a for a in actions if a.endswith("*") or a == "s3:*"}
    pulls = [_list(st["Resource"]) for st in statements if "ecr:BatchGetImage" in _list(st["Action"])]
    assert pulls == [["arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference"]]


def test_compile_workflow_runs_each_model_or_the_named_one_and_notifies() -> None:
    stack = bare()
    role, _, key = built_role(stack)
    built = CompileWorkflow(
        stack,
        "Workflow",
        requests={"llama": REQUEST, "mistral": REQUEST},
        artifacts_s3_uris={"llama": "s3://models/compiled/llama/", "mistral": "s3://models/compiled/mistral/"},
        job_role=role.role,
        topic=sns.Topic(stack, "Topic"),
        key=key,
        log_retention=RETENTION,
        timeout=cdk.Duration.hours(6),
    )
    body = definition(stack)
    states = body["States"]
    assert body["StartAt"] == "LoadDefaults"
    assert states["LoadDefaults"]["Result"] == {"model": "all"}
    assert states["ModelKnown"]["Default"] == "UnknownModel"
    # Each model: requested? -> compile (.sync) -> record its prefix -> the next model's choice (or the notification).
    assert states["Compile-llama-Requested"]["Default"] == "Compile-mistral-Requested"
    assert states["Compile-llama"]["Next"] == "Record-llama"
    assert states["Record-llama"]["Next"] == "Compile-mistral-Requested"
    assert states["Record-mistral"]["Next"] == "NotifyCompiled"
    assert states["Compile-llama"]["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert states["Compile-llama"]["ResultSelector"] == {"TrainingJobName.$": "$.TrainingJobName"}
    assert states["Record-mistral"]["Parameters"] == {
        "job.$": "$.run.compiled.mistral.TrainingJobName",
        "compiled_artifacts": "s3://models/compiled/mistral/",
    }
    assert [c["Next"] for c in states["Compile-llama"]["Catch"]] == ["NotifyFailure"]
    assert set(built.requests) == {"Compile-llama", "Compile-mistral"}
    actions = {a for s in policy_statements(stack, built.role) for a in _list(s["Action"])}
    assert {"sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"} <= actions
    assert not {a for a in actions if a.startswith("sagemaker:") and "Endpoint" in a}
    assert "iam:PassRole" in actions


def _list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_a_compile_workflow_without_models_is_refused() -> None:
    stack = bare()
    role, _, key = built_role(stack)
    with pytest.raises(ValueError, match="at least one model"):
        CompileWorkflow(
            stack,
            "Workflow",
            requests={},
            artifacts_s3_uris={},
            job_role=role.role,
            topic=sns.Topic(stack, "Topic"),
            key=key,
            log_retention=RETENTION,
            timeout=cdk.Duration.hours(1),
        )


def lifecycle(stack: cdk.Stack, **compile_args: Any) -> LifecycleWorkflow:
    return LifecycleWorkflow(
        stack,
        "Lifecycle",
        fine_tune_request={"TrainingJobName.$": "States.Format('fine-tune-{}', $.run.id)"},
        pretrain_request=None,
        training_role=iam.Role(stack, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")),
        model_role=None,
        training_output_s3_uri="s3://models/training-output/",
        run_defaults={"base_model_s3_uri": "s3://models/base/"},
        model_package_group_name="group",
        model_package_group_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package-group/group",
        package_image_uri="image:1",
        package_environment={},
        package_instance_type="ml.inf2.8xlarge",
        auto_approve=False,
        evaluation=None,
        serving=None,
        deploy=False,
        topic=sns.Topic(stack, "Topic"),
        key=kms.Key(stack, "LifecycleKey"),
        log_retention=RETENTION,
        timeout=cdk.Duration.hours(30),
        poll_interval=cdk.Duration.seconds(60),
        **compile_args,
    )


def test_the_lifecycle_compiles_after_training_and_records_the_compiled_prefix() -> None:
    stack = bare()
    role, _, _ = built_role(stack)
    lifecycle(
        stack,
        compile_request={"TrainingJobName.$": "States.Format('compile-{}', $.run.id)"},
        compile_role=role.role,
        compile_output_s3_uri="s3://models/compiled/lifecycle",
    )
    states = definition(stack)["States"]
    assert states["RecordCandidate"]["Next"] == "CompileForServing"
    assert states["CompileForServing"]["Next"] == "RecordCompiledArtifacts"
    assert states["RecordCompiledArtifacts"]["Parameters"]["model_s3_uri.$"] == (
        "States.Format('s3://models/compiled/lifecycle/{}/output/model/', $.compile.TrainingJobName)"
    )
    assert states["RecordCompiledArtifacts"]["ResultPath"] == "$.candidate"


def test_a_lifecycle_compile_request_without_its_role_is_refused() -> None:
    with pytest.raises(ValueError, match="needs compile_role and compile_output_s3_uri"):
        lifecycle(bare(), compile_request=REQUEST)
