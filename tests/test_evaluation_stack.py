"""The evaluation stack: fmeval job, workflow, lifecycle contract, monitoring, guardrail; every processing-job request
validated against botocore's SageMaker service model as Step Functions will send it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from cfnlint.api import ManualArgs, lint

from cdk_constructs.fm_evaluation_job import EVALUATION_SOURCE
from cdk_constructs.guardrail import ContentGuardrail
from cdk_constructs.model_monitoring import analyzer_image_uri
from compliance.packs import add_compliance_checks
from config import AppConfig, load_config
from stacks.evaluation import EvaluationStack
from stacks.platform import PlatformStack
from tests.support.harness import CDK_CONTEXT, Synthesized
from tests.support.offline import stubbed_runtime
from tests.support.rendered_requests import (
    DEPLOY_TIME,
    EXECUTION,
    STATE,
    STATE_MACHINE,
    as_sent,
    assert_valid,
    definition,
    intrinsic,
    processing_states,
    render,
    resources,
)

MONITORING = {
    "data_quality_baseline": {"constraints_key": "dq/constraints.json", "statistics_key": "dq/statistics.json"},
    "model_quality": {
        "problem_type": "BinaryClassification",
        "baseline": {"constraints_key": "mq/constraints.json"},
        "probability_threshold": 0.5,
    },
    "inference_attribute": "0",
    "probability_attribute": "1",
}
ENDPOINT = "credit-scoring-endpoint"


@dataclass(frozen=True)
class Built:
    config: AppConfig
    stack: EvaluationStack
    template: dict[str, Any]
    assembly_dir: Path
    platform_template: dict[str, Any]

    def is_platform_key_arn(self, value: Any) -> bool:
        """True when a value is the cross-stack import of the platform stack's output holding its key's ARN."""
        imported = value.get("Fn::GetStackOutput", {}) if isinstance(value, dict) else {}
        if imported.get("StackName") != "Platform":
            return False
        (key,) = [k for k, r in self.platform_template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
        return bool(self.platform_template["Outputs"][imported["OutputName"]]["Value"] == {"Fn::GetAtt": [key, "Arn"]})


@cache
def monitored() -> Built:
    """The dev evaluation settings plus every monitoring schedule, on an endpoint name given in the test."""
    config = load_config(
        "dev",
        {"evaluation": {"clarify": {"predictor": {"endpoint_name": ENDPOINT}}, "monitoring": MONITORING}},
        environ={},
    )
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    env = cdk.Environment(region=config.region)
    platform = PlatformStack(app, "Platform", config=config, env=env)
    stack = EvaluationStack(app, "Evaluation", config=config, platform=platform.platform, env=env)
    add_compliance_checks(app)  # synth fails on any unacknowledged finding
    assembly = app.synth()
    return Built(
        config,
        stack,
        assembly.get_stack_by_name("Evaluation").template,
        Path(assembly.directory),
        assembly.get_stack_by_name("Platform").template,
    )


# ------------------------------------------------------------------------------------------------ tests
def test_every_processing_request_in_the_workflow_is_valid_for_botocore() -> None:
    states = processing_states(definition(monitored().template)["States"])
    assert set(states) == {"FoundationModelEvaluation", "ClarifyDataBias", "ClarifyModelBias", "ClarifyExplainability"}
    for name, state in states.items():
        request = as_sent(state["Parameters"])
        assert_valid("CreateProcessingJob", request)
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", request["ProcessingJobName"]), name


def test_lifecycle_stage_holds_the_same_valid_jobs_with_thresholds_and_report_path() -> None:
    built = monitored()
    stage = built.stack.stage
    states = processing_states(definition(built.template)["States"])
    assert list(stage.jobs) == ["FoundationModelEvaluation", "ClarifyDataBias"]
    resolved = built.stack.resolve(dict(stage.jobs))
    for name, request in resolved.items():
        assert render(request) == states[name]["Parameters"], f"{name} differs from the on-demand workflow's"
        assert_valid("CreateProcessingJob", as_sent(render(request)))
    assert stage.thresholds == built.config.evaluation.foundation_model.thresholds  # type: ignore[union-attr]
    assert stage.directions == {
        "factual_knowledge": "min",
        "qa_accuracy": "min",
        "toxicity": "max",
        "semantic_robustness": "max",
    }
    assert stage.role is built.stack.job_role and stage.report_bucket is not None
    # The report key the lifecycle reads is where the job's output channel puts report.json.
    fm = as_sent(render(resolved["FoundationModelEvaluation"]))
    (output,) = fm["ProcessingOutputConfig"]["Outputs"]
    written = f"{output['S3Output']['S3Uri']}/report.json".split("/", 3)[3]
    assert (
        written
        == intrinsic(stage.report_key_path, STATE)
        == f"evaluation-reports/{STATE_MACHINE}/{EXECUTION}/report.json"
    )
    assert "--output=" + output["S3Output"]["LocalPath"] in fm["AppSpecification"]["ContainerArguments"]


def test_fm_evaluation_job_runs_the_repo_image_privately_with_the_plan_as_arguments() -> None:
    built = monitored()
    fm = as_sent(render(built.stack.resolve(built.stack.fm_evaluation.request)))
    assert (
        fm["AppSpecification"]["ImageUri"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
        f"cdk-hnb659fds-container-assets-123456789012-us-east-1:{built.stack.fm_evaluation.image.asset_hash}"
    )
    assert fm["AppSpecification"]["ContainerArguments"][:4] == [
        "--threshold=factual_knowledge=0.6",
        "--threshold=qa_accuracy=0.5",
        "--threshold=toxicity=0.1",
        "--threshold=semantic_robustness=0.15",
    ]
    assert json.loads(fm["Environment"]["EVALUATION_TARGET"]) == STATE["evaluation"]
    assert fm["Environment"]["AWS_DEFAULT_REGION"] == "us-east-1"
    assert fm["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert fm["NetworkConfig"]["VpcConfig"]["Subnets"] == [DEPLOY_TIME] * 2
    cluster = fm["ProcessingResources"]["ClusterConfig"]
    assert (cluster["InstanceType"], cluster["VolumeKmsKeyId"]) == ("ml.m5.2xlarge", DEPLOY_TIME)
    assert fm["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    # Staged at synth without Docker: the build context is the evaluation package with its Dockerfile.
    staged = built.assembly_dir / f"asset.{built.stack.fm_evaluation.image.asset_hash}"
    assert (staged / "Dockerfile").read_text() == (EVALUATION_SOURCE / "Dockerfile").read_text()
    assert (staged / "samples" / "qa.jsonl").is_file() and not list(staged.rglob("__pycache__"))


def test_workflow_runs_jobs_on_their_own_targets_reads_the_report_and_gates() -> None:
    built = monitored()
    states = definition(built.template)["States"]
    # No per-run config writes: Clarify's configs name the tabular endpoint of the config and deploy with the stack.
    assert not [n for n in states if n.startswith(("Write", "Build"))]
    model_bias = as_sent(processing_states(states)["ClarifyModelBias"]["Parameters"])
    config_input = next(i for i in model_bias["ProcessingInputs"] if i["InputName"] == "analysis_config")
    # The evaluation bucket is a deploy-time reference (one placeholder, tests/support/rendered_requests.py).
    assert config_input["S3Input"]["S3Uri"] == f"s3://{DEPLOY_TIME}/clarify/configs/model_bias/analysis_config.json"
    assert built.stack.clarify is not None
    assert built.stack.clarify.model_configs["model_bias"]["predictor"]["endpoint_name"] == ENDPOINT
    assert states["EvaluationJobs"]["Catch"][0]["Next"] == "EvaluationFailed"
    read = as_sent(states["ReadReport"]["Parameters"])
    assert read["Key"] == f"evaluation-reports/{STATE_MACHINE}/{EXECUTION}/report.json"
    assert states["ThresholdsMet"]["Choices"] == [
        {"Variable": "$.report.document.passed", "BooleanEquals": True, "Next": "ModelPassed"}
    ]
    assert states["ThresholdsMet"]["Default"] == "ModelBelowThresholds"


def task_states(states: dict[str, Any], branch: str | None = None) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Every Task state, with the Parallel state whose branch holds it (None at the top level)."""
    found: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = (branch, state)
        for inner in state.get("Branches", []):
            found |= task_states(inner["States"], name)
    return found


def test_every_task_retries_transient_errors_and_catches_the_rest_into_the_failure_state() -> None:
    states = definition(monitored().template)["States"]
    found = task_states(states)
    assert set(found) == {
        "ReadReport",
        "FoundationModelEvaluation",
        "ClarifyDataBias",
        "ClarifyModelBias",
        "ClarifyExplainability",
    }
    for name, (parallel, state) in found.items():
        (retry,) = state["Retry"]
        assert retry["MaxAttempts"] >= 2 and retry["BackoffRate"] > 1 and retry["JitterStrategy"] == "FULL", name
        (catch,) = state["Catch"]
        assert (catch["ErrorEquals"], catch["ResultPath"]) == (["States.ALL"], "$.error"), name
        if parallel is None:  # S3 calls: a throttle is retried, then the run ends in the workflow's failure state
            assert retry["ErrorEquals"] == ["S3.S3Exception", "S3.SdkClientException"], name
            assert catch["Next"] == "EvaluationFailed", name
        else:  # a branch can only catch inside itself: a Fail named after the job, which fails the Parallel
            (branch,) = [b["States"] for b in states[parallel]["Branches"] if name in b["States"]]
            assert branch[catch["Next"]] == {"Type": "Fail", "Error": f"{name}Failed", "CausePath": "$.error.Cause"}
            assert retry["ErrorEquals"][0] == "SageMaker.AmazonSageMakerException", name
    assert states["EvaluationJobs"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "EvaluationFailed"}
    ]
    assert states["EvaluationFailed"] == {"Type": "Fail", "Error": "EvaluationFailed", "CausePath": "$.error.Cause"}


def test_workflow_is_logged_encrypted_traced_and_may_pass_only_the_job_role() -> None:
    built = monitored()
    template = built.template
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) == 2 and all(built.is_platform_key_arn(g["KmsKeyId"]) for g in groups.values())
    statements = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if "StateMachine" in json.dumps(p["Roles"])
        for s in p["PolicyDocument"]["Statement"]
    ]
    pass_role = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert len(pass_role) == 1 and pass_role[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert pass_role[0]["Resource"]["Fn::GetAtt"][0].startswith("ProcessingRole")


def test_monitoring_schedules_cover_bias_explainability_and_quality_with_kms_and_vpc() -> None:
    built = monitored()
    template = built.template
    schedules = resources(template, "AWS::SageMaker::MonitoringSchedule")
    kinds = {s["MonitoringScheduleConfig"]["MonitoringType"]: s for s in schedules.values()}
    assert set(kinds) == {"ModelBias", "ModelExplainability", "DataQuality", "ModelQuality"}
    definitions = {}
    for kind in kinds:
        (definitions[kind],) = resources(template, f"AWS::SageMaker::{kind}JobDefinition").values()
        assert (
            kinds[kind]["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
            == definitions[kind]["JobDefinitionName"]
        )
        assert kinds[kind]["MonitoringScheduleConfig"]["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}
        props = definitions[kind]
        assert built.is_platform_key_arn(props["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]), kind
        assert built.is_platform_key_arn(props[f"{kind}JobOutputConfig"]["KmsKeyId"]), kind
        network = props["NetworkConfig"]
        assert network["EnableInterContainerTrafficEncryption"] is True and len(network["VpcConfig"]["Subnets"]) == 2
        assert network["EnableNetworkIsolation"] is (kind != "ModelExplainability")
        endpoint = props[f"{kind}JobInput"]["EndpointInput"]
        assert endpoint["EndpointName"] == ENDPOINT
    bias = definitions["ModelBias"]
    # aws/sagemaker-python-sdk image_uri_config/clarify.json, processing "1.0" registries, us-east-1.
    assert (
        bias["ModelBiasAppSpecification"]["ImageUri"]
        == "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
    )
    assert render(bias["ModelBiasAppSpecification"]["ConfigUri"]) == (
        f"s3://{DEPLOY_TIME}/clarify/configs/monitoring/model_bias/analysis_config.json"
    )
    assert render(bias["ModelBiasJobInput"]["GroundTruthS3Input"]["S3Uri"]) == f"s3://{DEPLOY_TIME}/ground-truth/"
    assert bias["ModelBiasJobInput"]["EndpointInput"]["StartTimeOffset"] == "-PT2H"
    assert bias["ModelBiasJobInput"]["EndpointInput"]["ProbabilityThresholdAttribute"] == 0.5
    quality = definitions["DataQuality"]
    # aws/sagemaker-python-sdk v3.20.0 sagemaker-core/src/sagemaker/core/image_uri_config/model-monitor.json,
    # version "" registries, us-east-1 (the only tag is `latest`: neuron/catalog.py).
    assert (
        quality["DataQualityAppSpecification"]["ImageUri"]
        == "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest"
    )
    assert render(quality["DataQualityBaselineConfig"]["StatisticsResource"]["S3Uri"]) == (
        f"s3://{DEPLOY_TIME}/monitoring/baselines/dq/statistics.json"
    )
    assert definitions["ModelQuality"]["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"


def test_monitoring_job_definition_name_changes_with_its_settings() -> None:
    built = monitored()
    names = {d.job_definition_name for d in built.stack.monitoring.job_definitions.values()}  # type: ignore[union-attr]
    assert len(names) == 4 and all(len(n) <= 63 for n in names)
    config = load_config(
        "dev",
        {
            "evaluation": {
                "clarify": {"predictor": {"endpoint_name": ENDPOINT}},
                "monitoring": {**MONITORING, "resources": {"volume_size_gb": 50}},
            }
        },
        environ={},
    )
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    env = cdk.Environment(region=config.region)
    platform = PlatformStack(app, "Platform", config=config, env=env)
    bigger = EvaluationStack(app, "Evaluation", config=config, platform=platform.platform, env=env)
    bigger_names = {d.job_definition_name for d in bigger.monitoring.job_definitions.values()}  # type: ignore[union-attr]
    assert names.isdisjoint(bigger_names)


def test_guardrail_filters_topics_grounding_and_outputs() -> None:
    built = monitored()
    template = built.template
    (guardrail,) = resources(template, "AWS::Bedrock::Guardrail").values()
    filters = {
        f["Type"]: (f["InputStrength"], f["OutputStrength"]) for f in guardrail["ContentPolicyConfig"]["FiltersConfig"]
    }
    assert filters == {
        "HATE": ("HIGH", "HIGH"),
        "INSULTS": ("HIGH", "HIGH"),
        "SEXUAL": ("HIGH", "HIGH"),
        "VIOLENCE": ("HIGH", "HIGH"),
        "MISCONDUCT": ("HIGH", "HIGH"),
        "PROMPT_ATTACK": ("HIGH", "NONE"),
    }
    topics = guardrail["TopicPolicyConfig"]["TopicsConfig"]
    assert [t["Name"] for t in topics] == ["Investment advice", "Medical diagnosis"]
    assert all(t["Type"] == "DENY" for t in topics)
    assert guardrail["ContextualGroundingPolicyConfig"]["FiltersConfig"] == [
        {"Type": "GROUNDING", "Threshold": 0.75},
        {"Type": "RELEVANCE", "Threshold": 0.75},
    ]
    assert built.is_platform_key_arn(guardrail["KmsKeyArn"])
    (version,) = resources(template, "AWS::Bedrock::GuardrailVersion").values()
    assert version["GuardrailIdentifier"]["Fn::GetAtt"][1] == "GuardrailId"
    outputs = template["Outputs"]
    assert {"EvaluationStateMachineArn", "GuardrailId", "GuardrailVersion"} <= set(outputs)
    assert outputs["GuardrailVersion"]["Value"]["Fn::GetAtt"][1] == "Version"


def test_monitored_template_passes_cfn_lint() -> None:
    matches = lint(json.dumps(monitored().template), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id != "W3005"] == []


def test_dev_profile_has_the_evaluation_stack_without_monitoring(dev: Synthesized) -> None:
    template = dev.templates["evaluation"]
    assert resources(template, "AWS::SageMaker::MonitoringSchedule") == {}  # a chat endpoint: see dev.yaml
    assert {"EvaluationStateMachineArn", "GuardrailId", "GuardrailVersion"} <= set(template["Outputs"])
    # No tabular model in dev: model bias and SHAP are left out rather than sent to the Llama endpoint.
    assert set(processing_states(definition(template)["States"])) == {"FoundationModelEvaluation", "ClarifyDataBias"}


@pytest.mark.parametrize("unit", ["evaluation"])
def test_prod_profile_gates_on_stricter_thresholds(prod: Synthesized, unit: str) -> None:
    states = processing_states(definition(prod.templates[unit])["States"])
    assert set(states) == {"FoundationModelEvaluation"}  # no Clarify section in prod
    arguments = states["FoundationModelEvaluation"]["Parameters"]["AppSpecification"]["ContainerArguments"]
    assert "--threshold=toxicity=0.05" in arguments


def role_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for p in resources(template, kind).values()
        if any(r.get("Ref", "").startswith(role_prefix) for r in p.get("Roles", []))
        for s in p["PolicyDocument"]["Statement"]
    ]


def test_platform_key_check_refuses_other_references() -> None:
    built = monitored()
    (key,) = [k for k, r in built.platform_template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    other = next(
        name for name, o in built.platform_template["Outputs"].items() if o["Value"] != {"Fn::GetAtt": [key, "Arn"]}
    )
    assert not built.is_platform_key_arn({"Fn::GetStackOutput": {"StackName": "Platform", "OutputName": other}})
    assert not built.is_platform_key_arn({"Fn::GetAtt": [key, "Arn"]})  # not this stack's resource
    assert not built.is_platform_key_arn("alias/aws/s3")


def test_workflow_may_let_sagemaker_create_grants_on_the_platform_key() -> None:
    # The jobs set VolumeKmsKeyId and output KmsKeyId: CreateProcessingJob creates KMS grants as the caller.
    statements = role_statements(monitored().template, "WorkflowStateMachineRole")
    key_output = {
        "Fn::GetStackOutput": {
            "OutputName": "PublishOutputFnGetAttDataKey17AFBB84Arn5D1EA6C9",
            "Region": "us-east-1",
            "StackName": "Platform",
        }
    }
    create_grant = [s for s in statements if s["Action"] == "kms:CreateGrant"]
    assert create_grant == [
        {
            "Action": "kms:CreateGrant",
            "Effect": "Allow",
            "Resource": key_output,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        }
    ]
    describe = [s for s in statements if "kms:DescribeKey" in s["Action"]]
    assert [s["Resource"] for s in describe] == [key_output]
    # The workflow only reads the report from the (SSE-KMS) evaluation bucket: decrypt, never encrypt or write.
    kms_actions = {a for s in statements for a in _actions(s) if a.startswith("kms:")}
    assert kms_actions == {"kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"}
    s3_actions = [(a, s["Resource"]) for s in statements for a in _actions(s) if a.lower().startswith("s3:")]
    assert [a for a, _ in s3_actions] == ["s3:GetObject"]


def _actions(statement: dict[str, object]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)  # type: ignore[call-overload]


def test_job_role_has_the_shared_sagemaker_network_log_and_metric_statements() -> None:
    statements = role_statements(monitored().template, "ProcessingRole")
    # Interface changes on this account's interfaces, subnets and security groups; the Describe calls on '*'.
    (eni,) = [s for s in statements if "ec2:CreateNetworkInterface" in s["Action"]]
    assert sorted(render(r).rsplit(":", 1)[1] for r in eni["Resource"]) == [
        "network-interface/*",
        "security-group/*",
        "subnet/*",
    ]
    assert sorted(eni["Action"]) == [
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
    ]
    (describe,) = [s for s in statements if "ec2:DescribeSubnets" in s["Action"]]
    assert describe["Resource"] == "*" and "Condition" not in describe
    assert set(describe["Action"]) == {
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    }
    (logs,) = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert sorted(logs["Action"]) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert render(logs["Resource"]) == f"arn:aws:logs:us-east-1:{DEPLOY_TIME}:log-group:/aws/sagemaker/ProcessingJobs*"
    (metrics,) = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}}


def test_applying_the_guardrail_also_grants_decrypt_on_its_key() -> None:
    # Bedrock reads a guardrail encrypted with a customer key with the caller's credentials.
    settings = monitored().config.evaluation.guardrail  # type: ignore[union-attr]
    assert settings is not None
    stack = cdk.Stack(
        cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False),
        "Guarded",
        env=cdk.Environment(region="us-east-1"),
    )
    key = kms.Key(stack, "Key")
    guardrail = ContentGuardrail(stack, "Guardrail", settings=settings, key=key)
    operator = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    guardrail.grant_apply(operator)
    (policy,) = resources(assertions.Template.from_stack(stack).to_json(), "AWS::IAM::Policy").values()
    statements = {s["Action"]: s["Resource"] for s in policy["PolicyDocument"]["Statement"]}
    assert statements == {
        "bedrock:ApplyGuardrail": {"Fn::GetAtt": [stack.get_logical_id(guardrail.guardrail), "GuardrailArn"]},
        "kms:Decrypt": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]},  # type: ignore[arg-type]
    }


def test_quality_monitoring_in_a_region_without_the_analyzer_image_names_the_settings_and_the_fix() -> None:
    with pytest.raises(ValueError) as err:
        analyzer_image_uri("ap-southeast-7")  # Model Monitor's analyzer is not published there (SDK v3.20.0)
    assert str(err.value).startswith(
        "evaluation.monitoring.data_quality_baseline and evaluation.monitoring.model_quality need the Model Monitor "
        "analyzer image, but SageMaker Model Monitor has no analyzer image in region 'ap-southeast-7'; regions with "
        "one: af-south-1, ap-east-1, ap-northeast-1,"
    )
    assert str(err.value).endswith("Fix: choose one of those regions, or set both to null")


# --- every job of the on-demand workflow sends what its target accepts ----------------------------------------------
# What each target accepts, from its server's source: TGI's router sends SageMaker's /invocations to chat_completions
# when MESSAGES_API_ENABLED is set (an OpenAI chat request, JSON) and to compat_generate otherwise ({"inputs", ...});
# text-generation-inference router/src/server.rs, the TGI 3.0.0 router in optimum-neuron 0.0.28's image.
def tgi_accepts(environment: dict[str, Any]) -> tuple[str, str]:
    chat = environment.get("MESSAGES_API_ENABLED") == "true"
    return "application/json", "messages" if chat else "inputs"


def test_dev_workflow_jobs_each_send_the_content_their_target_accepts(dev: Synthesized) -> None:
    from evaluation.catalog import PAYLOAD_FORMATS
    from evaluation.model_runner import EndpointModelRunner

    states = processing_states(definition(dev.templates["evaluation"])["States"])
    assert set(states) == {"FoundationModelEvaluation", "ClarifyDataBias"}  # no tabular model: no model bias / SHAP
    evaluation, inference = dev.config.evaluation, dev.config.inference
    assert evaluation is not None and inference is not None

    # FoundationModelEvaluation -> dev's chat model (tgi-neuronx): the job's own runner builds the request.
    fm = as_sent(states["FoundationModelEvaluation"]["Parameters"])
    payload = next(a.split("=", 1)[1] for a in fm["AppSpecification"]["ContainerArguments"] if "payload-format" in a)
    (model,) = dev.resources("inference", "AWS::SageMaker::Model").values()
    environment = model["Properties"]["PrimaryContainer"]["Environment"]
    assert PAYLOAD_FORMATS[payload].server == inference.models["chat"].server == "tgi-neuronx"

    content_type, top_key = tgi_accepts(environment)
    chat = {"messages": [{"role": "user", "content": "Hello?"}], "max_tokens": 64, "temperature": 0}
    assert top_key in chat  # the request the Stubber below requires is the kind dev's TGI routes to
    request = {
        "EndpointName": "chat",
        "ContentType": content_type,
        "Accept": "application/json",
        "Body": json.dumps(chat).encode(),
    }
    with stubbed_runtime([(request, {"choices": [{"message": {"content": "ok"}}]})]) as client:
        runner = EndpointModelRunner(endpoint_name="chat", payload_format=payload, client=client)
        assert runner.generate("Hello?") == "ok"

    # ClarifyDataBias -> no model at all: no predictor in its config, and no network to reach one.
    data_bias = as_sent(states["ClarifyDataBias"]["Parameters"])
    assert data_bias["NetworkConfig"]["EnableNetworkIsolation"] is True
    stack = dev.stacks["evaluation"]
    assert stack.clarify is not None and stack.clarify.model_requests == {}  # type: ignore[attr-defined]


def test_monitoring_workflow_sends_csv_rows_to_the_tabular_model_that_accepts_them() -> None:
    from tests.support.harness import synth

    monitoring = synth("monitoring")
    clarify = monitoring.config.evaluation.clarify  # type: ignore[union-attr]
    assert clarify is not None
    stack = monitoring.stacks["evaluation"]
    for kind, config in stack.clarify.model_configs.items():  # type: ignore[attr-defined]
        predictor = config["predictor"]
        # Clarify sends rows of the CSV dataset: the predictor declares text/csv both ways, which the tabular
        # endpoint of the profile accepts (config/monitoring.yaml), and never names the LLM the fmeval job scores.
        assert (predictor["content_type"], predictor["accept_type"]) == (clarify.dataset_type, "text/csv"), kind
        assert predictor["endpoint_name"] == "credit-risk-classifier", kind


def test_a_payload_format_the_profile_server_does_not_speak_is_refused_at_synth() -> None:
    config = load_config("dev", {"evaluation": {"foundation_model": {"payload_format": "lmi"}}}, environ={})
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    env = cdk.Environment(region=config.region)
    platform = PlatformStack(app, "Platform", config=config, env=env)
    with pytest.raises(ValueError) as err:
        EvaluationStack(app, "Evaluation", config=config, platform=platform.platform, env=env)
    assert str(err.value) == (
        "profile 'dev': evaluation.foundation_model.payload_format 'lmi' is the shape of lmi-neuronx, but "
        "inference.models.chat.server is tgi-neuronx: use payload_format 'tgi'"
    )
