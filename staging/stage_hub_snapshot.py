"""Copy one pinned Hugging Face Hub snapshot into the processing job's output directory (the Hub -> S3 staging job).

The job runs in Hugging Face's CPU inference image (neuron/catalog.py: huggingface_hub 1.10.0 and boto3 are installed
there), with internet egress and outside the VPC; at the end SageMaker uploads the output directory to the models
bucket prefix the profile serves from (ProcessingOutput, S3UploadMode EndOfJob), encrypted with the platform key.

Why the token is read here: a token passed in the request's Environment would be returned by DescribeProcessingJob,
as a model's is by DescribeModel. The job receives only the secret's name or ARN and asks Secrets Manager for the value
at run time (boto3 `secretsmanager.get_secret_value(SecretId=...)["SecretString"]`, botocore's secretsmanager
service model: SecretId takes an ARN or a name); the value lives in this process only.

Standard library at import time; boto3 and huggingface_hub are imported when used (tests inject both).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

OUTPUT_DIR = "/opt/ml/processing/model"
COMMIT = re.compile(r"^[0-9a-f]{40}$")
# snapshot_download(local_dir=...) keeps its download metadata in `<local_dir>/.cache/huggingface/` (huggingface_hub
# v1.10.0 src/huggingface_hub/_snapshot_download.py, the function's docstring): not part of the model, not uploaded.
HUB_METADATA_DIR = ".cache"


class StagingError(Exception):
    """A staging run that must fail the job (its message is the job's failure reason in the logs)."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--revision", required=True, help="the full 40-character commit SHA")
    parser.add_argument("--output", default=OUTPUT_DIR)
    parser.add_argument("--region", required=True, help="where the token secret is")
    parser.add_argument("--token-secret", help="Secrets Manager secret name or ARN holding the Hub token")
    parser.add_argument("--token-secret-field", help="JSON key inside the secret")
    parser.add_argument("--ignore", action="append", default=[], help="repository file pattern not to copy")
    return parser.parse_args(list(argv))


def read_token(secret_id: str, field: str | None, *, client: Any) -> str:
    """The Hub token from Secrets Manager (a JSON object's `field`, or the whole string)."""
    value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    if field is None:
        return str(value)
    try:
        return str(json.loads(value)[field])
    except (ValueError, KeyError, TypeError):
        raise StagingError(f"secret {secret_id} is not a JSON object with the key {field!r}") from None


def stage(
    args: argparse.Namespace,
    *,
    download: Callable[..., str] | None = None,
    secrets: Any = None,
) -> dict[str, Any]:
    """Download the snapshot into `args.output` and return what was staged (files and bytes)."""
    if not COMMIT.match(args.revision):
        raise StagingError(f"revision {args.revision!r} of {args.model_id} is not a full 40-character commit SHA")
    token = None
    if args.token_secret:
        if secrets is None:
            import boto3

            secrets = boto3.client("secretsmanager", region_name=args.region)
        token = read_token(args.token_secret, args.token_secret_field, client=secrets)
    if download is None:
        from huggingface_hub import snapshot_download

        download = snapshot_download
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    # huggingface_hub v1.10.0 snapshot_download(repo_id, *, revision, local_dir, token, ignore_patterns, ...):
    # src/huggingface_hub/_snapshot_download.py L106-128 at the tag; the same keywords exist in the 0.36 the tests run.
    download(
        repo_id=args.model_id,
        revision=args.revision,
        local_dir=str(output),
        token=token,
        ignore_patterns=list(args.ignore) or None,
    )
    shutil.rmtree(output / HUB_METADATA_DIR, ignore_errors=True)
    files = sorted(p for p in output.rglob("*") if p.is_file())
    if not (output / "config.json").is_file():
        raise StagingError(
            f"{args.model_id}@{args.revision} has no config.json at its root after download"
            f"{' with ignore_patterns ' + str(args.ignore) if args.ignore else ''}: the serving containers load a "
            "Hugging Face model folder; check the model id and the patterns"
        )
    return {
        "model_id": args.model_id,
        "revision": args.revision,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = stage(args)
    except StagingError as err:
        print(f"staging failed: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
