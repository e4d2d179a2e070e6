"""Published Neuron measurements (`benchmarks.csv`): model, instance, degree, batch, lengths, throughput and latency,
each with its source and date, plus the normalisation that makes rows from different benchmarks comparable.

The sources define "throughput" differently (output tokens/s summed over a batch end to end, over several replicas
behind a load balancer, or steady-state decode only; see docs/measurements.md). What every decoder row does carry is
its inter-token latency (ITL / TPOT) and how many sequences were decoding together, so the comparable figure is

    decode tokens/s of one replica = active sequences x 1000 / ITL (ms)

Rows without a known number of active sequences (a load test at saturation, whose concurrency is not published)
keep their published figures but take no part in fitting. Each row also names the catalog server and model config
(`model_configs/NAME.json`) that describe it, so the planner can size it: no published configuration may be refused.
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from neuron.catalog import INSTANCES, ContainerKind
from neuron.models import MODEL_CONFIGS, ModelArchitecture, load_hf_config

BENCHMARKS_FILE = Path(__file__).with_name("benchmarks.csv")
HOLD_OUT_EVERY = 4  # one row in four (by a stable hash of its configuration) is held back from fitting


@dataclass(frozen=True)
class Measurement:
    """One published measurement, normalised (dtype, server, lengths) and with its source."""

    model: str
    config: str  # model_configs/<config>.json
    instance_type: str  # EC2 name as published (inf2.48xlarge)
    degree: int
    batch_size: int
    input_tokens: int | None
    output_tokens: int | None
    sequence_length: int
    dtype: str
    quantization: str | None
    server: ContainerKind  # the catalog container that runs the same library
    compiled: bool  # loaded from pre-sharded / compiled artifacts
    library: str  # transformers-neuronx | nxd | torch-neuronx
    measurement: str  # how it was measured (sampling-script, optimum-benchmark, guidellm, nxdi-contrib, ...)
    active_sequences: int | None  # sequences decoding together; None = not published (saturated load test)
    replicas: int  # replicas the published throughput is summed over
    throughput_tok_s: float | None
    ttft_ms: float | None
    itl_ms: float | None
    published_server: str
    sdk_version: str
    source: str
    date: str
    notes: str

    @property
    def sagemaker_instance(self) -> str:
        return f"ml.{self.instance_type}"

    @property
    def in_catalog(self) -> bool:
        return self.sagemaker_instance in INSTANCES

    @property
    def key(self) -> str:
        return "|".join(
            str(v)
            for v in (
                self.config,
                self.instance_type,
                self.degree,
                self.batch_size,
                self.input_tokens,
                self.output_tokens,
                self.server.value,
                self.active_sequences,
                self.sdk_version,
                self.throughput_tok_s,
            )
        )

    @property
    def held_out(self) -> bool:
        """Deterministic hold-out: the CRC-32 of the row's configuration, modulo HOLD_OUT_EVERY."""
        return zlib.crc32(self.key.encode()) % HOLD_OUT_EVERY == 0

    @property
    def decode_tokens_per_second(self) -> float | None:
        """The normalised figure: active sequences x 1000 / ITL, for one replica."""
        if self.active_sequences is None or not self.itl_ms:
            return None
        return self.active_sequences * 1000 / self.itl_ms

    def architecture(self) -> ModelArchitecture:
        return model_config(self.config)


@cache
def model_config(name: str) -> ModelArchitecture:
    """A shipped model config (neuron/model_configs/NAME.json): the published config.json facts of a measured model."""
    return load_hf_config(MODEL_CONFIGS / f"{name}.json", name=name)


def _int(text: str) -> int | None:
    return int(text) if text.strip() else None


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


@cache
def load(path: Path = BENCHMARKS_FILE) -> tuple[Measurement, ...]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(
        Measurement(
            model=r["model"],
            config=r["config"],
            instance_type=r["instance_type"],
            degree=int(r["degree"]),
            batch_size=int(r["batch_size"]),
            input_tokens=_int(r["input_tokens"]),
            output_tokens=_int(r["output_tokens"]),
            sequence_length=int(r["sequence_length"]),
            dtype=r["dtype"],
            quantization=r["quantization"] or None,
            server=ContainerKind(r["server"]),
            compiled=r["compiled"] == "true",
            library=r["library"],
            measurement=r["measurement"],
            active_sequences=_int(r["active_sequences"]),
            replicas=int(r["replicas"]),
            throughput_tok_s=_float(r["throughput_tok_s"]),
            ttft_ms=_float(r["ttft_ms"]),
            itl_ms=_float(r["itl_ms"]),
            published_server=r["published_server"],
            sdk_version=r["sdk_version"],
            source=r["source"],
            date=r["date"],
            notes=r["notes"],
        )
        for r in rows
    )
