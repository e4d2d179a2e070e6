"""A fault-injecting HTTP server on 127.0.0.1 that stands in for an AWS endpoint in the neuronctl fault tests.

`FaultServer` answers each request with the next scripted `Reply` (status, headers, body, delay) and records when
each request arrived and its `amz-sdk-request` header, so a test can prove botocore's retries and backoff end to end
with `endpoint_url` pointed at it. It serves a bounded number of requests, answers anything past its script with a
500 that the test sees as `overflow`, and releases held replies on exit so no thread outlives the test.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0  # seconds to hold the answer (read-timeout tests)


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def json_reply(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})


def error_reply(status: int, code: str, message: str, **fields: Any) -> Reply:
    """An AWS rest-json error: the code in x-amzn-ErrorType, the message and modelled fields in the body."""
    return Reply(
        status,
        json.dumps({"message": message, **fields}).encode(),
        {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"},
    )


def _header(name: str, value: str) -> bytes:
    encoded_name, encoded_value = name.encode(), value.encode()
    return (
        struct.pack("B", len(encoded_name))
        + encoded_name
        + b"\x07"
        + struct.pack(">H", len(encoded_value))
        + encoded_value
    )


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message of the AWS event stream encoding (prelude, CRC, headers, payload, CRC)."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def stream_reply(parts: Sequence[bytes], *, error: tuple[str, str] | None = None) -> Reply:
    """InvokeEndpointWithResponseStream: PayloadPart events, optionally ending in a ModelStreamError."""
    body = b"".join(
        event_message(
            {":event-type": "PayloadPart", ":message-type": "event", ":content-type": "application/octet-stream"}, part
        )
        for part in parts
    )
    if error:
        body += event_message(
            {":exception-type": "ModelStreamError", ":message-type": "exception", ":content-type": "application/json"},
            json.dumps({"Message": error[1], "ErrorCode": error[0]}).encode(),
        )
    return Reply(
        200,
        body,
        {
            "Content-Type": "application/vnd.amazon.eventstream",
            "X-Amzn-SageMaker-Content-Type": "application/jsonlines",
        },
    )


class FaultServer:
    def __init__(self, replies: Sequence[Reply], *, max_requests: int = 20) -> None:
        self._replies = list(replies)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.max_requests = max_requests
        self.received: list[Received] = []
        self.overflow = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests (the client's backoff plus the reply time)."""
        times = [r.at for r in self.received]
        return [b - a for a, b in pairwise(times)]

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            if len(self.received) > self.max_requests or not self._replies:
                self.overflow += 1
                return error_reply(500, "InternalFailure", "fault server: script exhausted")
            return self._replies.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else b""
                reply = server._next(Received(time.monotonic(), self.command, self.path, dict(self.headers), body))
                if reply.delay:
                    server._release.wait(reply.delay)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.send_header("x-amzn-RequestId", f"req-{len(server.received)}")
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout): that is the point of the test

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        return Handler
