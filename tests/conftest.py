import pytest

from tests.harness import Synthesized, synth


@pytest.fixture(scope="session")
def dev() -> Synthesized:
    """The default profile, synthesized once for the whole session."""
    return synth("dev")


@pytest.fixture(scope="session")
def prod() -> Synthesized:
    return synth("prod")
