"""The fixtures of the neuronctl tests that stub AWS (a pytest plugin, not a test module).

A test module loads them with `pytest_plugins = ["tests.support.aws_fixtures"]` and applies `offline` to all its tests
with `pytestmark = pytest.mark.usefixtures("offline")`: plugin fixtures are visible to the whole session, so `offline`
is not autouse. Its `stubs` fixture comes from `tests.support.offline.stubbed`, naming the clients its commands call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from neuronctl.session import Aws, AwsOptions
from tests.support.offline import check_every_request, loopback_only, offline_session, use_offline_environment


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """No credentials or config files from the machine, no connection beyond loopback, and every request a client
    sends checked against its service model (enum, min/max, pattern on top of botocore's structure check)."""
    use_offline_environment(monkeypatch, tmp_path)
    found = check_every_request(monkeypatch)
    with loopback_only():
        yield
    assert found == [], "requests the service would refuse:\n" + "\n".join(found)


@pytest.fixture()
def aws() -> Aws:
    return Aws(AwsOptions(region="us-east-1"), session=offline_session())
