import contextlib
from pathlib import Path

import pytest

from config import available_profiles
from tests.support import background
from tests.support.harness import Synthesized, checkov_results, lint_results, synth

BACKGROUND_TESTS = ("tests.test_cfn_lint", "tests.test_checkov", "tests.test_synth")
CLI_SYNTH_TESTS = Path(__file__).resolve().parent / "test_synth.py"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the CLI's own synth before collection when the session will run tests/test_synth.py: it needs nothing
    from this process, and collection plus the in-process synth of every profile keep only one core busy."""
    if any(_covers(arg, CLI_SYNTH_TESTS) for arg in session.config.args):
        background.cli_synth()


def _covers(arg: str, test_file: Path) -> bool:
    path = Path(arg.split("::")[0]).resolve()
    return path == test_file or path in test_file.parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the slow background checks now, and collect their results last so they overlap everything else."""
    modules = {item.module.__name__ for item in items if isinstance(item, pytest.Function)}
    if "tests.test_synth" in modules:
        background.cli_synth()  # already running when the session started with it (pytest_sessionstart)
    if "tests.test_cfn_lint" in modules:
        for profile in available_profiles():
            lint_results(profile)
    if "tests.test_checkov" in modules:
        # Without the checkov venv its tests fail, with the message; the session goes on.
        with contextlib.suppress(FileNotFoundError):
            checkov_results()
    items.sort(key=lambda item: isinstance(item, pytest.Function) and item.module.__name__ in BACKGROUND_TESTS)


def pytest_sessionfinish() -> None:
    background.shutdown()


@pytest.fixture(scope="session")
def dev() -> Synthesized:
    """The default profile, synthesized once for the whole session."""
    return synth("dev")


@pytest.fixture(scope="session")
def prod() -> Synthesized:
    return synth("prod")
