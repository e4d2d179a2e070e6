"""The inference stack's templates: models and their serving environment, the endpoint, components, routing,
scaling, safe deployments, alarms, the published generation defaults, and the handoff to the lifecycle workflow."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import botocore.session
import pytest
from aws_cdk import aws_iam as iam
from botocore.validate import ParamValidator

from compliance.wildcards import wildcard_findings
from config import AppConfig, load_config
from neuron.images import ImageNotInRegionError
from sagemaker_requests.storage_layout import compiled_prefix
from stacks.inference import InferenceStack
from tests.support.harness import Synthesized, synth, synth_config, synth_with


def props(s: Synthesized, kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in s.resources("inference", kind).values()]


def env_of(s: Synthesized) -> dict[str, str]:
    (model,) = props(s, "AWS::SageMaker::Model")
    environment: dict[str, str] = model["PrimaryContainer"]["Environment"]
    return environment


def variant(s: Synthesized) -> dict[str, Any]:
    variants: list[dict[str, Any]] = s.only("inference", "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    (variant,) = variants
    return variant


def logical_id(s: Synthesized, kind: str) -> str:
    (found,) = s.resources("inference", kind)
    return found


# --- models ----------------------------------------------------------------------------------------------------------
def test_dev_serves_llama_8b_with_tgi_from_its_compiled_artifacts(dev: Synthesized) -> None:
    (model,) = props(dev, "AWS::SageMaker::Model")
    # aws/sagemaker-python-sdk v3.20.0 image_uri_config/huggingface-llm-neuronx.json, inference 0.0.28 (tag_prefix
    # 2.1.2-optimum0.0.28, container_version inf2 ubuntu22.04); us-east-1 account 763104351884.
    assert model["PrimaryContainer"]["Image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04"
    )
    # TGI never compiles: it loads the export the compile workflow writes under compiled/<model key>/.
    source = model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert source["S3Uri"]["Fn::Join"][1][-1] == "/" + compiled_prefix("chat")
    # huggingface/optimum-neuron v0.0.28 text-generation-inference/sagemaker-entrypoint.sh L3-7 (HF_MODEL_ID),
    # L17-20 (MAX_BATCH_SIZE); server/text_generation_server/model.py L15-32 (HF_NUM_CORES, HF_AUTO_CAST_TYPE); TGI
    # 3.0.0 launcher arguments MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS, MESSAGES_API_ENABLED (Dockerfile L3).
    assert env_of(dev) == {
        "HF_MODEL_ID": "/opt/ml/model",
        "HF_NUM_CORES": "2",
        "HF_AUTO_CAST_TYPE": "bf16",
        "MAX_BATCH_SIZE": "4",
        "MAX_INPUT_TOKENS": "3072",
        "MAX_TOTAL_TOKENS": "4096",
        "MESSAGES_API_ENABLED": "true",
    }
    assert model["EnableNetworkIsolation"] is True and "HubEgress" not in dev.templates["inference"]["Outputs"]


@cache
def hub_dev() -> Synthesized:
    """dev with its model from the Hugging Face Hub on LMI, which compiles at load (TGI would need an export)."""
    data = load_config("dev", environ={}).model_dump()
    data["inference"]["models"]["chat"] |= {
        "source": {
            "type": "hub",
            "model_id": "meta-llama/Llama-3.1-8B-Instruct",
            "revision": "0123456789abcdef0123456789abcdef01234567",
            "token_secret": "huggingface/hub-token",
        },
        "compiled_artifacts": None,
        "server": "lmi-neuronx",
    }
    data["evaluation"]["foundation_model"]["payload_format"] = "lmi"  # the evaluation speaks the server's format
    return synth_config(AppConfig.model_validate(data))


def test_a_hub_model_runs_outside_the_vpc_and_the_stack_says_so() -> None:
    s = hub_dev()
    (model,) = props(s, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is False and "VpcConfig" not in model
    assert "Hugging Face Hub" in s.templates["inference"]["Outputs"]["HubEgress"]["Value"]
    env = env_of(s)
    assert env["OPTION_MODEL_ID"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert env["OPTION_REVISION"] == "0123456789abcdef0123456789abcdef01234567"  # the pinned commit
    # the token is a deploy-time reference to Secrets Manager, never the value
    assert env["HF_TOKEN"] == "{{resolve:secretsmanager:huggingface/hub-token:SecretString:::}}"
    # Hub download + compile at load inside the start-up, a compiled copy on the volume, no S3 download timeout.
    assert env["OPTION_MODEL_LOADING_TIMEOUT"] == "1579"
    assert (variant(s)["VolumeSizeInGB"], variant(s)["ContainerStartupHealthCheckTimeoutInSeconds"]) == (41, 1579)
    assert "ModelDataDownloadTimeoutInSeconds" not in variant(s)


def test_a_hub_token_s_exposure_is_stated_at_synth() -> None:
    """Issue 12 item 3: the token a Hub model needs sits in its environment, readable through DescribeModel."""
    s = hub_dev()
    stack = s.stacks["inference"]
    infos = [
        str(entry.data) for entry in stack.node.find_child("Model-chat").node.metadata if entry.type == "aws:cdk:info"
    ]
    stated = (
        "model chat's Hub token (secret huggingface/hub-token) is resolved by CloudFormation into the model's "
        "environment (HF_TOKEN): sagemaker:DescribeModel returns it"
    )
    assert any(t.startswith(stated) and "never refreshed" in t and "from_hub" in t for t in infos), infos
    assert any("stage it into the models bucket (source type s3-prefix with from_hub" in t for t in infos), infos


def test_s3_models_are_isolated_in_private_subnets_and_load_compiled_artifacts() -> None:
    s = synth("llama70b")
    (model,) = props(s, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    assert set(model["VpcConfig"]) == {"SecurityGroupIds", "Subnets"} and len(model["VpcConfig"]["Subnets"]) == 2
    source = model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    assert source["S3Uri"]["Fn::Join"][1][-1] == "/compiled/llama-3.1-70b-instruct/lmi-int8-tp8-bs4-4096/"
    # deepjavalibrary/djl-serving 0.30.0-dlc engines/python/setup/djl_python/properties_manager (OPTION_<NAME> is
    # option.<name>): properties.py L47 model_id, L52 tensor_parallel_degree, L51/L57 rolling batch; tnx_properties.py
    # L90 n_positions, L32-35/L89 dtype, L44-45/L97 quantize static_int8; entrypoint tnx_user_guide.md L71-76.
    assert env_of(s) == {
        "OPTION_MODEL_ID": "/opt/ml/model",
        "OPTION_ENTRYPOINT": "djl_python.transformers_neuronx",
        "OPTION_TENSOR_PARALLEL_DEGREE": "8",
        "OPTION_N_POSITIONS": "4096",
        "OPTION_DTYPE": "bf16",
        "OPTION_MODEL_LOADING_TIMEOUT": "1088",
        "OPTION_ROLLING_BATCH": "auto",
        "OPTION_MAX_ROLLING_BATCH_SIZE": "4",
        "OPTION_QUANTIZE": "static_int8",
    }
    assert "HubEgress" not in s.templates["inference"]["Outputs"]


def test_embedding_and_inf1_profiles_use_their_servers_environment() -> None:
    embedding = synth("embedding")
    # No HF_MODEL_ID (the toolkit would download "/opt/ml/model" from the Hub), no NEURON_RT_NUM_CORES (the toolkit
    # sets 1 itself): tests/test_serving_contracts.py runs the toolkit with this environment. aws/sagemaker-huggingface-
    # inference-toolkit 2.6.0: HF_TASK handler_service.py L121-133, HF_OPTIMUM_* optimum_utils.py L68-78, workers
    # mms_model_server.py L88-95, HF_MODEL_ID mms_model_server.py L67.
    assert env_of(embedding) == {
        "HF_TASK": "feature-extraction",
        "HF_OPTIMUM_BATCH_SIZE": "8",
        "HF_OPTIMUM_SEQUENCE_LENGTH": "512",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
    }
    inf1 = synth("inf1")
    (model,) = props(inf1, "AWS::SageMaker::Model")
    # aws/deep-learning-containers available_images.md, Neuron section (checked 2026-11): the SDK v1 (inf1) image.
    assert model["PrimaryContainer"]["Image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neuron:1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04"
    )
    assert model["PrimaryContainer"]["ModelDataUrl"]["Fn::Join"][1][-1] == "/distilbert-sst2/neuron-v1/model.tar.gz"
    assert env_of(inf1) == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "4",
        "NEURON_RT_NUM_CORES": "1",
    }
    assert variant(inf1)["InstanceType"] == "ml.inf1.xlarge"


# --- endpoint --------------------------------------------------------------------------------------------------------
def test_endpoint_config_is_encrypted_captured_routed_and_sized_from_the_model(dev: Synthesized) -> None:
    config = dev.only("inference", "AWS::SageMaker::EndpointConfig")
    key = config["KmsKeyId"]
    assert "DataKey" in json.dumps(key)  # the platform's key
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 20
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["KmsKeyId"] == key
    assert "DataCaptureBucket" in json.dumps(capture["DestinationS3Uri"])
    assert capture["DestinationS3Uri"]["Fn::Join"][1][-1] == "/data-capture/dev"
    assert variant(dev) == {
        "VariantName": "AllTraffic",
        "InstanceType": "ml.inf2.8xlarge",
        "InitialInstanceCount": 1,
        "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
        "ModelName": {"Fn::GetAtt": [logical_id(dev, "AWS::SageMaker::Model"), "ModelName"]},
        "InitialVariantWeight": 1,
        "VolumeSizeInGB": 30,
        "ContainerStartupHealthCheckTimeoutInSeconds": 390,
        "ModelDataDownloadTimeoutInSeconds": 137,
    }
    prod_variant = variant(synth("prod"))
    # compiled artifacts from S3: a download timeout, a start-up without compiling, no second copy on the volume
    assert (
        prod_variant["ModelDataDownloadTimeoutInSeconds"],
        prod_variant["ContainerStartupHealthCheckTimeoutInSeconds"],
        prod_variant["VolumeSizeInGB"],
        prod_variant["InitialInstanceCount"],
    ) == (137, 390, 30, 2)


def test_start_up_overrides_reach_the_variant() -> None:
    startup = {
        "volume_size_gb": 100,
        "model_data_download_timeout_seconds": 900,
        "container_startup_health_check_timeout_seconds": 1200,
    }
    s = synth_with("embedding", inference={"models": {"embed": {"startup": startup}}})
    assert (
        variant(s)["VolumeSizeInGB"],
        variant(s)["ModelDataDownloadTimeoutInSeconds"],
        variant(s)["ContainerStartupHealthCheckTimeoutInSeconds"],
    ) == (100, 900, 1200)
    derived = variant(synth("embedding"))  # bge-base fp32 from S3: 30 GB floor, 62 s download, 194 s start-up
    assert (
        derived["VolumeSizeInGB"],
        derived["ModelDataDownloadTimeoutInSeconds"],
        derived["ContainerStartupHealthCheckTimeoutInSeconds"],
    ) == (30, 62, 194)


def test_no_hard_coded_names_for_models_endpoint_configs_endpoints_or_components() -> None:
    for profile in ("dev", "multimodel"):
        s = synth(profile)
        for kind, name in (
            ("AWS::SageMaker::Model", "ModelName"),
            ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
            ("AWS::SageMaker::Endpoint", "EndpointName"),
            ("AWS::SageMaker::InferenceComponent", "InferenceComponentName"),
        ):
            assert all(name not in p for p in props(s, kind)), (profile, kind)


def test_capacity_reservation_is_optional() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:ml-reservation/abc-123"
    s = synth_with("embedding", inference={"capacity_reservation": {"ml_reservation_arn": arn}})
    assert variant(s)["CapacityReservationConfig"] == {
        "CapacityReservationPreference": "capacity-reservations-only",
        "MlReservationArn": arn,
    }
    assert "CapacityReservationConfig" not in variant(synth("dev"))


# --- safe deployments and alarms -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("profile", "routing"),
    [
        ("dev", {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
        (
            "prod",
            {"Type": "CANARY", "WaitIntervalInSeconds": 900, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
        ),
        (
            "llama70b",
            {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 900,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            },
        ),
    ],
)
def test_blue_green_shifts_traffic_and_rolls_back_on_the_alarms(profile: str, routing: dict[str, Any]) -> None:
    s = synth(profile)
    deployment = s.only("inference", "AWS::SageMaker::Endpoint")["DeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    alarm_names = sorted(p["AlarmName"] for p in props(s, "AWS::CloudWatch::Alarm"))
    assert sorted(a["AlarmName"] for a in deployment["AutoRollbackConfiguration"]["Alarms"]) == alarm_names
    prefix = f"NeuronGenAI-{profile}-inference-chat"
    assert alarm_names == [f"{prefix}-5xx", f"{prefix}-latency-p99"]


def test_alarms_watch_5xx_and_p99_latency_and_notify_the_topic(dev: Synthesized) -> None:
    alarms = {p["MetricName"]: p for p in props(dev, "AWS::CloudWatch::Alarm")}
    endpoint = {"Fn::GetAtt": [logical_id(dev, "AWS::SageMaker::Endpoint"), "EndpointName"]}
    topic = {"Ref": logical_id(dev, "AWS::SNS::Topic")}
    errors, latency = alarms["Invocation5XXErrors"], alarms["ModelLatency"]
    for alarm in (errors, latency):
        assert alarm["Dimensions"] == [
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ]
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["Period"]) == (3, 2, 60)
    assert (errors["Statistic"], errors["Threshold"]) == ("Sum", 5)
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 30_000_000)  # microseconds
    assert "KmsMasterKeyId" in dev.only("inference", "AWS::SNS::Topic")
    assert synth("inf1").resources("inference", "AWS::CloudWatch::Alarm")  # alarms exist whatever the strategy


# --- autoscaling -----------------------------------------------------------------------------------------------------
def test_variant_scales_on_high_resolution_concurrency_and_invocations() -> None:
    s = synth("embedding")
    target = s.only("inference", "AWS::ApplicationAutoScaling::ScalableTarget")
    endpoint = {"Fn::GetAtt": [logical_id(s, "AWS::SageMaker::Endpoint"), "EndpointName"]}
    assert target["ResourceId"] == {"Fn::Join": ["", ["endpoint/", endpoint, "/variant/AllTraffic"]]}
    assert (target["ScalableDimension"], target["MinCapacity"], target["MaxCapacity"]) == (
        "sagemaker:variant:DesiredInstanceCount",
        1,
        4,
    )
    policies = {
        p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"]: p[
            "TargetTrackingScalingPolicyConfiguration"
        ]
        for p in props(s, "AWS::ApplicationAutoScaling::ScalingPolicy")
    }
    assert {k: (v["TargetValue"], v["ScaleInCooldown"], v["ScaleOutCooldown"]) for k, v in policies.items()} == {
        "SageMakerVariantConcurrentRequestsPerModelHighResolution": (16, 600, 120),
        "SageMakerVariantInvocationsPerInstance": (3000, 600, 120),
    }


# --- many models: inference components -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def multimodel() -> Synthesized:
    return synth("multimodel")


def components(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        k.removeprefix("Component").split("Component")[0]: v["Properties"]
        for k, v in s.resources("inference", "AWS::SageMaker::InferenceComponent").items()
    }


def test_components_take_neuron_cores_memory_and_copies_per_model(multimodel: Synthesized) -> None:
    found = {
        k: (
            p["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"],
            p["Specification"]["ComputeResourceRequirements"]["MinMemoryRequiredInMb"],
            p["RuntimeConfig"]["CopyCount"],
            p["VariantName"],
        )
        for k, p in components(multimodel).items()
    }
    assert found == {
        "llama": (2, 4885, 2, "AllTraffic"),
        "mistral": (2, 15873, 1, "AllTraffic"),  # loads its compiled export (compiled/mistral/)
        "embed": (1, 2466, 2, "AllTraffic"),  # fp32 weights (the toolkit's export) + 2 GiB
    }
    llama = components(multimodel)["llama"]
    assert llama["Specification"]["StartupParameters"] == {
        "ContainerStartupHealthCheckTimeoutInSeconds": 390,
        "ModelDataDownloadTimeoutInSeconds": 137,
    }
    rolling = llama["DeploymentConfig"]["RollingUpdatePolicy"]
    assert rolling["MaximumBatchSize"] == {"Type": "COPY_COUNT", "Value": 1}
    assert [a["AlarmName"] for a in llama["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]] == [
        "NeuronGenAI-multimodel-inference-llama-5xx",
        "NeuronGenAI-multimodel-inference-llama-latency-p99",
    ]


def test_component_endpoint_scales_instances_to_zero_and_runs_isolated(multimodel: Synthesized) -> None:
    config = multimodel.only("inference", "AWS::SageMaker::EndpointConfig")
    (variant_props,) = config["ProductionVariants"]
    assert "ModelName" not in variant_props
    assert variant_props["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 2,
    }
    assert config["EnableNetworkIsolation"] is True and set(config["VpcConfig"]) == {"SecurityGroupIds", "Subnets"}
    (role,) = [k for k in multimodel.resources("inference", "AWS::IAM::Role") if k.startswith("ExecutionRole")]
    assert config["ExecutionRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    assert "DeploymentConfig" not in multimodel.only("inference", "AWS::SageMaker::Endpoint")


def test_component_copies_scale_and_the_embedding_model_comes_back_from_zero(multimodel: Synthesized) -> None:
    targets = {json.dumps(p["ResourceId"]): p for p in props(multimodel, "AWS::ApplicationAutoScaling::ScalableTarget")}
    assert len(targets) == 3
    for target in targets.values():
        assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
        assert target["ResourceId"]["Fn::Join"][1][0] == "inference-component/"
    assert sorted((t["MinCapacity"], t["MaxCapacity"]) for t in targets.values()) == [(0, 4), (1, 2), (1, 4)]
    types = sorted(p["PolicyType"] for p in props(multimodel, "AWS::ApplicationAutoScaling::ScalingPolicy"))
    assert types == ["StepScaling"] + ["TargetTrackingScaling"] * 5  # llama 1, mistral 2, embed 2
    (no_capacity,) = [
        p for p in props(multimodel, "AWS::CloudWatch::Alarm") if p["MetricName"] == "NoCapacityInvocationFailures"
    ]
    assert no_capacity["Threshold"] == 1 and no_capacity["Dimensions"][0]["Name"] == "InferenceComponentName"
    # The scale-from-zero alarm of the SageMaker guide: any request that found no copy, summed over a minute.
    assert (no_capacity["Namespace"], no_capacity["Statistic"], no_capacity["Period"]) == ("AWS/SageMaker", "Sum", 60)


def test_outputs_and_generation_defaults_parameter(dev: Synthesized, multimodel: Synthesized) -> None:
    outputs = dev.templates["inference"]["Outputs"]
    parameter = logical_id(dev, "AWS::SSM::Parameter")
    assert outputs["EndpointName"]["Value"] == {
        "Fn::GetAtt": [logical_id(dev, "AWS::SageMaker::Endpoint"), "EndpointName"]
    }
    assert outputs["InferenceComponentNames"]["Value"] == ""
    assert outputs["GenerationDefaultsParameter"]["Value"] == {"Ref": parameter}
    assert json.loads(dev.only("inference", "AWS::SSM::Parameter")["Value"]) == {
        "models": {
            "chat": {
                "temperature": 0.6,
                "top_p": 1.0,
                "max_new_tokens": 1024,
                "frequency_penalty": 0.0,
                "presence_penalty": 0.0,
                "stop": ["<|eot_id|>"],
                "context_window": 4096,
                "component": None,
                "server": "tgi-neuronx",
            }
        }
    }
    names = multimodel.templates["inference"]["Outputs"]["InferenceComponentNames"]["Value"]["Fn::Join"]
    assert names[0] == "," and len(names[1]) == 3
    value = json.dumps(multimodel.only("inference", "AWS::SSM::Parameter")["Value"])
    assert "InferenceComponentArn" in value and '\\"server\\":\\"vllm-neuronx\\"' in value
    assert '\\"embed\\"' not in value  # an embedding model has no generation defaults


# --- execution role and handoff --------------------------------------------------------------------------------------
def test_execution_role_reads_only_its_model_prefixes_and_pulls_only_its_images() -> None:
    s = synth("llama70b")
    found = s.only("inference", "AWS::IAM::ManagedPolicy")["PolicyDocument"]["Statement"]
    (read,) = [st for st in found if st["Action"] == "s3:GetObject"]
    # The models bucket's own ARN (a cross-stack output) with each prefix: never arn:aws:s3:::*/<prefix>.
    assert [r["Fn::Join"][1][1] for r in read["Resource"]] == [
        "/compiled/llama-3.1-70b-instruct/lmi-int8-tp8-bs4-4096/*",
        "/llama-3.1-70b-instruct/*",
    ]
    assert all("ModelsBucket" in json.dumps(r["Fn::Join"][1][0]) for r in read["Resource"])
    (pull,) = [st for st in found if "ecr:BatchGetImage" in st["Action"]]
    assert pull["Resource"] == "arn:aws:ecr:us-east-1:763104351884:repository/djl-inference"
    (listing,) = [st for st in found if st["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {
        "StringLike": {
            "s3:prefix": ["compiled/llama-3.1-70b-instruct/lmi-int8-tp8-bs4-4096/*", "llama-3.1-70b-instruct/*"]
        }
    }
    sids = {st.get("Sid") for st in found} - {None}
    assert sids == {"EcrLogin", "WriteLogs", "PublishMetrics", "VpcInterfaces", "VpcInterfacesDescribe"}


@pytest.fixture(scope="module")
def dev_stack(dev: Synthesized) -> InferenceStack:
    """The session's dev inference stack, for the Python handoff objects it exposes."""
    stack = dev.stacks["inference"]
    assert isinstance(stack, InferenceStack)
    return stack


def test_serving_target_is_a_valid_sagemaker_request_for_s3_artifacts(dev_stack: InferenceStack) -> None:
    target = dev_stack.serving_target
    service = botocore.session.get_session().get_service_model("sagemaker")
    validator = ParamValidator()
    config_request = {
        "EndpointConfigName": "next",
        **target.endpoint_config,
        "ProductionVariants": [{**target.production_variant, "ModelName": "next-model"}],
    }
    report = validator.validate(config_request, service.operation_model("CreateEndpointConfig").input_shape)
    assert not report.has_errors(), report.generate_report()
    model_request = {
        "ModelName": "next-model",
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/x",
        "PrimaryContainer": {
            "Image": target.image_uri,
            "Environment": dict(target.environment),
            "ModelDataSource": {
                "S3DataSource": {"S3Uri": "s3://b/k/", "S3DataType": "S3Prefix", "CompressionType": "None"}
            },
        },
        "VpcConfig": dict(target.vpc_config),
        "EnableNetworkIsolation": target.enable_network_isolation,
    }
    report = validator.validate(model_request, service.operation_model("CreateModel").input_shape)
    assert not report.has_errors(), report.generate_report()
    # New artifacts come from S3: the model id is the model directory, no Hub token, a download timeout is set.
    assert target.environment["HF_MODEL_ID"] == "/opt/ml/model" and "HF_TOKEN" not in target.environment
    assert target.production_variant["ModelDataDownloadTimeoutInSeconds"] == 137
    assert target.enable_network_isolation is True and "KmsKeyId" in target.endpoint_config


def test_grant_invoke_allows_invoking_and_streaming_this_endpoint_only(dev_stack: InferenceStack) -> None:
    caller = iam.Role(dev_stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    grant = dev_stack.endpoint.grant_invoke(caller)
    (statement,) = grant.principal_statements
    document = dev_stack.resolve(statement.to_statement_json())
    assert document["Action"] == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    assert document["Resource"] == {"Ref": logical_id(synth("dev"), "AWS::SageMaker::Endpoint")}


def test_execution_policy_wildcards_are_acknowledged_one_by_one(prod: Synthesized) -> None:
    """Each IAM5 finding of the role's policy is acknowledged by name (compliance/wildcards.py), none in bulk."""
    (key,) = [k for k in prod.resources("inference", "AWS::IAM::ManagedPolicy") if k.startswith("Execution")]
    document = prod.templates["inference"]["Resources"][key]["Properties"]["PolicyDocument"]
    expected = {f"AwsSolutions-IAM5[{finding}]" for finding in wildcard_findings(document)}
    assert "AwsSolutions-IAM5[Resource::*]" in expected
    acknowledged = {
        v["ruleName"]: v["reason"]
        for r in prod.validation_report["pluginReports"]
        for v in r["suppressedViolations"]
        if any(
            c["constructPath"] == "NeuronGenAI-prod-inference/Execution/Policy/Resource"
            for c in v["violatingConstructs"]
        )
        and v["ruleName"].startswith("AwsSolutions-IAM5")
    }
    assert set(acknowledged) == expected
    model_reads = [r for r in acknowledged if "llama-3.1-8b-instruct/*" in r]
    assert len(model_reads) == 1 and "models bucket" in acknowledged[model_reads[0]]


def test_synth_in_a_region_without_a_models_image_fails_naming_the_regions_that_have_it() -> None:
    # multimodel's Mistral runs on vLLM-neuronx, whose image is published in 11 regions, not il-central-1 (which
    # has TGI, the HF inference image and a DLC registry account): the image pull would fail at deploy.
    config = load_config("multimodel", {"region": "il-central-1", "evaluation": {"clarify": None}}, environ={})
    with pytest.raises(ImageNotInRegionError) as err:
        synth_config(config)
    assert "container vllm-neuronx (huggingface-vllm-inference-neuronx:" in str(err.value)
    assert "is not published in region 'il-central-1'; regions with it: ap-northeast-1," in str(err.value)
