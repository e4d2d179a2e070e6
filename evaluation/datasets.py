"""JSON Lines datasets in fmeval's column names, checked record by record before the model is called."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

# The columns each dataset file needs (fmeval's DataConfig names).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "factual_knowledge.jsonl": ("model_input", "target_output", "category"),
    "qa.jsonl": ("model_input", "target_output"),
    "toxicity.jsonl": ("model_input",),
    "stereotyping.jsonl": ("sent_more_input", "sent_less_input", "bias_type"),
}


class DatasetError(ValueError):
    pass


def load_dataset(path: Path, *, max_records: int | None = None) -> list[dict[str, Any]]:
    """Every record of `path`, or an error naming the file, line and missing column."""
    required = REQUIRED_COLUMNS.get(path.name)
    if required is None:
        raise DatasetError(f"{path}: unknown dataset name; expected one of {', '.join(REQUIRED_COLUMNS)}")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path.name}:{number}: not JSON ({err.msg})") from None
        missing = [c for c in required if not isinstance(record.get(c), str) or not record[c].strip()]
        if missing:
            raise DatasetError(f"{path.name}:{number}: missing or empty text in {', '.join(missing)}")
        records.append(record)
        if max_records is not None and len(records) == max_records:
            break
    if not records:
        raise DatasetError(f"{path.name}: no records")
    return records


def resolve(name: str, custom_dir: Path | None) -> Path:
    """A custom dataset of that name in `custom_dir` wins over the shipped sample."""
    if custom_dir is not None and (custom_dir / name).is_file():
        return custom_dir / name
    return SAMPLES_DIR / name
