"""Offline smoke run of the job: `python -m evaluation.smoke [--metric NAME ...]`.

Runs the job's real `main()` (argument parsing, fmeval via `default_scorer()`, the endpoint runner's request and
response handling, the report) against a stubbed endpoint: botocore's Stubber on a real `sagemaker-runtime` client, so
every request is checked against the service model and nothing leaves the machine. One record per metric. Used by the
image build (after offline mode is on: a missing prefetch fails the build) and by `make eval-smoke` on a venv
installed from the lock. Exit status 0 only when the report holds a score for every selected metric.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from evaluation.catalog import METRICS, PAYLOAD_FORMATS, servable_metrics

ENDPOINT = "smoke-endpoint"
# Enough answers for one record of every metric: semantic robustness asks once plus once per perturbation (3 kinds).
MAX_CALLS = 64


def stubbed_runtime(payload_format: str, answer: str) -> tuple[Any, Any]:
    """A real sagemaker-runtime client whose InvokeEndpoint answers are queued in a Stubber (validated requests)."""
    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="smoke", aws_secret_access_key="smoke"
    )
    stubber = Stubber(client)
    fmt = PAYLOAD_FORMATS[payload_format]
    body = (
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]}
        if fmt.chat
        else {"generated_text": answer}
    )
    for _ in range(MAX_CALLS):
        data = json.dumps(body).encode()
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"},
            {"EndpointName": ENDPOINT, "ContentType": "application/json", "Accept": "application/json", "Body": _ANY},
        )
    stubber.activate()
    return client, stubber


class _Any:
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, bytes):
            return False
        request = json.loads(other)
        return bool(request.get("inputs") or request.get("messages"))


_ANY = _Any()


def run(metrics: list[str], payload_format: str = "tgi", output: Path | None = None) -> dict[str, Any]:
    from evaluation.__main__ import main
    from evaluation.model_runner import EndpointModelRunner

    client, _ = stubbed_runtime(payload_format, "Paris")
    runner = EndpointModelRunner(endpoint_name=ENDPOINT, payload_format=payload_format, client=client)
    out = output or Path(tempfile.mkdtemp(prefix="evaluation-smoke-"))
    os.environ["EVALUATION_TARGET"] = json.dumps({"endpoint_name": ENDPOINT})
    argv = [f"--threshold={m}={METRICS[m].default_threshold}" for m in metrics]
    argv += [f"--payload-format={payload_format}", "--max-records=1", f"--output={out}", f"--datasets={out}/none"]
    status = main(argv, exit_message=out / "message", runner=runner)
    if status != 0:
        message = (out / "message").read_text() if (out / "message").exists() else "(no message)"
        raise SystemExit(f"smoke run failed with exit status {status}: {message}")
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    missing = [m for m in metrics if m not in report["metrics"]]
    if missing or report["scorer"]["name"] != "fmeval":
        raise SystemExit(f"smoke report lacks {missing} or was not scored by fmeval: {report['scorer']}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--metric", action="append", default=[], choices=sorted(METRICS))
    parser.add_argument("--all-metrics", action="store_true", help="every metric the payload format can serve")
    parser.add_argument("--payload-format", choices=sorted(PAYLOAD_FORMATS), default="tgi")
    args = parser.parse_args(argv)
    metrics = servable_metrics(args.payload_format) if args.all_metrics or not args.metric else args.metric
    report = run(metrics, args.payload_format)
    print(json.dumps({m: report["metrics"][m]["score"] for m in metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
