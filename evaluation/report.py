"""The evaluation report: one JSON document, versioned, documented in REPORT.md, checked against report.schema.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.catalog import METRICS, Risk, passes

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).resolve().parent / "report.schema.json"


def metric_entry(
    name: str, *, score: float, threshold: float, records: int, dataset: str, details: Mapping[str, float]
) -> dict[str, Any]:
    spec = METRICS[name]
    return {
        "score": round(score, 6),
        "threshold": threshold,
        "direction": spec.direction.value,
        "passed": passes(score, threshold, spec.direction),
        "risk": spec.risk.value,
        "records": records,
        "dataset": dataset,
        "details": {k: round(v, 6) for k, v in details.items()},
    }


def build_report(
    metrics: Mapping[str, dict[str, Any]],
    *,
    target: Mapping[str, Any],
    scorer: Mapping[str, str],
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The report for scored metrics: every risk lists its metrics and passes when all of them pass."""
    risks = {
        risk.value: {"metrics": names, "passed": all(metrics[n]["passed"] for n in names)}
        for risk in Risk
        if (names := sorted(n for n in metrics if METRICS[n].risk is risk))
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "target": dict(target),
        "scorer": dict(scorer),
        "metrics": dict(metrics),
        "risks": risks,
        "passed": bool(metrics) and all(m["passed"] for m in metrics.values()),
    }


def validate_report(report: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError when the report does not match the documented schema."""
    import jsonschema

    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))


def write_report(report: Mapping[str, Any], path: Path) -> None:
    validate_report(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
