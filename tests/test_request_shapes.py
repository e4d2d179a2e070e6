"""The TypedDicts of `sagemaker_requests.shapes` against botocore's SageMaker service model, and the builders' output
against the TypedDicts: a declared member that SageMaker does not have, a required member left undeclared, or a built
request with a key its type does not declare (or with both `X` and `X.$`) fails here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NotRequired, Required, TypedDict, get_args, get_origin, get_type_hints, is_typeddict

import botocore.session
import pytest

from config import load_config
from neuron.catalog import ContainerKind
from neuron.compilation import compile_plan
from neuron.models import preset
from neuron.serving import MODEL_DIR, ServingShape
from sagemaker_requests import release, shapes
from sagemaker_requests.compile_job import CompileJobTargets, compile_job_request
from sagemaker_requests.processing import ProcessingPlacement, processing_request, s3_input, s3_output
from sagemaker_requests.training_job import TrainingJobTargets, training_job_request

ROLE_ARN = "arn:aws:iam::111122223333:role/candidate-model"
OPERATIONS = {
    "CreateTrainingJob": shapes.CreateTrainingJobRequest,
    "CreateProcessingJob": shapes.CreateProcessingJobRequest,
    "CreateModel": shapes.CreateModelRequest,
    "CreateEndpointConfig": shapes.CreateEndpointConfigRequest,
    "CreateEndpoint": shapes.CreateEndpointRequest,
    "UpdateEndpoint": shapes.UpdateEndpointRequest,
    "CreateModelPackage": shapes.CreateModelPackageRequest,
    "DescribeEndpoint": shapes.EndpointNameRequest,
    "DeleteEndpoint": shapes.EndpointNameRequest,
    "DeleteEndpointConfig": shapes.DeleteEndpointConfigRequest,
}


@cache
def service() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def member(key: str) -> str:
    return key.removesuffix(".$")


def declared(typed: Any) -> set[str]:
    return set(typed.__required_keys__) | set(typed.__optional_keys__)


def fields(typed: Any) -> dict[str, Any]:
    """Member -> annotation with Required/NotRequired removed (shapes.py uses postponed annotations: evaluate them)."""
    hints = get_type_hints(typed, include_extras=True)
    return {key: unwrap(annotation) for key, annotation in hints.items()}


def unwrap(annotation: Any) -> Any:
    while get_origin(annotation) in (Required, NotRequired):
        annotation = get_args(annotation)[0]
    return annotation


def check_against_botocore(typed: Any, shape: Any, path: str) -> list[str]:
    """Every declared member exists in the botocore shape, recursively through nested TypedDicts and their lists."""
    problems = []
    for key, annotation in fields(typed).items():
        name = member(key)
        if name not in shape.members:
            problems.append(f"{path}.{name} is not a member of {shape.name}")
            continue
        target = shape.members[name]
        if get_origin(annotation) is list and target.type_name == "list":
            annotation, target = get_args(annotation)[0], target.member
        if is_typeddict(annotation):
            if target.type_name != "structure":
                problems.append(f"{path}.{name} is a {target.type_name} in {shape.name}, declared as a structure")
            else:
                problems += check_against_botocore(annotation, target, f"{path}.{name}")
    return problems


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_declared_member_is_sagemakers_and_every_required_one_is_declared(operation: str) -> None:
    typed = OPERATIONS[operation]
    shape = service().operation_model(operation).input_shape
    assert check_against_botocore(typed, shape, operation) == []
    names = {member(k) for k in declared(typed)}
    assert set(shape.required_members) <= names, sorted(set(shape.required_members) - names)


# --- the builders' output conforms to its type -----------------------------------------------------------------------
def conforms(value: Mapping[str, Any], typed: Any, path: str = "request") -> list[str]:
    """Keys declared, required keys present, at most one of `X` / `X.$`, recursively through nested TypedDicts."""
    problems = [f"{path}: {k!r} is not declared" for k in value if k not in declared(typed)]
    problems += [f"{path}: {k!r} is missing" for k in typed.__required_keys__ if k not in value]
    problems += [f"{path}: both {k!r} and {k + '.$'!r}" for k in value if k + ".$" in value]
    for key, annotation in fields(typed).items():
        if key not in value:
            continue
        if is_typeddict(annotation):
            problems += conforms(value[key], annotation, f"{path}.{key}")
        elif get_origin(annotation) is list and is_typeddict(get_args(annotation)[0]):
            for i, item in enumerate(value[key]):
                problems += conforms(item, get_args(annotation)[0], f"{path}.{key}[{i}]")
    return problems


@dataclass(frozen=True)
class Serving:
    """A serving target as the inference stack hands it over (`cdk_constructs.handoffs.ServingTarget`)."""

    endpoint_name: str = "live-endpoint"
    image_uri: str = "image:1"
    environment: Mapping[str, str] = field(default_factory=lambda: {"HF_MODEL_ID": "/opt/ml/model"})
    production_variant: Mapping[str, Any] = field(
        default_factory=lambda: {
            "VariantName": "AllTraffic",
            "InstanceType": "ml.inf2.8xlarge",
            "InitialInstanceCount": 2,
            "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2},
        }
    )
    endpoint_config: Mapping[str, Any] = field(
        default_factory=lambda: {"KmsKeyId": "key-arn", "DataCaptureConfig": {"EnableCapture": True}}
    )
    vpc_config: Mapping[str, Any] = field(
        default_factory=lambda: {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    )
    enable_network_isolation: bool = True


def serving(**changes: Any) -> Serving:
    return Serving(**changes)


def test_release_requests_conform_to_their_types() -> None:
    target = serving()
    built = {
        "CreateModel": release.create_model_request(
            serving=target, execution_role_arn=ROLE_ARN, model_name_path="$.m", model_s3_uri_path="$.uri"
        ),
        "CreateEndpointConfig": release.endpoint_config_request(
            serving=target, config_name_path="$.c", model_name_path="$.m", candidate=False
        ),
        "CreateEndpoint": release.create_endpoint_request(endpoint_name_path="$.e", config_name_path="$.c"),
        "UpdateEndpoint": release.update_endpoint_request(serving=target, config_name_path="$.c"),
        "CreateModelPackage": release.model_package_request(
            group_name="g",
            image_uri="image:1",
            environment={},
            instance_type="ml.inf2.8xlarge",
            model_s3_uri_path="$.uri",
            approval_status_path="$.status",
            report_s3_uri_path="$.report",
            description_path="$.d",
        ),
        "DescribeEndpoint": release.describe_endpoint_request(endpoint_name="live"),
        "DeleteEndpoint": release.delete_endpoint_request(endpoint_name_path="$.e"),
        "DeleteEndpointConfig": release.delete_endpoint_config_request(config_name_path="$.c"),
    }
    for operation, request in built.items():
        assert conforms(request, OPERATIONS[operation]) == [], operation


def test_a_candidate_config_runs_one_instance_without_capture_and_keeps_the_key() -> None:
    request = release.endpoint_config_request(
        serving=serving(), config_name_path="$.c", model_name_path="$.m", candidate=True
    )
    (variant,) = request["ProductionVariants"]
    assert variant["InitialInstanceCount"] == 1 and "ManagedInstanceScaling" not in variant
    assert variant["ModelName.$"] == "$.m"
    assert request.get("KmsKeyId") == "key-arn" and "DataCaptureConfig" not in request


def test_a_setting_the_lifecycle_cannot_carry_over_is_refused_by_name() -> None:
    target = serving(endpoint_config={"KmsKeyId": "key-arn", "AsyncInferenceConfig": {}})
    with pytest.raises(ValueError) as err:
        release.endpoint_config_request(serving=target, config_name_path="$.c", model_name_path="$.m", candidate=False)
    assert str(err.value).startswith(
        "the serving target's endpoint_config has AsyncInferenceConfig; the lifecycle carries over only KmsKeyId, "
        "DataCaptureConfig"
    )


@pytest.mark.parametrize("arguments", [{}, {"endpoint_name": "live", "endpoint_name_path": "$.e"}])
def test_describe_endpoint_takes_a_name_or_a_path_exactly(arguments: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="takes endpoint_name or endpoint_name_path, exactly one"):
        release.describe_endpoint_request(**arguments)


def test_training_and_processing_requests_conform_to_their_types() -> None:
    config = load_config("pretrain", environ={})
    lifecycle = config.lifecycle
    assert lifecycle is not None and lifecycle.pretrain is not None
    targets = TrainingJobTargets(
        image_uri="image:1",
        role_arn="role",
        key_arn="key",
        region="us-east-1",
        datasets_bucket="datasets",
        output_s3_uri="s3://models/training-output",
        checkpoints_bucket="checkpoints",
        code_s3_uri="s3://assets/code.tar.gz",
        code_file_name="code.tar.gz",
        subnet_ids=["subnet-1"],
        security_group_ids=["sg-1"],
    )
    for stage, job in (("pretrain", lifecycle.pretrain), ("fine-tune", lifecycle.fine_tune)):
        request = training_job_request(
            stage=stage,
            job=job,
            targets=targets,
            run_id_path="$.run.id",
            model_s3_uri_path="$.model_source.s3_uri",
            teacher_s3_uri_path="$.teacher",
        )
        assert conforms(request, shapes.CreateTrainingJobRequest) == [], stage
    # A required member of a nested shape is required (a class-body TypedDict under `from __future__ import
    # annotations` lost its Required/NotRequired on Python 3.11 and let this pass).
    del request["ResourceConfig"]["InstanceType"]  # type: ignore[misc]
    assert conforms(request, shapes.CreateTrainingJobRequest) == ["request.ResourceConfig: 'InstanceType' is missing"]
    shape = ServingShape(
        model_location=MODEL_DIR,
        task="text-generation",
        degree=2,
        batch_size=4,
        sequence_length=4096,
        dtype="bf16",
        max_input_tokens=3072,
        max_total_tokens=4096,
    )
    compile_request = compile_job_request(
        plan=compile_plan(ContainerKind.TGI_NEURONX, shape, preset("llama-3.1-8b"), where="x"),
        targets=CompileJobTargets(
            image_uri="image:1",
            role_arn="role",
            key_arn="key",
            output_s3_uri="s3://models/compiled",
            subnet_ids=["subnet-1"],
            security_group_ids=["sg-1"],
        ),
        job_name_path="$.name",
        model_s3_uri="s3://models/trained/",
    )
    assert conforms(compile_request, shapes.CreateTrainingJobRequest) == []
    evaluation = load_config("dev", environ={}).evaluation
    assert evaluation is not None
    processing = processing_request(
        name_prefix="fm-evaluation",
        image_uri="image:1",
        placement=ProcessingPlacement(role_arn="role", kms_key_arn="key", subnet_ids=["s"], security_group_ids=["g"]),
        resources=evaluation.foundation_model.resources,
        inputs=[s3_input("datasets", "/opt/ml/processing/input", s3_uri="s3://d/p/")],
        outputs=[s3_output("report", "/opt/ml/processing/output", s3_uri_path="$.out")],
        network_isolation=False,
        environment={"EVALUATION_TARGET.$": "States.JsonToString($.evaluation)"},
        arguments=["--max-new-tokens=64"],
        purpose="fm-evaluation",
    )
    assert conforms(processing, shapes.CreateProcessingJobRequest) == []
    assert processing["ProcessingJobName.$"] == "States.Format('fm-evaluation-{}', States.UUID())"


def test_the_checks_reach_nested_shapes() -> None:
    bad = {"EndpointName": "a", "EndpointName.$": "$.b", "Extra": 1}
    assert conforms(bad, shapes.EndpointNameRequest) == [
        "request: 'Extra' is not declared",
        "request: both 'EndpointName' and 'EndpointName.$'",
    ]
    model = release.create_model_request(
        serving=serving(), execution_role_arn=ROLE_ARN, model_name_path="$.m", model_s3_uri_path="$.uri"
    )
    model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["Bogus"] = 1  # type: ignore[typeddict-unknown-key]
    assert conforms(model, shapes.CreateModelRequest) == [
        "request.PrimaryContainer.ModelDataSource.S3DataSource: 'Bogus' is not declared"
    ]
    # A member SageMaker does not have, three levels down a list, is found in the service model check.
    Wrong = TypedDict("Wrong", {"S3DataType": str, "Compression": str})  # noqa: UP013
    Source = TypedDict("Source", {"S3DataSource": Wrong})  # noqa: UP013
    Container = TypedDict("Container", {"Image": str, "ModelDataSource": Source})  # noqa: UP013
    Spec = TypedDict("Spec", {"Containers": list[Container]})  # noqa: UP013
    Request = TypedDict("Request", {"InferenceSpecification": Spec})  # noqa: UP013
    shape = service().operation_model("CreateModelPackage").input_shape
    assert check_against_botocore(Request, shape, "CreateModelPackage") == [
        "CreateModelPackage.InferenceSpecification.Containers.ModelDataSource.S3DataSource.Compression is not a member "
        "of S3ModelDataSource"
    ]
