"""The `neuronctl` console command: installed, --help everywhere, exit codes that mean something."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from neuronctl import cli, commands
from neuronctl.context import Context
from neuronctl.errors import EXIT_CODES_HELP, CliError, ExitCode

SUBCOMMANDS = [
    ["plan"],
    ["cost"],
    ["invoke"],
    ["run"],
    ["run", "start"],
    ["run", "status"],
    ["run", "watch"],
    ["capacity"],
]


@pytest.mark.parametrize("words", [[], *SUBCOMMANDS], ids=lambda w: " ".join(w) or "neuronctl")
def test_every_command_has_help_with_the_exit_codes(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*words, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert out.startswith(f"usage: neuronctl {' '.join(words)}".rstrip())
    assert " ".join(EXIT_CODES_HELP.split()) in " ".join(out.split())


def test_exit_codes_are_documented_and_distinct() -> None:
    assert EXIT_CODES_HELP == (
        "exit codes: 0 ok, 1 failed, 2 usage, 3 refused, 4 not-found, 5 environment, "
        "6 unavailable, 7 blocked, 130 interrupted"
    )
    assert len({c.value for c in ExitCode}) == len(ExitCode)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["plan"])
    assert done.value.code == ExitCode.USAGE
    assert "the following arguments are required: model" in capsys.readouterr().err
    assert cli.main(["plan", "gpt-5"]) == ExitCode.USAGE
    assert capsys.readouterr().err.startswith("neuronctl: error: model preset 'gpt-5' is unknown; known presets: ")


def test_unknown_profile_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "-c", "nope", "--assembly", "."]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("neuronctl: error: profile 'nope' not found: no nope.yaml in ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("words", "module", "handler"),
    [
        (["plan", "llama-3.1-8b"], "plan", "handle"),
        (["cost"], "cost", "handle"),
        (["invoke", "hello"], "invoke", "handle"),
        (["run", "start", "lifecycle"], "run", "start"),
        (["run", "status", "evaluation"], "run", "status"),
        (["run", "watch", "lifecycle"], "run", "watch"),
        (["capacity"], "capacity", "handle"),
    ],
)
def test_each_command_is_parsed_and_handled_by_its_own_module(words: list[str], module: str, handler: str) -> None:
    """One module per command: the parser a command line reaches hands it to a handler of neuronctl/commands/<name>."""
    parsed = cli.build_parser().parse_args(words)
    assert (parsed.handler.__module__, parsed.handler.__name__) == (f"neuronctl.commands.{module}", handler)
    assert [c.__name__.rsplit(".", 1)[1] for c in commands.COMMANDS] == ["plan", "cost", "invoke", "run", "capacity"]


def test_an_operator_error_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(ctx: Context) -> int:
        raise CliError("it broke", ExitCode.REFUSED)

    monkeypatch.setattr(commands.plan, "handle", refused)
    assert cli.main(["plan", "llama-3.1-8b"]) == ExitCode.REFUSED
    assert capsys.readouterr().err == "neuronctl: error: it broke\n"
    with pytest.raises(CliError):
        cli.main(["plan", "llama-3.1-8b", "--debug"])


def test_a_bug_is_reported_as_an_internal_error_with_the_traceback_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not phrased as the operator's mistake: the exception's type and text, and how to get the traceback."""

    def buggy(ctx: Context) -> int:
        return {"Stacks": []}["Outputs"]  # type: ignore[return-value]  # a KeyError: a bug, not an AWS failure

    monkeypatch.setattr(commands.cost, "handle", buggy)
    assert cli.main(["cost"]) == ExitCode.FAILED
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "neuronctl: error: internal error: KeyError: 'Outputs' (run with --debug for the traceback)\n",
    )
    with pytest.raises(KeyError, match="Outputs"):
        cli.main(["cost", "--debug"])


def test_ctrl_c_in_a_command_exits_130_with_one_note(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real signal, during an AWS call, is in test_neuronctl_faults.py; this is the dispatcher's half for every
    command, --debug included (a traceback for Ctrl-C helps nobody)."""

    def interrupted(ctx: Context) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands.plan, "handle", interrupted)
    for debug in ([], ["--debug"]):
        assert cli.main(["plan", "llama-3.1-8b", *debug]) == 130  # ExitCode.INTERRUPTED, the shells' 128 + SIGINT
        assert capsys.readouterr() == ("", "interrupted\n")


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("neuronctl")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout) == (0, "neuronctl 0.1.0\n")
