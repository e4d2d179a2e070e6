"""End to end against a fault-injecting HTTP server on 127.0.0.1: retries, backoff, timeouts, streaming, credentials.

botocore's standard-mode backoff is full jitter (random x base x 2^attempt). To measure it, the tests replace its
random draw with 1.0 and scale the bases down (throttling 1 s -> 0.1 s, other errors 50 ms -> 40 ms): the delays are
then exact and the whole module runs in about two seconds.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import boto3
import botocore.retries.standard as standard
import pytest
from botocore.exceptions import NoRegionError, ReadTimeoutError

from neuronctl import cli
from neuronctl.errors import CliError, ExitCode, explain
from neuronctl.invoke import InvokeRequest, invoke
from neuronctl.prompts import build_prompt
from neuronctl.session import CONTAINER_LIMIT_S, RUNTIME_READ_TIMEOUT_S, Aws, AwsOptions
from tests.support.fault_server import FaultServer, error_reply, json_reply, stream_reply
from tests.support.offline import check_every_request, loopback_only, offline_session, use_offline_environment

THROTTLE_BASE = 0.1
OTHER_BASE = 0.04


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    use_offline_environment(monkeypatch, tmp_path)

    class MeasurableBackoff(standard.ExponentialBackoff):  # type: ignore[misc]  # botocore ships no type hints
        _DEFAULT_BACKOFF_CONFIG: ClassVar[dict[str, float]] = {
            "throttling_base_scale": THROTTLE_BASE,
            "non_throttling_base_scale": OTHER_BASE,
        }

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(random=lambda: 1.0, **kwargs)

    monkeypatch.setattr(standard, "ExponentialBackoff", MeasurableBackoff)
    found = check_every_request(monkeypatch)
    with loopback_only():
        yield
    assert found == [], "requests the service would refuse:\n" + "\n".join(found)


def attempt_numbers(server: FaultServer) -> list[int]:
    """The attempt number botocore wrote into each request's amz-sdk-request header (attempt=N; max=M; ...)."""
    numbers = []
    for received in server.received:
        fields = dict(part.strip().split("=", 1) for part in received.headers["amz-sdk-request"].split(";"))
        numbers.append(int(fields["attempt"]))
    return numbers


def aws_for(server: FaultServer, **options: Any) -> Aws:
    return Aws(
        AwsOptions(region="us-east-1", endpoint_urls={"sagemaker-runtime": server.url}, **options),
        session=offline_session(),
    )


def request(**kwargs: Any) -> InvokeRequest:
    return InvokeRequest(
        prompt=build_prompt("Say hi"),
        endpoint="ep-1",
        server="tgi-neuronx",
        context_window=4096,
        stream=False,
        **kwargs,
    )


GENERATED = json_reply([{"generated_text": "hi there"}])


def test_throttling_is_retried_with_exponential_backoff_then_succeeds() -> None:
    replies = [error_reply(429, "ThrottlingException", "Rate exceeded")] * 2 + [GENERATED]
    with FaultServer(replies) as server:
        result = invoke(aws_for(server), None, request())
    assert result.completion == "hi there"
    assert len(server.received) == 3 and server.overflow == 0
    assert attempt_numbers(server) == [1, 2, 3]
    first, second = server.gaps()
    assert THROTTLE_BASE <= first < THROTTLE_BASE + 1.0  # 1.0 x 0.1 x 2^0 (upper bound loose: CI is busy)
    assert 2 * THROTTLE_BASE <= second < 2 * THROTTLE_BASE + 1.0  # 1.0 x 0.1 x 2^1: the wait doubles
    body = json.loads(server.received[0].body)
    assert body == {"inputs": "Say hi", "parameters": {"max_new_tokens": 512, "do_sample": True, "temperature": 1.0}}
    assert server.received[0].path == "/endpoints/ep-1/invocations"


def test_5xx_is_retried_until_max_attempts_then_one_line_and_exit_6(capsys: pytest.CaptureFixture[str]) -> None:
    replies = [error_reply(503, "ServiceUnavailable", "try later")] * 3
    with FaultServer(replies) as server, pytest.raises(CliError) as caught:
        invoke(aws_for(server), None, request())
    failure = explain(caught.value)
    assert failure.code == ExitCode.UNAVAILABLE
    assert failure.message == (
        "InvokeEndpoint failed with HTTP 503 after 3 attempts (ServiceUnavailable: try later); "
        "the service is having trouble, retry later"
    )
    assert len(server.received) == 3 and server.overflow == 0
    first, second = server.gaps()
    assert first >= OTHER_BASE and second >= 2 * OTHER_BASE


def test_max_attempts_is_honoured() -> None:
    with FaultServer([error_reply(500, "InternalFailure", "boom")] * 4) as server, pytest.raises(CliError):
        invoke(aws_for(server, max_attempts=4), None, request())
    assert len(server.received) == 4 and server.overflow == 0


def test_model_not_ready_is_not_retried_by_botocore_but_waited_for_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    not_ready = error_reply(429, "ModelNotReadyException", "Model is not ready yet")
    waits: list[float] = []
    with FaultServer([not_ready, not_ready, GENERATED]) as server:
        result = invoke(aws_for(server), None, request(), sleep=waits.append)
    assert result.completion == "hi there" and result.not_ready_retries == 2
    # one HTTP request per application-level try: botocore did not retry the modelled 429 itself
    assert attempt_numbers(server) == [1, 1, 1]
    assert waits == [2.0, 4.0]
    assert (
        "endpoint ep-1 is not ready (ModelNotReady: Model is not ready yet); retrying in 2 s (retry 1, giving up "
        "after 600 s)"
    ) in capsys.readouterr().err


def test_read_timeout_is_retried_then_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with FaultServer([replace(GENERATED, delay=0.6)] * 3) as server, pytest.raises(ReadTimeoutError) as caught:
        invoke(aws_for(server, runtime_read_timeout=0.15), None, request())
    failure = explain(caught.value)
    assert failure.code == ExitCode.UNAVAILABLE
    assert failure.message.startswith(f"no response within the read timeout from {server.url}")
    assert len(server.received) == 3  # botocore retries read timeouts: hence a timeout above the container's limit


def test_reply_within_the_read_timeout_succeeds() -> None:
    with FaultServer([replace(GENERATED, delay=0.1)]) as server:
        result = invoke(aws_for(server, runtime_read_timeout=1.0), None, request())
    assert result.completion == "hi there" and len(server.received) == 1


def test_runtime_client_waits_longer_than_the_container_limit() -> None:
    aws = Aws(AwsOptions(region="us-east-1"))
    runtime = aws.client("sagemaker-runtime").meta.config
    assert runtime.read_timeout == RUNTIME_READ_TIMEOUT_S == 70.0 and runtime.read_timeout > CONTAINER_LIMIT_S
    assert runtime.retries == {"mode": "standard", "total_max_attempts": 3}
    assert aws.client("cloudformation").meta.config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_model_error_shows_the_container_message_and_log_stream() -> None:
    log = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/sagemaker/Endpoints/ep-1:log-stream:AllTraffic/i-0abc"
    reply = error_reply(
        424,
        "ModelError",
        "Received server error (500) from primary",
        OriginalStatusCode=500,
        OriginalMessage='{"error":"Input validation error: inputs tokens + max_new_tokens must be <= 4096"}',
        LogStreamArn=log,
    )
    with FaultServer([reply]) as server, pytest.raises(CliError) as caught:
        invoke(aws_for(server), None, request())
    assert len(server.received) == 1  # ModelError is never retried
    assert str(caught.value) == (
        'the model container on endpoint ep-1 answered HTTP 500: {"error":"Input validation error: inputs tokens + '
        f'max_new_tokens must be <= 4096"}}; container log: {log} (aws logs tail /aws/sagemaker/Endpoints/ep-1 '
        "--log-stream-names AllTraffic/i-0abc --since 15m)"
    )


def test_streamed_tokens_split_across_events_are_reassembled() -> None:
    events = [
        b'data:{"token": {"text": "Hel',
        b'lo"}}\n\ndata:{"token": {"text": ","}}\n',
        b'\ndata:{"token": {"text": " world", "special": false}}\n\n',
        b'data:{"token": {"text": "</s>", "special": true}, "generated_text": "Hello, world"}\n\n',
    ]
    with FaultServer([stream_reply(events)]) as server:
        result = invoke(
            aws_for(server),
            None,
            InvokeRequest(prompt=build_prompt("Say hi"), endpoint="ep-1", server="tgi-neuronx", context_window=4096),
        )
    assert result.completion == "Hello, world" and result.streamed
    assert server.received[0].path == "/endpoints/ep-1/invocations-response-stream"
    assert json.loads(server.received[0].body)["stream"] is True


def test_model_stream_error_mid_stream_is_reported() -> None:
    reply = stream_reply([b'{"token": {"text": "Hel"}}\n'], error=("NeuronCoreTimeout", "core 3 stopped responding"))
    with FaultServer([reply]) as server, pytest.raises(CliError) as caught:
        invoke(
            aws_for(server),
            None,
            InvokeRequest(prompt=build_prompt("hi"), endpoint="ep-1", server="lmi-neuronx", context_window=4096),
        )
    assert str(caught.value) == "the model container on endpoint ep-1 answered: core 3 stopped responding"


def test_streamed_invoke_through_main_writes_the_completion_to_stdout_and_the_summary_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """argv in, exit code and output out, with botocore's own event-stream parser reading real HTTP from the loopback
    server: `neuronctl.cli.main` builds its clients as shipped; botocore's service-specific endpoint variable (service
    id "SageMaker Runtime") points the runtime client at the server."""
    events = [
        b'data:{"token": {"text": "Hel',
        b'lo"}}\n\ndata:{"token": {"text": ","}}\n\n',
        b'data:{"token": {"text": " world", "special": false}}\n\n',
        b'data:{"token": {"text": "</s>", "special": true}, "generated_text": "Hello, world"}\n\n',
    ]
    with FaultServer([stream_reply(events)]) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
        code = cli.main(
            ["invoke", "Say hi", "--endpoint", "ep-1", "--server", "tgi-neuronx", "--context-window", "4096"]
        )
    captured = capsys.readouterr()
    assert code == ExitCode.OK and captured.out == "Hello, world\n"
    assert re.fullmatch(
        r"\[endpoint ep-1 \| tgi-neuronx \| prompt ~2 tokens of 4096, max_new_tokens 512 \| \d+\.\d\d s\]\n",
        captured.err,
    ), captured.err
    [sent] = server.received
    assert sent.path == "/endpoints/ep-1/invocations-response-stream"
    assert sent.headers["Content-Type"] == "application/json" and sent.headers["X-Amzn-SageMaker-Accept"] == (
        "application/json"
    )
    assert json.loads(sent.body) == {
        "inputs": "Say hi",
        "parameters": {"max_new_tokens": 512, "do_sample": True, "temperature": 1.0},
        "stream": True,
    }


def test_ctrl_c_while_waiting_for_the_model_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real SIGINT delivered to the main thread while botocore waits for the (held) reply, as Ctrl-C would."""
    main_thread = threading.get_ident()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # what Python installs outside pytest

    def interrupt_once_the_request_arrived(server: FaultServer) -> None:
        deadline = time.monotonic() + 10
        while not server.received and time.monotonic() < deadline:
            time.sleep(0.01)
        if server.received:  # never interrupt anything else
            signal.pthread_kill(main_thread, signal.SIGINT)

    try:
        with FaultServer([replace(GENERATED, delay=10)]) as server:
            monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
            interrupter = threading.Thread(target=interrupt_once_the_request_arrived, args=(server,))
            interrupter.start()
            started = time.monotonic()
            code = cli.main(
                [
                    "invoke",
                    "hi",
                    "--endpoint",
                    "ep-1",
                    "--server",
                    "tgi-neuronx",
                    "--context-window",
                    "4096",
                    "--no-stream",
                ]
            )
            waited = time.monotonic() - started
            interrupter.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    captured = capsys.readouterr()
    assert (code, captured.out, captured.err) == (ExitCode.INTERRUPTED, "", "interrupted\n")
    assert len(server.received) == 1 and waited < 5  # interrupted in the wait, not after the reply


def test_missing_credentials_are_one_line_and_exit_5(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with FaultServer([GENERATED]) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)  # were credentials found, it would still stay local
        code = cli.main(
            ["invoke", "hi", "--endpoint", "ep-1", "--server", "tgi-neuronx", "--context-window", "4096", "--no-stream"]
        )
    err = capsys.readouterr().err
    assert code == ExitCode.ENVIRONMENT
    assert err.strip().splitlines() == [
        "neuronctl: error: no AWS credentials found: run `aws configure sso` / `aws sso login`, pass --aws-profile, or "
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ]
    assert server.received == []


def test_missing_region_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(NoRegionError) as caught:
        boto3.session.Session().client("sagemaker-runtime").invoke_endpoint(EndpointName="x", Body=b"{}")
    failure = explain(caught.value)
    assert failure.code == ExitCode.ENVIRONMENT
    assert failure.message == "no AWS region: pass --region or set region in the profile's config/<profile>.yaml"


def test_the_loopback_guard_refuses_other_addresses() -> None:
    import socket

    with socket.socket() as sock, pytest.raises(AssertionError, match="only loopback is allowed"):
        sock.connect(("192.0.2.1", 443))
