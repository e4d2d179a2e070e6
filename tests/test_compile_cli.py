"""`neuronctl run start compile`: the workflow kind finds the compile stack's output and starts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

from config import load_config
from neuronctl import cli, run
from neuronctl.discovery import COMPILE_STATE_MACHINE, Deployment
from neuronctl.errors import CliError
from neuronctl.session import Aws
from tests.support.harness import synth
from tests.support.offline import stubbed

pytest_plugins = ["tests.support.aws_fixtures"]  # the `aws` and `offline` fixtures
pytestmark = pytest.mark.usefixtures("offline")

MACHINE = "arn:aws:states:us-west-2:111122223333:stateMachine:Compile-ab12"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture()
def stubs(aws: Aws) -> Iterator[dict[str, Stubber]]:
    with stubbed(aws, ("cloudformation", "stepfunctions")) as stubbers:
        yield stubbers


def expect_compile_stack(stubs: dict[str, Stubber], outputs: list[dict[str, str]]) -> None:
    stubs["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "NeuronGenAI-prod-compile",
                    "CreationTime": T0,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": outputs,
                }
            ]
        },
        {"StackName": "NeuronGenAI-prod-compile"},
    )


def test_the_compile_stack_publishes_the_output_neuronctl_reads() -> None:
    assert COMPILE_STATE_MACHINE in synth("prod").templates["compile"]["Outputs"]
    assert run.WORKFLOWS["compile"] == ("compile", COMPILE_STATE_MACHINE)


def test_start_compile_sends_the_model_key(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_compile_stack(stubs, [{"OutputKey": COMPILE_STATE_MACHINE, "OutputValue": MACHINE}])
    stubs["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": f"{MACHINE.replace('stateMachine', 'execution')}:r1", "startDate": T0},
        {"stateMachineArn": MACHINE, "input": json.dumps({"model": "chat"})},
    )
    started = run.start(Deployment(load_config("prod", environ={}), aws), "compile", {"model": "chat"}, None)
    assert started["executionArn"].endswith(":r1")


def test_a_profile_without_the_compile_stack_is_told_how_to_deploy_it(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_compile_stack(stubs, [])
    with pytest.raises(CliError, match="has no output CompileStateMachineArn"):
        run.start(Deployment(load_config("prod", environ={}), aws), "compile", {}, None)


def test_the_cli_offers_the_compile_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "start", "--help"])
    assert "{lifecycle,evaluation,compile,stage}" in capsys.readouterr().out
