"""The compile stage in the synthesized templates: every compile request is valid, compiles exactly the shape and
image the endpoint serves, and the lifecycle compiles between training and the candidate endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from config import available_profiles, load_config
from neuron.catalog import ContainerKind
from neuron.compilation import CompiledShape, compiled_shape, needs_compile_stage, served_shape
from stacks.compile import compilable_models
from tests.support.harness import Synthesized, synth
from tests.support.state_machines import (
    all_states,
    definition,
    deployed_definition,
    platform_bucket,
    platform_key_arn,
    resolve,
    sagemaker_requests,
    validate,
)

# Where each compile job writes its export (the model's compiled_artifacts prefix, else compiled/<key>/), on which
# instance, with which serving image (the literal URIs and their sources: tests/test_catalog.py IMAGES).
COMPILED = {
    ("dev", "chat"): (
        "compiled/chat/",
        "ml.trn1.32xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04",
    ),
    ("prod", "chat"): (
        "compiled/llama-3.1-8b-instruct/tgi-tp2-bs4-4096/",
        "ml.trn1.32xlarge",
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04",
    ),
    ("multimodel", "llama"): (
        "compiled/llama-3.1-8b-instruct/tgi-tp2-bs4-4096/",
        "ml.trn1.32xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04",
    ),
    ("multimodel", "mistral"): (
        "compiled/mistral/",
        "ml.trn1.32xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-vllm-inference-neuronx:"
        "0.11.0-optimum0.4.5-neuronx-py310-sdk2.26.1-ubuntu22.04",
    ),
    ("llama70b", "chat"): (
        "compiled/llama-3.1-70b-instruct/lmi-int8-tp8-bs4-4096/",
        "ml.trn1.32xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.30.0-neuronx-sdk2.20.1",
    ),
}
CONFIGS = {p: load_config(p, environ={}) for p in available_profiles()}
COMPILE_PROFILES = tuple(p for p, c in CONFIGS.items() if compilable_models(c.inference))
LIFECYCLE_PROFILES = tuple(p for p, c in CONFIGS.items() if c.lifecycle.enabled and c.inference is not None)


def served_model(synthesized: Synthesized, key: str) -> tuple[str, dict[str, str]]:
    """(image, environment) of a model's CfnModel in the inference template, as CloudFormation deploys it."""
    stack = synthesized.stacks["inference"]
    logical = stack.resolve(stack.models[key].model.logical_id)  # type: ignore[attr-defined]
    container = synthesized.templates["inference"]["Resources"][logical]["Properties"]["PrimaryContainer"]
    return resolve(container["Image"]), {k: resolve(v) for k, v in container["Environment"].items()}


def served_data(synthesized: Synthesized, key: str) -> str:
    """The S3 prefix a model's CfnModel loads (ModelDataSource), as deployed."""
    stack = synthesized.stacks["inference"]
    logical = stack.resolve(stack.models[key].model.logical_id)  # type: ignore[attr-defined]
    container = synthesized.templates["inference"]["Resources"][logical]["Properties"]["PrimaryContainer"]
    return str(resolve(container["ModelDataSource"]["S3DataSource"]["S3Uri"]))


def job_shape(kind: ContainerKind, request: dict[str, Any]) -> CompiledShape:
    spec = request["AlgorithmSpecification"]
    return compiled_shape(kind, spec["ContainerArguments"], {k: resolve(v) for k, v in request["Environment"].items()})


def test_profiles_cover_every_compiled_server() -> None:
    servers = {m.server for p in COMPILE_PROFILES for m in compilable_models(CONFIGS[p].inference).values()}
    assert servers == {ContainerKind.TGI_NEURONX, ContainerKind.VLLM_NEURONX, ContainerKind.LMI_NEURONX}
    assert {"prod", "multimodel", "llama70b"} <= set(COMPILE_PROFILES)
    assert set(COMPILED) == {(p, key) for p in COMPILE_PROFILES for key in compilable_models(CONFIGS[p].inference)}
    for profile in CONFIGS:  # the stack exists exactly for profiles with such a model
        assert ("compile" in synth(profile).templates) == (profile in COMPILE_PROFILES), profile


@pytest.mark.parametrize("profile", COMPILE_PROFILES)
def test_standalone_compile_requests_validate_and_compile_the_served_shape_and_image(profile: str) -> None:
    synthesized = synth(profile)
    requests = sagemaker_requests(definition(synthesized.templates["compile"])["States"])
    models = compilable_models(CONFIGS[profile].inference)
    assert set(requests) == {f"Compile-{key}" for key in models}
    for key, model in models.items():
        operation, params = requests[f"Compile-{key}"]
        assert operation == "CreateTrainingJob"
        request = validate(operation, params)
        image, env = served_model(synthesized, key)
        assert job_shape(model.server, request) == served_shape(model.server, env), (profile, key)
        assert resolve(request["AlgorithmSpecification"]["TrainingImage"]) == image, (profile, key)
        assert request["EnableNetworkIsolation"] is True
        assert "TrainingJobName.$" in params and "TrainingJobName" not in params
        # The export lands exactly where the endpoint loads from: the model's compiled_artifacts prefix.
        checkpoint = request["CheckpointConfig"]
        assert checkpoint["LocalPath"] == "/opt/ml/checkpoints"
        assert request["AlgorithmSpecification"]["ContainerArguments"][-1] == "/opt/ml/checkpoints"
        if model.compiled_artifacts:
            assert resolve(checkpoint["S3Uri"]) == served_data(synthesized, key), (profile, key)
        sent = all_states(deployed_definition(synthesized, "compile"))[f"Compile-{key}"]["Parameters"]
        models_bucket = platform_bucket(synthesized, "Models")
        prefix, instance_type, image = COMPILED[profile, key]
        assert prefix == (model.compiled_artifacts or f"compiled/{key}/")
        assert sent["CheckpointConfig"] == {
            "S3Uri": f"s3://{models_bucket}/{prefix}",
            "LocalPath": "/opt/ml/checkpoints",
        }
        assert sent["OutputDataConfig"]["S3OutputPath"] == f"s3://{models_bucket}/compile-jobs"
        assert request["ResourceConfig"]["InstanceType"] == instance_type
        assert request["AlgorithmSpecification"]["TrainingImage"] == image


@pytest.mark.parametrize("profile", LIFECYCLE_PROFILES)
def test_the_lifecycle_compiles_the_served_shape_with_the_serving_image(profile: str) -> None:
    synthesized = synth(profile)
    requests = sagemaker_requests(definition(synthesized.templates["lifecycle"])["States"])
    serving = synthesized.stacks["inference"].serving_target  # type: ignore[attr-defined]
    if not needs_compile_stage(serving.server):
        assert "CompileForServing" not in requests, profile
        return
    request = validate(*requests["CompileForServing"])
    create_model = requests["CreateModel"][1]["PrimaryContainer"]
    env = {k: resolve(v) for k, v in create_model["Environment"].items()}
    assert job_shape(serving.server, request) == served_shape(serving.server, env), profile
    assert request["AlgorithmSpecification"]["TrainingImage"] == create_model["Image"]
    # The candidate's export is the job's own /opt/ml/model output, under compiled/lifecycle/<job name>/output/model/
    # (test_lifecycle.py follows it to CreateModel): no checkpoint sync, the platform key on the output.
    sent = all_states(deployed_definition(synthesized, "lifecycle"))["CompileForServing"]["Parameters"]
    assert "CheckpointConfig" not in sent
    assert sent["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{platform_bucket(synthesized, 'Models')}/compiled/lifecycle",
        "KmsKeyId": platform_key_arn(synthesized),
        "CompressionType": "NONE",
    }
    assert request["ResourceConfig"]["InstanceType"] == "ml.trn1.32xlarge"


def test_a_changed_argument_breaks_the_shape_comparison(prod: Synthesized) -> None:
    """The comparison can fail: one edited flag in the compile job and the shapes differ."""
    params = sagemaker_requests(definition(prod.templates["compile"])["States"])["Compile-chat"][1]
    request = validate("CreateTrainingJob", params)
    arguments = request["AlgorithmSpecification"]["ContainerArguments"]
    arguments[arguments.index("--batch_size") + 1] = "8"
    _, env = served_model(prod, "chat")
    assert job_shape(ContainerKind.TGI_NEURONX, request) != served_shape(ContainerKind.TGI_NEURONX, env)


def next_states(states: dict[str, Any], start: str, stop: str) -> list[str]:
    """The states from `start` following `Next` (Choices by their default) until `stop`."""
    path, name = [start], start
    while name != stop:
        state = states[name]
        name = state.get("Next") or state.get("Default")
        assert name, f"{path[-1]} has no next state before {stop}"
        path.append(name)
    return path


def test_lifecycle_order_is_train_compile_candidate_endpoint(dev: Synthesized) -> None:
    states = definition(dev.templates["lifecycle"])["States"]
    path = next_states(states, "FineTune", "CreateCandidateEndpoint")
    assert path[:5] == ["FineTune", "RecordCandidate", "CompileForServing", "RecordCompiledArtifacts", "CreateModel"]
    compiled = states["RecordCompiledArtifacts"]["Parameters"]["model_s3_uri.$"]
    assert "/compiled/lifecycle/{}/output/model/" in compiled and "$.compile.TrainingJobName" in compiled
    # CreateModel and the registered package both name what RecordCompiledArtifacts recorded.
    assert states["CreateModel"]["Parameters"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri.$"] == (
        "$.candidate.model_s3_uri"
    )
    compile_task = states["CompileForServing"]
    assert compile_task["Resource"].endswith("sagemaker:createTrainingJob.sync")
    assert compile_task["Parameters"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri.$"] == (
        "$.candidate.trained_s3_uri"
    )
    assert [c["ErrorEquals"] for c in compile_task["Catch"]] == [["States.ALL"]]


def policy_statements(template: dict[str, Any], role_description: str) -> list[dict[str, Any]]:
    """Every statement of the inline and managed policies attached to the role with that description."""
    (logical,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("Description") == role_description
    ]
    return [
        s
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and {"Ref": logical} in r["Properties"].get("Roles", [])
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def object_grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """S3 object action -> the object ARNs (deployed form) it is granted on."""
    grants: dict[str, set[str]] = {}
    for st in statements:
        for action in as_list(st["Action"]):
            if action.startswith("s3:") and action != "s3:ListBucket":
                grants.setdefault(action, set()).update(str(resolve(r)) for r in as_list(st["Resource"]))
    return grants


def test_the_compile_role_reads_the_trained_models_and_writes_only_the_compiled_prefix(dev: Synthesized) -> None:
    statements = policy_statements(dev.templates["lifecycle"], COMPILE_ROLE)
    grants = {action: {arn.split("/", 1)[1] for arn in arns} for action, arns in object_grants(statements).items()}
    assert grants == {
        "s3:GetObject": {"training-output/*"},
        "s3:PutObject": {"compiled/lifecycle/*"},
        "s3:AbortMultipartUpload": {"compiled/lifecycle/*"},
    }
    pulls = [r for st in statements if "ecr:BatchGetImage" in as_list(st["Action"]) for r in as_list(st["Resource"])]
    assert len(pulls) == 1 and str(resolve(pulls[0])).endswith(":repository/huggingface-pytorch-tgi-inference")


COMPILE_ROLE = "Neuron compile (export) jobs: read a model, write its compiled artifacts"


def test_the_standalone_workflow_is_an_output_and_refuses_an_unknown_model() -> None:
    template = synth("multimodel").templates["compile"]
    assert "CompileStateMachineArn" in template["Outputs"]
    states = definition(template)["States"]
    assert states["ModelKnown"]["Default"] == "UnknownModel"
    known = states["ModelKnown"]["Choices"][0]["Or"]
    assert sorted(c["StringEquals"] for c in known) == ["all", "llama", "mistral"]
    synced = object_grants(policy_statements(template, COMPILE_ROLE))["s3:DeleteObject"]
    models = CONFIGS["multimodel"].inference.models  # type: ignore[union-attr]
    expected = {f"{m.compiled_artifacts or f'compiled/{k}/'}*" for k, m in models.items() if k != "embed"}
    assert {w.split("/", 1)[1] for w in synced} == expected
