"""Draw the deployed stacks as a Mermaid flowchart, from a synthesized cloud assembly.

    python -m tools.diagram cdk.out docs/stacks.md      (what `make diagram` runs)

One subgraph per stack with its main resources grouped by type, solid arrows for cross-stack references
(`Fn::GetStackOutput` / `Fn::ImportValue` in a template, labelled with how many values flow) and dotted arrows for
deployment-order dependencies that carry no reference (the manifest's `dependencies`). Standard library only: the
core, `render`, takes templates and dependencies, so a test can draw the session's in-process synth without running
the app again.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

# Resource types worth drawing, in the order they appear inside a stack, with their label (singular, plural).
GROUPS: dict[str, tuple[str, str]] = {
    "AWS::KMS::Key": ("KMS key", "KMS keys"),
    "AWS::EC2::VPC": ("VPC", "VPCs"),
    "AWS::EC2::VPCEndpoint": ("VPC endpoint", "VPC endpoints"),
    "AWS::EC2::SecurityGroup": ("security group", "security groups"),
    "AWS::S3::Bucket": ("S3 bucket", "S3 buckets"),
    "AWS::SageMaker::Model": ("SageMaker model", "SageMaker models"),
    "AWS::SageMaker::EndpointConfig": ("endpoint config", "endpoint configs"),
    "AWS::SageMaker::Endpoint": ("SageMaker endpoint", "SageMaker endpoints"),
    "AWS::SageMaker::InferenceComponent": ("inference component", "inference components"),
    "AWS::ApplicationAutoScaling::ScalableTarget": ("autoscaling target", "autoscaling targets"),
    "AWS::StepFunctions::StateMachine": ("Step Functions state machine", "Step Functions state machines"),
    "AWS::SageMaker::ModelPackageGroup": ("model package group", "model package groups"),
    "AWS::SageMaker::ModelBiasJobDefinition": ("model-bias job definition", "model-bias job definitions"),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": (
        "explainability job definition",
        "explainability job definitions",
    ),
    "AWS::SageMaker::DataQualityJobDefinition": ("data-quality job definition", "data-quality job definitions"),
    "AWS::SageMaker::ModelQualityJobDefinition": ("model-quality job definition", "model-quality job definitions"),
    "AWS::SageMaker::MonitoringSchedule": ("monitoring schedule", "monitoring schedules"),
    "AWS::Bedrock::Guardrail": ("Bedrock guardrail", "Bedrock guardrails"),
    "AWS::SageMaker::Cluster": ("HyperPod cluster", "HyperPod clusters"),
    "AWS::SNS::Topic": ("SNS topic", "SNS topics"),
    "AWS::CloudWatch::Alarm": ("CloudWatch alarm", "CloudWatch alarms"),
    "AWS::IAM::Role": ("IAM role", "IAM roles"),
}


def _walk(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def cross_stack_references(templates: Mapping[str, Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """(producer, consumer) -> number of distinct values the consumer's template reads from the producer's outputs."""
    exports = {
        output["Export"]["Name"]: stack
        for stack, template in templates.items()
        for output in template.get("Outputs", {}).values()
        if isinstance(output.get("Export", {}).get("Name"), str)
    }
    seen: set[tuple[str, str, str]] = set()
    for consumer, template in templates.items():
        for node in _walk(template.get("Resources", {})):
            if isinstance(name := node.get("Fn::ImportValue"), str) and name in exports:
                seen.add((exports[name], consumer, name))
            reference = node.get("Fn::GetStackOutput")
            if isinstance(reference, Mapping) and isinstance(producer := reference.get("StackName"), str):
                seen.add((producer, consumer, str(reference.get("OutputName"))))
    return Counter((producer, consumer) for producer, consumer, _ in seen if producer != consumer)


def _ordered(stacks: Sequence[str], dependencies: Mapping[str, Sequence[str]]) -> list[str]:
    """Stacks in deployment order (a stack after everything it depends on), ties by name."""
    ordered: list[str] = []
    remaining = sorted(stacks)
    while remaining:
        ready = [s for s in remaining if all(d in ordered or d not in stacks for d in dependencies.get(s, ()))]
        nxt = ready[0] if ready else remaining[0]  # a cycle cannot deploy; draw it anyway
        ordered.append(nxt)
        remaining.remove(nxt)
    return ordered


def render(templates: Mapping[str, Mapping[str, Any]], dependencies: Mapping[str, Sequence[str]]) -> str:
    """The Markdown page: a Mermaid flowchart of `templates` (stack name -> template JSON) and their dependencies."""
    order = _ordered(list(templates), dependencies)
    ids = {stack: f"s{number}" for number, stack in enumerate(order, 1)}
    lines = ["flowchart LR"]
    for stack in order:
        counts = Counter(r.get("Type") for r in templates[stack].get("Resources", {}).values())
        sid = ids[stack]
        lines.append(f'  subgraph {sid}["{stack}"]')
        lines.append("    direction TB")
        drawn = [(kind, labels) for kind, labels in GROUPS.items() if counts[kind]]
        for number, (kind, (one, many)) in enumerate(drawn, 1):
            label = one if counts[kind] == 1 else f"{counts[kind]} {many}"
            lines.append(f'    {sid}_{number}["{label}"]')
        if not drawn:
            lines.append(f'    {sid}_0["{sum(counts.values())} resources"]')
        lines.append("  end")
    references = Counter({pair: n for pair, n in cross_stack_references(templates).items() if set(pair) <= set(ids)})
    for producer, consumer in sorted(references, key=lambda pc: (order.index(pc[0]), order.index(pc[1]))):
        count = references[producer, consumer]
        label = f"{count} value" + ("" if count == 1 else "s")
        lines.append(f'  {ids[producer]} -->|"{label}"| {ids[consumer]}')
    for consumer in order:
        for producer in sorted(set(dependencies.get(consumer, ())) & set(ids), key=order.index):
            if (producer, consumer) not in references:
                lines.append(f'  {ids[producer]} -.->|"deploys first"| {ids[consumer]}')
    chart = "\n".join(lines)
    return (
        "# The deployed stacks\n\n"
        "<!-- Generated by `make diagram` (tools/diagram.py) from the default profile's synth; do not edit. -->\n\n"
        "One box per stack of the default profile with its main resources (IAM roles as a count); solid arrows carry\n"
        "values from one stack's outputs to another's template (the number of values), dotted arrows are deployment\n"
        "order without a reference. Other profiles add or drop stacks: see [architecture](architecture.md).\n\n"
        f"```mermaid\n{chart}\n```\n"
    )


def read_assembly(out_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Templates and stack-to-stack dependencies of a cloud assembly (`cdk.out`)."""
    manifest = json.loads((out_dir / "manifest.json").read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    templates = {
        name: json.loads((out_dir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in stacks.items()
    }
    dependencies = {
        name: [d for d in artifact.get("dependencies", []) if d in stacks] for name, artifact in stacks.items()
    }
    return templates, dependencies


def main(argv: Sequence[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python -m tools.diagram CDK_OUT_DIR OUTPUT.md")
    out_dir, target = Path(argv[0]), Path(argv[1])
    target.write_text(render(*read_assembly(out_dir)))
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
