"""`neuronctl plan` agrees with the synth pre-flight; `neuronctl cost` prices what a profile deploys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from neuron.catalog import INSTANCES, TENSOR_PARALLEL_DEGREES, ContainerKind
from neuron.models import preset
from neuron.planning import PreflightError
from neuron.planning import plan as preflight
from neuron.sizing import SizingError, check_fit
from neuronctl import cli, cost, prices, throughput
from neuronctl.errors import ExitCode
from neuronctl.plan import plan, startup_refusals
from tests.support.harness import Synthesized

# (profile, model overrides, model preset, batch, sequence, dtype, quantization, plan --source, --server): the shapes
# the profiles configure, and the 70B profile without its compiled artifacts (an S3 source compiled at start-up).
SHAPES = [
    ("dev", {}, "llama-3.1-8b", 4, 4096, "bf16", None, "compiled", ContainerKind.TGI_NEURONX),
    ("llama70b", {}, "llama-3.1-70b", 4, 4096, "bf16", "int8", "compiled", ContainerKind.LMI_NEURONX),
    (
        "llama70b",
        {"compiled_artifacts": None},
        "llama-3.1-70b",
        4,
        4096,
        "bf16",
        "int8",
        "s3",
        ContainerKind.LMI_NEURONX,
    ),
]
SHAPE_ARGS = ("profile", "model_overrides", "model", "batch", "seq", "dtype", "quant", "source", "server")


@pytest.mark.parametrize(SHAPE_ARGS, SHAPES)
def test_plan_rows_are_exactly_the_configurations_the_preflight_accepts(
    profile: str,
    model_overrides: dict[str, Any],
    model: str,
    batch: int,
    seq: int,
    dtype: str,
    quant: str | None,
    source: str,
    server: ContainerKind,
) -> None:
    arch = preset(model)
    rows = plan(
        arch, batch_size=batch, sequence_length=seq, dtype=dtype, quantization=quant, source=source, server=server
    )
    shown = {(r.fit.instance_type, r.fit.degree): r for r in rows}
    assert shown, f"plan shows nothing for {model}"
    refused = accepted_count = 0
    for name, spec in INSTANCES.items():
        if spec.family != "inf2":
            continue
        for degree in TENSOR_PARALLEL_DEGREES["inf2"]:
            overrides = {
                "inference": {
                    "instance_type": name,
                    "models": {"chat": {"tensor_parallel_degree": degree, **model_overrides}},
                }
            }
            config = load_config(profile, overrides, environ={})
            assert config.inference is not None
            try:
                accepted = preflight(config.inference)["chat"].fit
            except PreflightError as err:
                refused += 1
                row = shown.get((name, degree))
                # Not shown (does not hold the model), or shown with the pre-flight's own reason.
                assert row is None or (row.refusals and all(r in str(err) for r in row.refusals)), (
                    f"plan shows {name} degree {degree} as deployable, the pre-flight refuses it: {err}"
                )
                continue
            accepted_count += 1
            row = shown.get((name, degree))
            assert row is not None and row.fit == accepted and row.accepted, f"pre-flight accepts {name} {degree}"
            assert (
                check_fit(
                    arch,
                    name,
                    degree,
                    batch_size=batch,
                    sequence_length=seq,
                    dtype=dtype,
                    quantization=quant,
                    server=server,
                    compiled=source == "compiled",
                )
                == accepted
            )
    assert refused + accepted_count == 4 * len(TENSOR_PARALLEL_DEGREES["inf2"]) and refused > 0
    assert accepted_count == sum(r.accepted for r in rows)


def test_70b_int8_without_compiled_artifacts_is_refused_for_start_up_by_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = load_config("llama70b", {"inference": {"models": {"chat": {"compiled_artifacts": None}}}}, environ={})
    assert config.inference is not None
    with pytest.raises(PreflightError) as err:
        preflight(config.inference)
    reason = (
        "start-up needs about 8849 s (compile 7761 s for 70.6B parameters + download + load), over SageMaker's "
        "3600 s limit"
    )
    assert reason in str(err.value)
    rows = plan(
        preset("llama-3.1-70b"),
        batch_size=4,
        sequence_length=4096,
        dtype="bf16",
        quantization="int8",
        source="s3",
        server=ContainerKind.LMI_NEURONX,
    )
    # LMI (transformers-neuronx) pads 64 / 8 heads to 72 / 72 at degree 12 and 72 / 24 at degree 24.
    assert [(r.fit.instance_type, r.fit.degree, r.refusals, r.smallest) for r in rows] == [
        ("ml.inf2.24xlarge", 8, (reason,), False),
        ("ml.inf2.24xlarge", 12, (reason,), False),
        ("ml.inf2.48xlarge", 8, (reason,), False),
        ("ml.inf2.48xlarge", 24, (reason,), False),
        ("ml.inf2.48xlarge", 12, (reason,), False),
    ]
    assert (
        cli.main(["plan", "llama-3.1-70b", "--quant", "int8", "--source", "s3", "--server", "lmi-neuronx"])
        == ExitCode.REFUSED
    )
    captured = capsys.readouterr()
    assert [line.split()[-2:] for line in captured.out.splitlines()[3:]] == [["refused:", "start-up"]] * 5
    assert captured.err.endswith(
        f"neuronctl: error: the pre-flight refuses every configuration above for lmi-neuronx from s3: {reason}. "
        "Fix: --source compiled (set the model's compiled_artifacts to a pre-compiled export)\n"
    )
    # TGI from S3 without compiled artifacts: refused because TGI never compiles (neuron.planning), not for time.
    assert cli.main(["plan", "llama-3.1-70b", "--quant", "int8", "--json", "--source", "s3"]) == ExitCode.REFUSED
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "s3" and data["server"] == "tgi-neuronx"
    assert all(
        c["preflight_refusals"]
        == ["start-up: tgi-neuronx never compiles, it starts only from compiled artifacts or a public-cache shape"]
        and not c["preflight_smallest_fit"]
        for c in data["configurations"]
    )


def test_a_model_over_the_volume_limit_is_refused_for_its_volume_alone() -> None:
    # 270B parameters in bf16, compiled: 503 GiB of weights load within 3600 s, but with scratch they need 549 GB.
    arch = dataclasses.replace(preset("llama-3.1-70b"), name="synthetic-270b", parameters=270_000_000_000)
    assert startup_refusals(arch, dtype="bf16", source="compiled", server=ContainerKind.TGI_NEURONX) == [
        "needs a 549 GB volume, over SageMaker's 512 GB limit"
    ]
    assert (
        startup_refusals(preset("llama-3.1-70b"), dtype="bf16", source="compiled", server=ContainerKind.TGI_NEURONX)
        == []
    )


@pytest.mark.parametrize(SHAPE_ARGS, SHAPES[:2])
def test_the_profile_deploys_a_configuration_plan_shows(
    profile: str,
    model_overrides: dict[str, Any],
    model: str,
    batch: int,
    seq: int,
    dtype: str,
    quant: str | None,
    source: str,
    server: ContainerKind,
) -> None:
    config = load_config(profile, environ={})
    assert config.inference is not None
    deployed = preflight(config.inference)["chat"].fit
    rows = plan(
        preset(model),
        batch_size=batch,
        sequence_length=seq,
        dtype=dtype,
        quantization=quant,
        source=source,
        server=server,
    )
    assert deployed in [r.fit for r in rows if r.accepted]


def test_70b_in_bf16_fits_inf2_48xlarge_at_degree_24_as_published(capsys: pytest.CaptureFixture[str]) -> None:
    """Llama-3-70B bf16 runs at degree 24 on inf2.48xlarge (aws-neuron-sdk inf2 benchmark tables, optimum-neuron
    benchmarks): the server pads 64 / 8 heads to 72 / 24. From S3 it is refused for start-up only (compiling 70B takes
    longer than SageMaker's limit); from a compiled export it is the smallest fit."""
    assert cli.main(["plan", "llama-3.1-70b", "--source", "compiled"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split()[:5] == ["ml.inf2.48xlarge", "24", "1", "193.3/384", "72/24"]
    assert lines[3].endswith("smallest fit (pre-flight)") and len(lines) == 4
    with pytest.raises(SizingError, match=r"needs 158\.1 GiB .* smallest fit: ml\.inf2\.48xlarge at degree 24 "):
        check_fit(
            preset("llama-3.1-70b"),
            "ml.inf2.48xlarge",
            8,
            batch_size=4,
            sequence_length=4096,
            dtype="bf16",
            server=ContainerKind.TGI_NEURONX,
        )
    assert cli.main(["plan", "llama-3.1-70b", "--batch", "64", "--seq", "32768"]) == 3
    assert capsys.readouterr().err.startswith(
        "neuronctl: error: nothing in the catalog holds llama-3.1-70b: 70.6B parameters, bf16, batch 64, sequence "
        "32768 on inf2: lower --batch or --seq, or try --quant int8\n"
    )


def test_plan_table_is_cheapest_first_and_marks_the_preflight_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "llama-3.1-8b"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "llama-3.1-8b: 8.0B parameters, bf16, batch 4, sequence 4096, tgi-neuronx from compiled"
    row = lines[3].split()
    # From a compiled export TGI loads layer by layer (4.8 GiB of host memory): the 16 GiB inf2.xlarge holds it.
    assert row[:5] == ["ml.inf2.xlarge", "2", "1", "20.7/32", "32/8"]
    assert row[8:10] == ["180", "$0.9900"] and row[-3:] == ["smallest", "fit", "(pre-flight)"]
    expected, itl, ttft = float(row[5].rstrip("*")), float(row[6]), float(row[7].replace(",", ""))
    assert expected == pytest.approx(4 * 1000 / itl, rel=0.01) and 0 < expected < 180 and ttft > 0
    assert float(row[10].strip("$")) == pytest.approx(0.99 / (expected * 3600) * 1e6, rel=0.01) and row[11] == "$1.53"
    hourly = [float(line.split()[9].strip("$").replace(",", "")) for line in lines[3:]]
    assert hourly == sorted(hourly)


def test_plan_json_carries_the_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["plan", "llama-3.1-70b", "--quant", "int8", "--json", "--pricing", "ec2", "--source", "compiled"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    first = data["configurations"][0]
    assert (data["source"], first["preflight_refusals"], first["preflight_smallest_fit"]) == ("compiled", [], True)
    assert (first["instance_type"], first["degree"], first["replicas_per_instance"]) == ("ml.inf2.24xlarge", 8, 1)
    assert first["dollars_per_hour"] == 6.4906  # EC2 on-demand inf2.24xlarge
    assert first["used_gib"] == 86.86 and first["available_gib"] == 128


def test_throughput_bound_is_bandwidth_over_bytes_per_token() -> None:
    fit = check_fit(preset("llama-3.1-8b"), "ml.inf2.8xlarge", 2, batch_size=4, sequence_length=4096, dtype="bf16")
    bytes_per_step = (fit.weights_gib + fit.kv_cache_gib) * 1024**3
    # degree 2 = both cores of one Inferentia2 chip: 820 GB/s
    assert throughput.decode_tokens_per_second(fit, 4) == pytest.approx(4 * 820e9 / bytes_per_step)
    assert throughput.dollars_per_million_tokens(2.36, 1, 180.0) == pytest.approx(2.36 / (180 * 3600) * 1e6)
    assert throughput.dollars_per_million_tokens(None, 1, 180.0) is None


def test_price_table_is_dated_sourced_and_says_whose_prices_they_are() -> None:
    table = prices.load()
    assert table.checked == "2026-11" and table.region == "us-east-1"
    services = {name: t.service for name, t in table.tables.items()}
    assert services == {
        "sagemaker-hosting": "SageMaker",
        "sagemaker-training": "SageMaker",
        "sagemaker-processing": "SageMaker",
        "ec2-on-demand": "EC2",
    }
    for name, t in table.tables.items():
        assert t.source.startswith("https://aws.amazon.com/")
        assert all(k.startswith("ml.") == (t.service == "SageMaker") for k in t.prices), name
    for instance, spec in INSTANCES.items():  # every serving instance has a SageMaker and an EC2 price
        if spec.family in {"inf1", "inf2"}:
            assert prices.quote(instance, "sagemaker-hosting").hourly is not None
            assert prices.quote(instance, "ec2-on-demand").hourly is not None
    assert prices.quote("ml.inf2.xlarge", "ec2-on-demand").instance_type == "inf2.xlarge"


# --------------------------------------------------------------------------------------------------------------------
# cost
# --------------------------------------------------------------------------------------------------------------------
DEFINITION_PARTS: list[Any] = [
    '{"StartAt":"Train","States":{"Train":{"Type":"Task","Resource":"arn:aws:states:::sagemaker:createTrainingJob.sync",'
    '"Parameters":{"RoleArn":"',
    {"Fn::GetAtt": ["Role", "Arn"]},
    '","ResourceConfig":{"InstanceType":'
    '"ml.trn1.32xlarge","InstanceCount":4,"VolumeSizeInGB":512},"StoppingCondition":{"MaxRuntimeInSeconds":',
    {"Ref": "Runtime"},
    '}},"Next":"Eval"},"Eval":{"Type":"Task","Parameters":{"ProcessingResources":{"ClusterConfig":'
    '{"InstanceType.$":"$.evaluation.instance_type","InstanceCount":1,"VolumeSizeInGB":30}}},"End":true}}}',
]
TEMPLATE = {
    "Resources": {
        "Live": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": "ml.inf2.48xlarge",
                        "InitialInstanceCount": 2,
                        "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 4},
                    }
                ]
            },
        },
        "Stale": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {"VariantName": "AllTraffic", "InstanceType": "ml.inf2.xlarge", "InitialInstanceCount": 9}
                ]
            },
        },
        "Endpoint": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {"EndpointConfigName": {"Fn::GetAtt": ["Live", "EndpointConfigName"]}},
        },
        "Cluster": {
            "Type": "AWS::SageMaker::Cluster",
            "Properties": {
                "InstanceGroups": [
                    {"InstanceGroupName": "controller", "InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
                    {"InstanceGroupName": "workers", "InstanceType": "ml.trn1.32xlarge", "InstanceCount": 2},
                ]
            },
        },
        "Workflow": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": {"Fn::Join": ["", DEFINITION_PARTS]}},
        },
    }
}


def test_cost_prices_endpoint_instances_hyperpod_groups_and_lists_jobs_per_run() -> None:
    result = cost.report(load_config("dev", environ={}), {"Stack": TEMPLATE})
    always = {
        (line.resource, line.instance_type, line.count, line.min_count, line.max_count, line.hourly)
        for line in result.always_on
    }
    assert always == {
        ("Live/AllTraffic", "ml.inf2.48xlarge", 2, 0, 4, 2 * 15.58),
        ("Cluster/controller", "ml.m5.xlarge", 1, None, None, 0.23),
        ("Cluster/workers", "ml.trn1.32xlarge", 2, None, None, 2 * 24.725),
    }
    assert result.total_hourly() == pytest.approx(31.16 + 0.23 + 49.45)
    assert result.total_hourly("floor") == pytest.approx(0.23 + 49.45)  # the endpoint scales to zero
    assert result.total_hourly("ceiling") == pytest.approx(4 * 15.58 + 0.23 + 49.45)
    per_run = [(line.resource, line.kind, line.instance_type, line.count, line.hourly) for line in result.per_run]
    assert per_run == [
        ("Workflow/Train", "training job", "ml.trn1.32xlarge", 4, 4 * 24.725),
        ("Workflow/Eval", "processing job", "(chosen at run time)", 1, None),
    ]
    assert result.as_json()["monthly"] == pytest.approx((31.16 + 0.23 + 49.45) * 730)


def test_cost_through_main_synthesizes_the_profile_and_prices_what_it_deploys(
    dev: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    """`neuronctl cost -c dev --json` with no --assembly: neuronctl synthesizes the profile itself (the one extra synth
    of the suite) and must see exactly what the session's synth of the same profile holds."""
    assert cli.main(["cost", "-c", "dev", "--json"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert captured.err == ""
    printed = json.loads(captured.out)
    by_stack = {dev.stacks[unit].stack_name: template for unit, template in dev.templates.items()}
    assert printed == json.loads(json.dumps(cost.report(dev.config, by_stack).as_json()))
    [endpoint] = printed["always_on"]
    assert {k: endpoint[k] for k in ("stack", "kind", "instance_type", "count", "min_count", "max_count")} == {
        "stack": "NeuronGenAI-dev-inference",
        "kind": "endpoint",
        "instance_type": "ml.inf2.8xlarge",
        "count": 1,
        "min_count": 1,
        "max_count": 2,
    }
    assert (printed["profile"], printed["hourly"], printed["unpriced"]) == ("dev", pytest.approx(2.36), [])
    assert ("ml.trn1.2xlarge", "training job") in {(line["instance_type"], line["kind"]) for line in printed["per_run"]}


def test_cost_reads_a_cloud_assembly_and_prints_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "NeuronGenAI-dev-inference.template.json").write_text(json.dumps(TEMPLATE))
    (tmp_path / "Other-prod-inference.template.json").write_text(json.dumps(TEMPLATE))
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    name: {
                        "type": "aws:cloudformation:stack",
                        "displayName": name,
                        "properties": {"templateFile": f"{name}.template.json"},
                    }
                    for name in ("NeuronGenAI-dev-inference", "Other-prod-inference")
                }
            }
        )
    )
    assert cli.main(["cost", "-c", "dev", "--assembly", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "total: $80.84/hour, $59,013.20/month (730 h) as deployed; scaling range $49.68..$112.00/hour" in out
    assert out.count("NeuronGenAI-dev-inference  Live/AllTraffic") == 1 and "Other-prod" not in out


def test_cost_without_an_assembly_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "--assembly", str(tmp_path)]) == 4
    assert capsys.readouterr().err == (
        f"neuronctl: error: {tmp_path}/manifest.json not found: run `cdk synth -c "
        "profile=dev` first, or leave out --assembly to synthesize in-process\n"
    )
