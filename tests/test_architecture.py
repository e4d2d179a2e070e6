"""The layers of docs/architecture.md hold: import-linter's contracts pass on the tree and fail on a breaking import,
and the job code's catalog that the app reads stays standard-library only."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "stacks",
    "cdk_constructs",
    "sagemaker_requests",
    "compliance",
    "config",
    "neuron",
    "neuronctl",
    "evaluation",
    "training",
    "staging",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source packages and the contracts, which a test may break without touching the work tree."""
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("cdk_constructs/secure_bucket.py", "import stacks.platform", "CDK app layers"),
        ("compliance/packs.py", "import cdk_constructs.secure_bucket", "CDK app layers"),
        ("neuron/catalog.py", "import config.base", "CDK app layers"),
        ("config/evaluation.py", "import evaluation.model_runner", "only through its standard-library catalog"),
        ("evaluation/report.py", "import neuron.catalog", "Job code imports nothing"),
        ("staging/stage_hub_snapshot.py", "import config.inference", "Job code imports nothing"),
        ("stacks/hub_staging.py", "import staging.stage_hub_snapshot", "only through its standard-library catalog"),
        ("neuronctl/output.py", "import cdk_constructs.secure_bucket", "never the CDK building blocks"),
    ],
)
def test_a_breaking_import_fails_its_contract(tree: Path, module: str, bad_import: str, contract: str) -> None:
    path = tree / module
    original = path.read_text()
    path.write_text(original + f"\n{bad_import}\n")
    try:
        result = _lint_imports(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) == 1 and contract in broken[0], result.stdout


def test_the_contracts_hold_on_the_tree(tree: Path) -> None:
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_job_catalog_the_app_reads_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "evaluation" / "catalog.py").read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names


def test_no_construct_module_imports_a_stack() -> None:
    """cdk_constructs/ holds building blocks: none imports the stacks that compose them."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "cdk_constructs").glob("*.py")
        if any(
            (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stacks"))
            or (isinstance(node, ast.Import) and any(a.name.startswith("stacks") for a in node.names))
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert offenders == []


def _imported_modules(source: str) -> set[str]:
    """Every module an import statement names: `from a import b` counts as `a` and `a.b` (b may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _test_imports(source: str) -> list[str]:
    return sorted(m for m in _imported_modules(source) if m.startswith("tests.test_") or m == "tests.conftest")


@pytest.mark.parametrize(
    "source", ["from tests.test_lifecycle import deployed", "from tests import test_lifecycle", "import tests.test_x"]
)
def test_an_import_of_a_test_module_is_found(source: str) -> None:
    assert _test_imports(source) != []


def test_no_test_module_imports_another_and_nothing_shipped_imports_the_tests() -> None:
    """Shared test code lives in tests/support/; the shipped packages never reach into tests/ (fakes included)."""
    between_tests = {path.name: _test_imports(path.read_text()) for path in (ROOT / "tests").rglob("*.py")}
    assert {name: found for name, found in between_tests.items() if found} == {}
    shipped = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path.read_text()) if m.split(".")[0] == "tests"
        )
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    assert {name: found for name, found in shipped.items() if found} == {}
    assert not (ROOT / "neuronctl" / "testing.py").exists(), "test fakes belong in tests/support/"
