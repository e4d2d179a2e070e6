"""The evaluation job's image: a digest-pinned base, hash-locked dependencies that still resolve for the image's
Python, and every import of the job's code satisfied by the lock.

`test_the_lock_still_resolves_for_the_image_python` asks PyPI (uv, ~5-15 s): it re-runs the lock's own command with the
lock's pins as constraints and must reproduce every pin and hash, so it fails when a pinned file disappears (yanked,
deleted), when the inputs changed without a re-lock (a package added or dropped), or when the set stops resolving for
Python 3.11. The pins are constraints, not just the cut-off date, because the registry this machine reads back-fills
releases: on 2026-12-07 a boto3 uploaded before the lock's cut-off (1.44.13, 2026-11-27) appeared that was not there
when the lock was made, and a byte-for-byte re-resolution failed although the lock was still valid. It is skipped,
saying so, only when the registry cannot be reached.
"""

from __future__ import annotations

import ast
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOB = ROOT / "evaluation"
LOCK = JOB / "requirements.lock"
TORCH_LOCK = JOB / "torch-cpu.lock"
DOCKERFILE = JOB / "Dockerfile"
IMAGE_PYTHON = "3.11"
# Import name -> distribution name where they differ (the rest normalize to themselves).
DISTRIBUTIONS = {"yaml": "pyyaml", "sklearn": "scikit-learn", "botocore": "botocore", "boto3": "boto3"}


def pins(text: str) -> dict[str, str]:
    """name -> version of every `name==version` requirement line of a pip/uv lock."""
    return {
        re.sub(r"[-_.]+", "-", m.group(1)).lower(): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", text, re.MULTILINE)
    }


def lock_command() -> list[str]:
    """The `uv pip compile ...` line recorded in the lock's header (the exact command that produced it)."""
    header = next(line for line in LOCK.read_text().splitlines() if line.startswith("#    uv pip compile"))
    return header.removeprefix("#    ").split()


def test_the_image_is_pinned_by_digest_and_installs_only_hashed_locked_packages() -> None:
    dockerfile = DOCKERFILE.read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"[\w./-]+:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    installs = re.findall(r"pip install [^\n]*", dockerfile)
    assert installs and all("--require-hashes" in i and "-r evaluation/" in i for i in installs), installs
    assert "requirements.txt" not in dockerfile
    locked = LOCK.read_text()
    every_pin_hashed = re.findall(r"^[A-Za-z0-9][^\s]*==[^\s]+ \\\n\s+--hash=sha256:[0-9a-f]{64}", locked, re.MULTILINE)
    assert len(every_pin_hashed) == len(pins(locked)) > 100
    # CPU torch only: no CUDA wheels anywhere, torch itself from the CPU index with its hash.
    assert not [name for name in pins(locked) if name.startswith(("nvidia-", "cuda-", "torch", "triton"))]
    assert pins(TORCH_LOCK.read_text()) == {"torch": "2.13.0+cpu"} and "--hash=sha256:" in TORCH_LOCK.read_text()
    assert "--python-version" in lock_command() and lock_command()[lock_command().index("--python-version") + 1] == (
        IMAGE_PYTHON
    )
    # The pins the research found necessary (fmeval 1.2.3 METADATA and the pyarrow/numpy import failure).
    assert {k: pins(locked)[k] for k in ("fmeval", "sagemaker", "pandas", "numpy")} == {
        "fmeval": "1.2.3",
        "sagemaker": "2.253.1",
        "pandas": "2.2.3",
        "numpy": "1.26.4",
    }
    assert int(pins(locked)["pyarrow"].split(".")[0]) < 26  # pyarrow 26 refuses to import with numpy < 2


def test_the_offline_switches_come_after_the_prefetch_and_before_the_smoke_run() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    prefetch = next(i for i, line in enumerate(lines) if "python -m evaluation.prefetch" in line)
    offline = next(i for i, line in enumerate(lines) if line.startswith("ENV HF_HUB_OFFLINE=1"))
    smoke = next(i for i, line in enumerate(lines) if "python -m evaluation.smoke" in line)
    assert prefetch < offline < smoke
    assert "HF_EVALUATE_OFFLINE=1" in lines[offline] and "TRANSFORMERS_OFFLINE=1" in lines[offline]


def third_party_imports() -> dict[str, set[str]]:
    """Top-level modules imported anywhere in the job's code (ast over evaluation/*.py), minus stdlib and itself."""
    found: dict[str, set[str]] = {}
    for path in sorted(JOB.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "evaluation":
                    found.setdefault(top, set()).add(path.name)
    return found


def test_every_import_of_the_job_is_satisfied_by_the_lock() -> None:
    imports = third_party_imports()
    assert {"fmeval", "jmespath", "boto3", "botocore"} <= set(imports)  # the scan sees the job's real imports
    locked = set(pins(LOCK.read_text())) | set(pins(TORCH_LOCK.read_text()))
    missing = {
        f"{module} (in {', '.join(sorted(files))})": DISTRIBUTIONS.get(module, module).replace("_", "-").lower()
        for module, files in imports.items()
        if DISTRIBUTIONS.get(module, module).replace("_", "-").lower() not in locked
    }
    assert missing == {}, "imported by the job but not in evaluation/requirements.lock"


def test_the_import_scan_catches_an_unlocked_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "job.py").write_text("import json\nimport numpy\nfrom scipy import stats\nfrom . import sibling\n")
    monkeypatch.setattr(sys.modules[__name__], "JOB", tmp_path)
    assert third_party_imports() == {"numpy": {"job.py"}, "scipy": {"job.py"}}


def pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def test_the_lock_still_resolves_for_the_image_python(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is missing: it is in requirements-dev.txt (`make setup`)")
    if not pypi_reachable():
        pytest.skip("PyPI (pypi.org:443) is unreachable: cannot check that evaluation/requirements.lock resolves")
    command = lock_command()
    out = tmp_path / "requirements.lock"
    command[command.index("-o") + 1] = str(out)
    constraints = tmp_path / "pins.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins(LOCK.read_text()).items())))
    result = subprocess.run(
        [uv, *command[1:], "--constraint", str(constraints), "--quiet", "--no-progress"],
        cwd=JOB,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"the lock's pins no longer resolve for Python {IMAGE_PYTHON}:\n{result.stderr}"
    assert requirement_lines(out.read_text()) == requirement_lines(LOCK.read_text()), (
        "evaluation/requirements.lock differs from what its own command resolves with its pins: a pinned file is gone "
        "or requirements.in changed without a re-lock; re-lock with `make eval-lock`"
    )


def requirement_lines(lock: str) -> list[str]:
    """The pins and hashes of a uv lock without its comments (the `# via` notes name the constraints file)."""
    return [line.strip() for line in lock.splitlines() if line.strip() and not line.lstrip().startswith("#")]
