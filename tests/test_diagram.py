"""docs/stacks.md is the picture of the default profile's stacks: it must match what the app synthesizes today."""

from tests.support.harness import ROOT, Synthesized
from tools.diagram import render


def test_stacks_diagram_is_up_to_date(dev: Synthesized) -> None:
    """Drawn from the session's dev synth (no second synth); the page `make diagram` writes from `cdk.out`."""
    names = {unit: stack.stack_name for unit, stack in dev.stacks.items()}
    templates = {names[unit]: template for unit, template in dev.templates.items()}
    ours = set(templates)
    dependencies = {
        stack.stack_name: [d.stack_name for d in stack.dependencies if d.stack_name in ours]
        for stack in dev.stacks.values()
    }
    page = ROOT / "docs" / "stacks.md"
    assert page.exists(), "docs/stacks.md is missing: run `make diagram`"
    assert page.read_text() == render(templates, dependencies), (
        "docs/stacks.md is stale (the stacks changed): run `make diagram` and commit the result"
    )


def test_cross_stack_references_and_dependencies_are_drawn() -> None:
    producer = {"Resources": {}, "Outputs": {"Out": {"Value": "x", "Export": {"Name": "producer:Bucket"}}}}
    consumer = {
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"KmsMasterKeyId": {"Fn::ImportValue": "producer:Bucket"}},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Arn": {"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "KeyArn"}}},
            },
        }
    }
    page = render(
        {"consumer": consumer, "producer": producer, "other": {"Resources": {}}},
        {"consumer": ["producer"], "other": ["producer"]},
    )
    assert 's1["other"]' not in page  # deployment order: producer first
    assert 's1["producer"]' in page
    assert '["SNS topic"]' in page and '["IAM role"]' in page
    assert '-->|"2 values"|' in page  # the import and the stack output, both from producer
    assert '-.->|"deploys first"|' in page  # other depends on producer without a reference
