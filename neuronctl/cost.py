"""`neuronctl cost`: what a profile's deployed resources cost per hour and per month, from the price table.

It reads what the profile actually deploys: the synthesized CloudFormation templates (synthesized in-process, or
read from an existing cloud assembly with --assembly cdk.out). Always-on resources — endpoint instances and HyperPod
instance groups — make the hourly and monthly total (730 h). Training, processing and transform jobs (in the
workflows, or processing jobs and monitoring schedules in the templates) cost money only while they run: they are
listed per run, at $/hour while running, and not added to the monthly total.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import AppConfig
from neuronctl import prices
from neuronctl.errors import CliError, ExitCode
from neuronctl.prices import Category

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Line:
    stack: str
    resource: str  # logical id (and state / variant)
    kind: str  # endpoint | hyperpod | training job | processing job | transform job | monitoring
    instance_type: str
    count: int
    min_count: int | None
    max_count: int | None
    always_on: bool
    hourly_each: float | None
    category: str

    @property
    def hourly(self) -> float | None:
        return None if self.hourly_each is None else self.hourly_each * self.count

    def as_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "hourly": self.hourly,
            "monthly": None if self.hourly is None or not self.always_on else self.hourly * prices.HOURS_PER_MONTH,
        }


@dataclass(frozen=True)
class Report:
    profile: str
    region: str
    lines: list[Line]

    @property
    def always_on(self) -> list[Line]:
        return [line for line in self.lines if line.always_on]

    @property
    def per_run(self) -> list[Line]:
        return [line for line in self.lines if not line.always_on]

    def total_hourly(self, which: str = "now") -> float:
        total = 0.0
        for line in self.always_on:
            count = {"now": line.count, "floor": line.min_count, "ceiling": line.max_count}[which]
            count = line.count if count is None else count
            total += (line.hourly_each or 0.0) * count
        return total

    @property
    def unpriced(self) -> list[str]:
        return sorted({f"{line.instance_type} ({line.category})" for line in self.lines if line.hourly_each is None})

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "region": self.region,
            "hourly": self.total_hourly(),
            "monthly": self.total_hourly() * prices.HOURS_PER_MONTH,
            "hourly_floor": self.total_hourly("floor"),
            "hourly_ceiling": self.total_hourly("ceiling"),
            "always_on": [line.as_json() for line in self.always_on],
            "per_run": [line.as_json() for line in self.per_run],
            "unpriced": self.unpriced,
            "prices": prices.provenance(),
        }


# ------------------------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------------------------
def synthesize(config: AppConfig) -> dict[str, dict[str, Any]]:
    """The profile's templates, synthesized in-process exactly as `cdk synth` would (built-in validator off)."""
    import aws_cdk as cdk

    from stacks.deployment import build_stacks

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, builtin_cloud_formation_validation=False, outdir=None)
    stacks = build_stacks(app, config)
    assembly = app.synth()
    return {stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template for stack in stacks.values()}


def read_assembly(directory: Path, config: AppConfig) -> dict[str, dict[str, Any]]:
    """The profile's templates from an existing cloud assembly (`cdk synth -c profile=...` output)."""
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except OSError:
        raise CliError(
            f"{manifest_path} not found: run `cdk synth -c profile={config.profile}` first, or leave out "
            "--assembly to synthesize in-process",
            ExitCode.NOT_FOUND,
        ) from None
    prefix = config.stack_name("")
    templates = {}
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        name = artifact.get("displayName") or artifact.get("properties", {}).get("stackName", "")
        name = name.split("/")[-1]
        if name.startswith(prefix):
            templates[name] = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
    if not templates:
        raise CliError(
            f"{directory} holds no stacks of profile {config.profile!r} (names starting {prefix!r}): "
            f"synthesize it with `cdk synth -c profile={config.profile}`",
            ExitCode.NOT_FOUND,
        )
    return templates


# ------------------------------------------------------------------------------------------------------------------
# Resources -> cost lines
# ------------------------------------------------------------------------------------------------------------------
def report(config: AppConfig, templates: Mapping[str, Mapping[str, Any]]) -> Report:
    lines: list[Line] = []
    for stack, template in templates.items():
        lines.extend(_lines(stack, template))
    return Report(config.profile, config.region, lines)


def _price(instance_type: str, category: Category) -> float | None:
    return prices.quote(instance_type, category).hourly if instance_type.startswith("ml.") else None


def _lines(stack: str, template: Mapping[str, Any]) -> Iterator[Line]:
    resources: Mapping[str, Any] = template.get("Resources", {})
    used_configs = _endpoint_configs_in_use(resources)
    variant_bounds = _variant_scaling_bounds(resources)
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::SageMaker::EndpointConfig" and (not used_configs or logical_id in used_configs):
            for variant in props.get("ProductionVariants", []):
                if not isinstance(variant.get("InstanceType"), str):
                    continue  # serverless variants have no instances
                count = int(variant.get("InitialInstanceCount", 1))
                managed = variant.get("ManagedInstanceScaling") or {}
                low, high = variant_bounds.get(str(variant.get("VariantName")), (None, None))
                if managed.get("Status") == "ENABLED":
                    low, high = managed.get("MinInstanceCount", low), managed.get("MaxInstanceCount", high)
                yield Line(
                    stack,
                    f"{logical_id}/{variant.get('VariantName', '?')}",
                    "endpoint",
                    variant["InstanceType"],
                    count,
                    low,
                    high,
                    True,
                    _price(variant["InstanceType"], "sagemaker-hosting"),
                    "sagemaker-hosting",
                )
        elif kind == "AWS::SageMaker::Cluster":
            for group in props.get("InstanceGroups", []):
                yield Line(
                    stack,
                    f"{logical_id}/{group.get('InstanceGroupName', '?')}",
                    "hyperpod",
                    group["InstanceType"],
                    int(group.get("InstanceCount", 1)),
                    None,
                    None,
                    True,
                    _price(group["InstanceType"], "sagemaker-training"),
                    "sagemaker-training",
                )
        elif kind == "AWS::StepFunctions::StateMachine":
            definition = _definition(props)
            if definition is not None:
                yield from _job_lines(stack, logical_id, definition)
        elif kind in {"AWS::SageMaker::ProcessingJob"}:
            yield from _job_lines(stack, logical_id, props)
        elif kind.startswith("AWS::SageMaker::") and kind.endswith("JobDefinition"):
            yield from _job_lines(stack, logical_id, props, monitoring=True)


def _endpoint_configs_in_use(resources: Mapping[str, Any]) -> set[str]:
    used = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::SageMaker::Endpoint":
            ref = resource.get("Properties", {}).get("EndpointConfigName")
            if isinstance(ref, dict):
                target = ref.get("Ref") or (ref.get("Fn::GetAtt") or [None])[0]
                if target:
                    used.add(str(target))
    return used


def _variant_scaling_bounds(resources: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Instance-count scaling of endpoint variants: variant name -> (min, max), from the scalable targets."""
    bounds = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        if (
            resource.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
            and props.get("ScalableDimension") == "sagemaker:variant:DesiredInstanceCount"
        ):
            text = json.dumps(props.get("ResourceId"))
            variant = text.split("/variant/")[-1].split('"')[0] if "/variant/" in text else "?"
            bounds[variant] = (int(props.get("MinCapacity", 0)), int(props.get("MaxCapacity", 0)))
    return bounds


_JOB_SHAPES: dict[str, tuple[str, Category]] = {
    "ResourceConfig": ("training job", "sagemaker-training"),
    "ProcessingResources": ("processing job", "sagemaker-processing"),
    "JobResources": ("processing job", "sagemaker-processing"),
    "TransformResources": ("transform job", "sagemaker-processing"),
}


def _job_lines(stack: str, logical_id: str, node: Any, *, monitoring: bool = False, where: str = "") -> Iterator[Line]:
    if isinstance(node, list):
        for item in node:
            yield from _job_lines(stack, logical_id, item, monitoring=monitoring, where=where)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _JOB_SHAPES and isinstance(value, dict):
            cluster = value.get("ClusterConfig", value)
            instance_type = cluster.get("InstanceType") or cluster.get("InstanceType.$")
            if isinstance(instance_type, str):
                kind, category = _JOB_SHAPES[key]
                count = cluster.get("InstanceCount", 1)
                dynamic = not instance_type.startswith("ml.")
                label = f"{logical_id}{'/' + where if where else ''}"
                yield Line(
                    stack,
                    label,
                    ("monitoring " if monitoring else "") + kind,
                    "(chosen at run time)" if dynamic else instance_type,
                    int(count) if isinstance(count, int) else 1,
                    None,
                    None,
                    False,
                    None if dynamic else _price(instance_type, category),
                    category,
                )
            continue
        child_where = key if isinstance(value, dict) and "Type" in value and "States" not in value else where
        yield from _job_lines(stack, logical_id, value, monitoring=monitoring, where=child_where)


def _definition(props: Mapping[str, Any]) -> Any:
    """A state machine definition as JSON, with CloudFormation tokens in it replaced by placeholders."""
    if isinstance(props.get("Definition"), dict):
        return props["Definition"]
    raw = props.get("DefinitionString")
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, dict) and "Fn::Join" in raw:
        separator, parts = raw["Fn::Join"]
        text = ""
        for part in parts:
            piece = part if isinstance(part, str) else ("__TOKEN__" if _inside_string(text) else '"__TOKEN__"')
            text += (separator if text else "") + piece
    else:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _inside_string(text: str) -> bool:
    quotes, escaped = 0, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quotes += 1
    return quotes % 2 == 1
