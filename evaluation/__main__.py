"""Entry point of the evaluation processing job: `python -m evaluation --threshold NAME=VALUE ...`.

The target comes from the environment (EVALUATION_TARGET, the workflow's `$.evaluation` as JSON), the plan from the
arguments (fixed at synth from the config). Writes report.json and records/*.jsonl under --output. Exit status: 0 when
the report was written (passed or not: the workflow's gate reads `passed`), 2 for bad input, 1 for any other error.

On an error the reason is also written to /opt/ml/output/message: SageMaker Processing returns its first 1 KB as the
job's `ExitMessage` (AWS docs "Save and Access Metadata Information About Your Processing Job", byoc-metadata), which
DescribeProcessingJob and the workflow's failure cause carry, so nobody has to open the logs to learn why a run failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.catalog import METRICS, PAYLOAD_FORMATS
from evaluation.datasets import DatasetError
from evaluation.evaluate import EvaluationPlan, evaluate, write_records
from evaluation.model_runner import EndpointModelRunner, ModelResponseError, ModelRunner
from evaluation.report import build_report, write_report
from evaluation.scoring import Scorer, ScoringUnavailableError, default_scorer

LOG = logging.getLogger("evaluation")
EXIT_MESSAGE = Path("/opt/ml/output/message")
EXIT_MESSAGE_LIMIT = 1024  # bytes SageMaker keeps (ExitMessage)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        required=True,
        help=f"a metric to run and its threshold; metrics: {', '.join(METRICS)}",
    )
    parser.add_argument(
        "--prompt", action="append", default=[], metavar="METRIC=TEMPLATE", help="prompt template with $model_input"
    )
    parser.add_argument("--payload-format", choices=sorted(PAYLOAD_FORMATS), default="tgi")
    parser.add_argument("--max-records", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--perturbations-per-kind", type=int, default=2)
    parser.add_argument("--datasets", type=Path, default=Path("/opt/ml/processing/input/datasets"))
    parser.add_argument("--output", type=Path, default=Path("/opt/ml/processing/output/report"))
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> EvaluationPlan:
    thresholds: dict[str, float] = {}
    for item in args.threshold:
        name, _, value = item.partition("=")
        if name not in METRICS:
            raise ValueError(f"--threshold {item}: unknown metric {name!r}; known: {', '.join(METRICS)}")
        thresholds[name] = float(value)
    prompts = dict(item.partition("=")[::2] for item in args.prompt)
    return EvaluationPlan(thresholds=thresholds, max_records=args.max_records, prompts=prompts)


def target_from(environ: Mapping[str, str]) -> dict[str, str]:
    raw = environ.get("EVALUATION_TARGET")
    if not raw:
        raise ValueError("EVALUATION_TARGET is not set: it is the workflow's $.evaluation object as JSON")
    target = json.loads(raw)
    if not isinstance(target, dict) or not target.get("endpoint_name"):
        raise ValueError(f"EVALUATION_TARGET needs an endpoint_name: {raw}")
    return {k: str(target[k]) for k in ("endpoint_name", "inference_component_name") if target.get(k)}


def run(args: argparse.Namespace, *, runner: ModelRunner, scorer: Scorer, target: dict[str, str]) -> dict[str, Any]:
    plan = plan_from(args)
    datasets = args.datasets if args.datasets.is_dir() else None
    runs = evaluate(plan, runner, scorer, datasets_dir=datasets)
    report = build_report(
        {m: r.entry for m, r in runs.items()}, target=target, scorer={"name": scorer.name, "version": scorer.version}
    )
    write_report(report, args.output / "report.json")
    write_records(runs, args.output / "records")
    return report


def write_exit_message(message: str, path: Path = EXIT_MESSAGE) -> None:
    """The reason for SageMaker's ExitMessage: UTF-8, cut to 1 KB on a character boundary (a non-UTF-8 file fails
    the job with ClientError). Skipped where /opt/ml/output cannot be written (a laptop)."""
    data = message.encode()[:EXIT_MESSAGE_LIMIT].decode(errors="ignore")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data, encoding="utf-8")
    except OSError as err:
        LOG.warning("could not write the exit message to %s: %s", path, err)


def main(
    argv: Sequence[str] | None = None, *, exit_message: Path = EXIT_MESSAGE, runner: ModelRunner | None = None
) -> int:
    """Run the job; `runner` replaces the endpoint client (the offline smoke run passes a stubbed one)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        target = target_from(os.environ)
        runner = runner or EndpointModelRunner(
            endpoint_name=target["endpoint_name"],
            inference_component_name=target.get("inference_component_name"),
            payload_format=args.payload_format,
            max_new_tokens=args.max_new_tokens,
        )
        report = run(
            args,
            runner=runner,
            scorer=default_scorer(perturbations_per_kind=args.perturbations_per_kind),
            target=target,
        )
    except (ValueError, DatasetError) as err:
        LOG.error("%s", err)
        write_exit_message(f"bad input: {err}", exit_message)
        return 2
    except ScoringUnavailableError as err:
        LOG.error("%s", err)
        write_exit_message(f"broken image: {err}", exit_message)
        return 1
    except ModelResponseError as err:
        LOG.error("%s", err)
        write_exit_message(f"the model's answer could not be read: {err}", exit_message)
        return 1
    except Exception as err:  # anything else still gets its reason into ExitMessage
        LOG.exception("evaluation failed")
        write_exit_message(f"evaluation failed: {type(err).__name__}: {err}", exit_message)
        return 1
    LOG.info(
        "report written: passed=%s %s",
        report["passed"],
        {m: (e["score"], e["passed"]) for m, e in report["metrics"].items()},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
