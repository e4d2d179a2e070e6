"""The Hub -> S3 staging job (issue 12 item 3): a `from_hub` source is copied by a processing job with egress into the
exact prefix the endpoint then loads network-isolated; the job's request, its script and its role, and the token that
never appears in any request."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from huggingface_hub import snapshot_download

from config import ConfigError, load_config
from config.inference import HubStaging, S3PrefixSource
from neuron.catalog import HUB_STAGING_REGIONS, SAGEMAKER_REGIONS
from neuron.errors import UserError
from neuron.images import UnknownRegionError, dlc_account, hub_staging_image_uri
from neuronctl import cli, run
from neuronctl.discovery import STAGING_STATE_MACHINE
from sagemaker_requests.hub_staging import OUTPUT_DIR, StagingTargets, staging_request, staging_volume_gb
from staging import stage_hub_snapshot as script
from tests.support.harness import synth
from tests.support.service_model import violations
from tests.support.state_machines import definition, resolve, sagemaker_requests, validate

COMMIT = "a5beb1e3e68b9ab74eb54cfd186867f64f240e1a"
TARGETS = StagingTargets(
    image_uri=hub_staging_image_uri("us-east-1"),
    role_arn="arn:aws:iam::111122223333:role/staging",
    key_arn="arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    code_s3_uri="s3://cdk-assets-111122223333-us-east-1/0123abcd.py",
    code_file_name="0123abcd.py",
    output_s3_uri="s3://models-bucket/llama-3.1-8b-instruct/",
    region="us-east-1",
)
GATED = HubStaging(
    model_id="meta-llama/Llama-3.1-8B-Instruct",
    revision="0123456789abcdef0123456789abcdef01234567",
    token_secret="huggingface/hub-token",
    token_secret_field="token",
    ignore_patterns=("original/*",),
)


def gated_request(**changes: Any) -> dict[str, Any]:
    staging = GATED.model_copy(update=changes)
    return dict(
        staging_request(
            staging=staging,
            targets=TARGETS,
            parameters=8_030_261_248,
            where="inference.models.chat.source.from_hub",
            tags={"model": "chat"},
        )
    )


def as_sent(request: dict[str, Any]) -> dict[str, Any]:
    """The request with its generated name as Step Functions sends it."""
    sent = copy.deepcopy(request)
    sent["ProcessingJobName"] = sent.pop("ProcessingJobName.$").replace(
        "States.Format('hub-stage-{}', States.UUID())", "hub-stage-" + "0" * 36
    )
    return sent


# --- configuration ---------------------------------------------------------------------------------------------------
def test_a_staged_source_must_pin_a_full_commit() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(
            "embedding",
            {"inference": {"models": {"embed": {"source": {"from_hub": {"revision": "main"}}}}}},
            environ={},
        )
    message = str(err.value)
    assert "inference.models.embed.source.s3-prefix.from_hub" in message
    assert "revision of BAAI/bge-base-en-v1.5 is 'main', not a pinned commit" in message
    assert "`hf models info BAAI/bge-base-en-v1.5`" in message


def test_the_embedding_profile_stages_its_model_from_a_pinned_commit() -> None:
    inference = load_config("embedding", environ={}).inference
    assert inference is not None
    source = inference.models["embed"].source
    assert isinstance(source, S3PrefixSource) and source.from_hub is not None
    assert (source.prefix, source.from_hub.model_id, source.from_hub.revision) == (
        "bge-base-en-v1.5/",
        "BAAI/bge-base-en-v1.5",
        COMMIT,
    )
    assert not inference.models["embed"].needs_hub_egress  # served from S3, isolated


# --- the request -----------------------------------------------------------------------------------------------------
def test_the_request_passes_the_service_model_and_has_egress_outside_the_vpc() -> None:
    request = gated_request()
    assert violations("sagemaker", "CreateProcessingJob", as_sent(request)) == []
    assert request["NetworkConfig"] == {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": False}
    assert request["ProcessingOutputConfig"]["Outputs"] == [
        {
            "OutputName": "model",
            "AppManaged": False,
            "S3Output": {
                "S3Uri": "s3://models-bucket/llama-3.1-8b-instruct",
                "LocalPath": "/opt/ml/processing/model",
                "S3UploadMode": "EndOfJob",
            },
        }
    ]
    cluster = request["ProcessingResources"]["ClusterConfig"]
    assert (cluster["InstanceType"], cluster["VolumeSizeInGB"]) == ("ml.m5.xlarge", 44)  # 2 x 17 GB bf16 + 10
    assert cluster["VolumeKmsKeyId"] == request["ProcessingOutputConfig"]["KmsKeyId"] == TARGETS.key_arn


def test_the_token_is_read_by_the_job_and_appears_in_no_request() -> None:
    request = gated_request()
    assert "Environment" not in request
    arguments = request["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--token-secret") + 1] == "huggingface/hub-token"  # the name, not a value
    assert "{{resolve" not in json.dumps(request) and "HF_TOKEN" not in json.dumps(request)


def test_the_script_parses_exactly_what_the_request_passes() -> None:
    request = gated_request()
    entrypoint = request["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint == ["python", "/opt/ml/processing/input/code/0123abcd.py"]
    assert request["ProcessingInputs"][0]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"
    args = script.parse_args(request["AppSpecification"]["ContainerArguments"])
    assert vars(args) == {
        "model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "output": OUTPUT_DIR,
        "region": "us-east-1",
        "token_secret": "huggingface/hub-token",
        "token_secret_field": "token",
        "ignore": ["original/*"],
    }
    assert script.OUTPUT_DIR == OUTPUT_DIR  # what the script writes is what SageMaker uploads


@pytest.mark.parametrize(("instance_type", "fragment"), [("ml.inf2.xlarge", "ml.inf2.xlarge"), ("ml.m5.huge", "m5")])
def test_a_non_processing_instance_is_refused_naming_the_setting(instance_type: str, fragment: str) -> None:
    with pytest.raises(UserError, match="is not a SageMaker processing instance type") as err:
        gated_request(instance_type=instance_type)
    assert f"inference.models.chat.source.from_hub.instance_type = {instance_type}" in str(err.value)
    assert "ml.m5.xlarge" in str(err.value)


def test_the_volume_holds_two_copies_of_the_bf16_weights() -> None:
    assert staging_volume_gb(109_482_240) == 12  # bge-base: 0.22 GB -> 1 GB, twice, + 10
    assert staging_volume_gb(70_553_706_496) == 2 * 142 + 10
    assert gated_request(volume_size_gb=500)["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 500


# aws/sagemaker-python-sdk v3.20.0 (10ada9be) sagemaker-core/src/sagemaker/core/image_uri_config/huggingface.json,
# inference version 5.5.3 / pytorch2.6.0 'registries', restricted to SAGEMAKER_REGIONS (checked 2026-12): written out
# here, while the code takes each region's account from the one deep learning container table (images.dlc_account).
SDK_HUGGINGFACE_ACCOUNTS: dict[str, str] = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-1": "763104351884",
    "ap-northeast-2": "763104351884",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "763104351884",
    "ap-south-2": "772153158452",
    "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-central-1": "763104351884",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-1": "763104351884",
    "eu-central-2": "380420809688",
    "eu-north-1": "763104351884",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eu-west-1": "763104351884",
    "eu-west-2": "763104351884",
    "eu-west-3": "763104351884",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "sa-east-1": "763104351884",
    "us-east-1": "763104351884",
    "us-east-2": "763104351884",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
    "us-west-1": "763104351884",
    "us-west-2": "763104351884",
}


def test_the_image_is_published_where_the_catalog_says() -> None:
    assert hub_staging_image_uri("eu-west-1") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-inference:"
        "2.6.0-transformers5.5.3-cpu-py312-ubuntu22.04"
    )
    assert set(HUB_STAGING_REGIONS) == set(SDK_HUGGINGFACE_ACCOUNTS) and set(HUB_STAGING_REGIONS) <= set(
        SAGEMAKER_REGIONS
    )
    for region, account in SDK_HUGGINGFACE_ACCOUNTS.items():
        assert dlc_account(region) == account, region
        assert hub_staging_image_uri(region).startswith(f"{account}.dkr.ecr.{region}."), region
    with pytest.raises(UnknownRegionError, match="not published in region 'mx-central-1'"):
        hub_staging_image_uri("mx-central-1")


# --- the job's script ------------------------------------------------------------------------------------------------
class FakeHub:
    """snapshot_download as the job calls it: bound to the installed huggingface_hub's signature (0.36.0 here; the
    image has 1.10.0, which takes the same keywords), writing a model folder and the library's metadata folder."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        import inspect

        bound = inspect.signature(snapshot_download).bind(*args, **kwargs)
        self.calls.append(dict(bound.arguments))
        root = Path(kwargs["local_dir"])
        for name, text in {**self.files, ".cache/huggingface/download/config.json.metadata": "etag"}.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return str(root)


def secrets_client(value: str) -> Any:
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response("get_secret_value", {"SecretString": value}, {"SecretId": "huggingface/hub-token"})
    stubber.activate()
    return client


def test_the_script_downloads_the_pinned_commit_with_the_token_from_secrets_manager(tmp_path: Path) -> None:
    hub = FakeHub({"config.json": "{}", "model.safetensors": "0" * 10})
    args = script.parse_args([*gated_request()["AppSpecification"]["ContainerArguments"], "--output", str(tmp_path)])
    summary = script.stage(args, download=hub, secrets=secrets_client('{"token": "hf_secret"}'))
    (call,) = hub.calls
    assert call == {
        "repo_id": "meta-llama/Llama-3.1-8B-Instruct",
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "local_dir": str(tmp_path),
        "token": "hf_secret",
        "ignore_patterns": ["original/*"],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]  # no .cache uploaded
    assert summary == {
        "model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "files": 2,
        "bytes": 12,
    }


@pytest.mark.parametrize(
    ("argv", "files", "secret", "message"),
    [
        (["--revision", "main"], {"config.json": "{}"}, None, "'main' of org/model is not a full 40-character commit"),
        (["--revision", "a5beb1e"], {"config.json": "{}"}, None, "'a5beb1e' of org/model is not a full 40-character"),
        ([], {"README.md": "x"}, None, "org/model@" + COMMIT + " has no config.json at its root"),
        (
            ["--token-secret", "huggingface/hub-token", "--token-secret-field", "hf"],
            {"config.json": "{}"},
            '{"token": "hf_secret"}',
            "secret huggingface/hub-token is not a JSON object with the key 'hf'",
        ),
    ],
)
def test_the_script_fails_the_job_with_its_reason(
    tmp_path: Path, argv: list[str], files: dict[str, str], secret: str | None, message: str
) -> None:
    base = ["--model-id", "org/model", "--revision", COMMIT, "--region", "us-east-1", "--output", str(tmp_path)]
    args = script.parse_args([*base, *argv])
    with pytest.raises(script.StagingError, match=re.escape(message)):
        script.stage(args, download=FakeHub(files), secrets=secrets_client(secret) if secret else None)


# --- the synthesized profile -----------------------------------------------------------------------------------------
def test_the_staging_job_writes_exactly_the_prefix_the_isolated_endpoint_loads() -> None:
    s = synth("embedding")
    assert "staging" in s.templates  # the old app had no way to stage
    requests = sagemaker_requests(definition(s.templates["staging"])["States"])
    operation, params = requests["Stage-embed"]
    assert operation == "CreateProcessingJob"
    request = validate(operation, params)
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    (model,) = [
        r["Properties"] for r in s.templates["inference"]["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"
    ]
    loads = resolve(model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"])
    assert resolve(output["S3Output"]["S3Uri"]) + "/" == loads and loads.endswith("/bge-base-en-v1.5/")
    assert model["EnableNetworkIsolation"] is True and "VpcConfig" in model
    assert "VpcConfig" not in request["NetworkConfig"]
    args = request["AppSpecification"]["ContainerArguments"]
    assert args[:4] == ["--model-id", "BAAI/bge-base-en-v1.5", "--revision", COMMIT]
    assert s.templates["staging"]["Outputs"]["StagedSnapshots"]["Value"] == (
        f"embed: BAAI/bge-base-en-v1.5@{COMMIT} -> bge-base-en-v1.5/"
    )


def test_the_staging_role_writes_only_the_staged_prefix_and_reads_only_its_script() -> None:
    template = synth("embedding").templates["staging"]
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    grants: dict[str, set[str]] = {}
    for st in statements:
        for action in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
            for r in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                grants.setdefault(action, set()).add(str(resolve(r)))
    listed = grants.pop("s3:ListBucket")
    objects = {a: {r.split("/", 1)[1] for r in rs} for a, rs in grants.items() if a.startswith("s3:")}
    assert len(listed) == 1 and next(iter(listed)).startswith("arn:aws:s3:::cdk-")  # the assets bucket, by prefix
    assert objects == {
        "s3:PutObject": {"bge-base-en-v1.5/*"},
        "s3:AbortMultipartUpload": {"bge-base-en-v1.5/*"},
        "s3:GetObject": {f"{synth('embedding').stacks['staging'].code.s3_object_key}"},  # type: ignore[attr-defined]
    }
    assert not any(a.startswith(("ec2:", "secretsmanager:")) for a in grants)  # no VPC, no token in this profile


# --- neuronctl -------------------------------------------------------------------------------------------------------
def test_neuronctl_starts_the_staging_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    assert STAGING_STATE_MACHINE in synth("embedding").templates["staging"]["Outputs"]
    assert run.WORKFLOWS["stage"] == ("staging", STAGING_STATE_MACHINE)
    with pytest.raises(SystemExit):
        cli.main(["run", "start", "--help"])
    assert "{lifecycle,evaluation,compile,stage}" in capsys.readouterr().out
