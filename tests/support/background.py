"""The suite's slow checks, started when collection ends so they overlap the other tests on the second core.

- The pinned CLI's `cdk synth` (built-in CloudFormation validator on) runs as a subprocess.
- cfn-lint runs in spawned worker processes (no jsii there), one job per synthesized template.
- checkov runs as one subprocess over every template at once, from its own venv (`make setup` builds .venv-checkov
  from requirements-checkov.lock: its boto3 pin is older than the project's).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/support/ is two levels down
# `make setup` puts checkov's venv beside the project venv: in this checkout, or beside the venv a worktree links to.
CHECKOV_VENVS = (ROOT / ".venv-checkov", Path(sys.prefix).resolve().parent / ".venv-checkov")
checkov_runs: list[CheckovRun] = []  # started ones, ended and removed by shutdown()


def lower_priority() -> None:
    """Run a background check at a lower CPU priority than the tests: the test thread is the session's critical
    path (the checks end before their tests are reached), so on two cores the checks should take only what it leaves."""
    os.nice(10)


@dataclass(frozen=True)
class CliSynth:
    process: subprocess.Popen[str]
    out_dir: Path

    def wait(self, timeout: float = 300) -> tuple[int, str]:
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr


@cache
def cli_synth() -> CliSynth:
    """`cdk synth` as `make synth` runs it, started once; `wait()` collects it."""
    out_dir = Path(tempfile.mkdtemp(prefix="cdk-cli-synth-"))
    # The project's pinned CLI and node 22 (package.json), as the Makefile puts them first on PATH.
    local_bin = ROOT / "node_modules" / ".bin"
    process = subprocess.Popen(
        [str(local_bin / "cdk"), "synth", "--quiet", "--output", str(out_dir)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PATH": f"{local_bin}{os.pathsep}{os.environ.get('PATH', '')}", "CDK_VALIDATION": "true"},
        preexec_fn=lower_priority,
    )
    return CliSynth(process, out_dir)


def lint_template(template_json: str, region: str) -> list[tuple[str, str, str]]:
    """cfn-lint one template: (rule id, message, path) per finding. Runs in a worker process.

    What `cfnlint.api.lint` does, with the rules loaded once per worker: given no rules, or a `Rules` (what its
    `Runner` holds; the api's check is for `RulesCollection`), `lint` builds a new `Runner`, whose rule constructors
    read their data files again for every template (the IAM permissions table alone is 0.3 s) — about 40 % of the
    lint time (cfn-lint 1.58.0, `api.py`, `runner/cli.py`). cfn-lint's own command line keeps one Runner's rules for
    all its templates, as here; the rules do not depend on the region.
    """
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, errors = decode_str(template_json)
    matches = errors or list(run_template_by_data(template, ConfigMixIn(regions=[region]), lint_rules()))
    return [(m.rule.id, m.message, "/".join(map(str, m.path))) for m in matches]


@cache
def lint_rules() -> Any:
    """cfn-lint's default rules, as `cfnlint.runner.Runner` loads them, once per worker process."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=[])).rules


LINT_WORKERS = 2


@cache
def lint_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=LINT_WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=lower_priority
    )


def submit_lint(template_json: str, region: str) -> Future[list[tuple[str, str, str]]]:
    return lint_pool().submit(lint_template, template_json, region)


@dataclass(frozen=True)
class CheckovRun:
    process: subprocess.Popen[bytes]
    directory: Path  # the scanned templates, and checkov's output beside them

    def report(self, timeout: float = 300) -> dict[str, Any]:
        """checkov's JSON report (failed checks only, and the summary); raises if checkov itself failed."""
        self.process.wait(timeout=timeout)
        stderr = (self.directory.parent / "stderr").read_text()
        # Exit code 1 means some check failed; anything else is checkov failing (bad arguments, a crash).
        if self.process.returncode not in (0, 1):
            raise RuntimeError(f"checkov exited with {self.process.returncode}: {stderr[-2000:]}")
        report: dict[str, Any] = json.loads((self.directory.parent / "report.json").read_text())
        return report


def start_checkov(templates: dict[str, str]) -> CheckovRun:
    """checkov (CloudFormation checks) over the templates, file name -> template JSON, in one process.

    --skip-download: no call to Prisma Cloud for guidelines or policies (the checks ship with the package); --quiet
    keeps only failed checks in the report, whose summary still counts every resource scanned.
    """
    checkov = next((venv / "bin" / "checkov" for venv in CHECKOV_VENVS if (venv / "bin" / "checkov").exists()), None)
    if checkov is None:
        raise FileNotFoundError(
            f"{CHECKOV_VENVS[0]} is missing: `make setup` installs checkov there from requirements-checkov.lock"
        )
    work = Path(tempfile.mkdtemp(prefix="checkov-"))
    directory = work / "templates"
    directory.mkdir()
    for name, text in templates.items():
        (directory / name).write_text(text)
    with (work / "report.json").open("wb") as stdout, (work / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            [
                str(checkov),
                *("--directory", str(directory), "--framework", "cloudformation", "--output", "json"),
                *("--compact", "--quiet", "--skip-download"),
            ],
            cwd=work,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=lower_priority,
        )
    run = CheckovRun(process, directory)
    checkov_runs.append(run)
    return run


def shutdown() -> None:
    if lint_pool.cache_info().currsize:
        lint_pool().shutdown(cancel_futures=True)
    if cli_synth.cache_info().currsize and cli_synth().process.poll() is None:
        cli_synth().process.kill()
    for run in checkov_runs:
        if run.process.poll() is None:
            run.process.kill()
        shutil.rmtree(run.directory.parent, ignore_errors=True)
