"""Keep the neuronctl tests off the network: a loopback-only connection guard, an environment and boto3 session with
dummy credentials, botocore Stubbers on the clients a command calls (and on the evaluation job's runtime client), and
the service-model check on every request those clients send."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from botocore.response import StreamingBody
from botocore.stub import Stubber

from neuronctl.session import Aws
from tests.support.service_model import check_client

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@contextmanager
def loopback_only() -> Iterator[None]:
    """Fail any connection to an address that is not loopback, for the duration of the block."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def _check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in LOOPBACK and not host.startswith("127."):
            raise AssertionError(f"test tried to connect to {address!r}: only loopback is allowed")

    def connect(self: socket.socket, address: Any) -> None:
        _check(address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(address)
        return original_connect_ex(self, address)

    setattr(socket.socket, "connect", connect)  # noqa: B010 (setattr: patching a builtin method on purpose)
    setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010
    try:
        yield
    finally:
        setattr(socket.socket, "connect", original_connect)  # noqa: B010
        setattr(socket.socket, "connect_ex", original_connect_ex)  # noqa: B010


OFFLINE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}
CLEARED_ENVIRONMENT = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_REGION",
)


def use_offline_environment(monkeypatch: Any, tmp_path: Any) -> None:
    """Dummy credentials, no metadata service, no shared config: boto3 can sign but cannot find anything real."""
    for name in CLEARED_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in OFFLINE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))


_CORE_SESSION: Any = None


def offline_session(region: str = "us-east-1") -> Any:
    """A boto3 session with dummy credentials on one shared botocore session, so service models load once per run."""
    import boto3
    import botocore.session

    global _CORE_SESSION
    if _CORE_SESSION is None:
        _CORE_SESSION = botocore.session.get_session()
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region, botocore_session=_CORE_SESSION
    )


@contextmanager
def stubbed(aws: Aws, services: Sequence[str]) -> Iterator[dict[str, Stubber]]:
    """A botocore Stubber on each named client of `aws`; every queued response must have been used by the end."""
    with ExitStack() as stack:
        stubbers = {s: stack.enter_context(Stubber(aws.client(s))) for s in services}
        yield stubbers
        for stubber in stubbers.values():
            stubber.assert_no_pending_responses()


def check_every_request(monkeypatch: Any) -> list[str]:
    """Hook the service-model check (tests.support.service_model) into every client any `Aws` hands out for the rest
    of the test, whichever session built it (a fixture's, or the one `neuronctl.cli.main` builds itself). Returns the
    list the violations are appended to: the caller fails the test when it is not empty."""
    found: list[str] = []
    original = Aws.client

    def client(self: Aws, service: str) -> Any:
        created = service not in self._clients
        made = original(self, service)
        if created:
            check_client(made, found.append)
        return made

    monkeypatch.setattr(Aws, "client", client)
    return found


@contextmanager
def stubbed_runtime(exchanges: list[tuple[dict[str, Any], object]]) -> Iterator[Any]:
    """A real `sagemaker-runtime` client (as the job builds when given none) whose InvokeEndpoint calls must be exactly
    `exchanges` - (request parameters, JSON answer) in order, checked by botocore's Stubber - and whose every request
    passes the service-model check (tests/support/service_model.py): endpoint and component names included."""
    client = offline_session().client("sagemaker-runtime")
    found: list[str] = []
    check_client(client, found.append)
    with Stubber(client) as stubber:
        for request, answer in exchanges:
            data = json.dumps(answer).encode()
            response = {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"}
            stubber.add_response("invoke_endpoint", response, request)
        yield client
        stubber.assert_no_pending_responses()
    assert found == []
