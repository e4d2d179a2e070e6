"""The suite's two slow checks, started when collection ends so they overlap the other tests on the second core.

- The pinned CLI's `cdk synth` (built-in CloudFormation validator on) runs as a subprocess.
- cfn-lint runs in spawned worker processes (no jsii there), one job per synthesized template.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/support/ is two levels down


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
    process = subprocess.Popen(
        ["cdk", "synth", "--quiet", "--output", str(out_dir)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "CDK_VALIDATION": "true"},
    )
    return CliSynth(process, out_dir)


def lint_template(template_json: str, region: str) -> list[tuple[str, str, str]]:
    """cfn-lint one template: (rule id, message, path) per finding. Runs in a worker process."""
    from cfnlint.api import ManualArgs, lint

    return [
        (m.rule.id, m.message, "/".join(map(str, m.path)))
        for m in lint(template_json, config=ManualArgs(regions=[region]))
    ]


@cache
def lint_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))


def submit_lint(template_json: str, region: str) -> Future[list[tuple[str, str, str]]]:
    return lint_pool().submit(lint_template, template_json, region)


def shutdown() -> None:
    if lint_pool.cache_info().currsize:
        lint_pool().shutdown(cancel_futures=True)
    if cli_synth.cache_info().currsize and cli_synth().process.poll() is None:
        cli_synth().process.kill()
