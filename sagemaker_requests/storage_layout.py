"""Key prefixes of the platform buckets that more than one stack or construct reads or writes.

A job writes where another job, a cluster or a grant expects to read: one definition each, so the writer, the reader
and the IAM grant never disagree.
"""

from __future__ import annotations

# Models bucket: training jobs write `<prefix><job name>/output/model.tar.gz` (the S3OutputPath); the lifecycle
# workflow registers and deploys from there, and the serving role reads it.
TRAINING_OUTPUT_PREFIX = "training-output/"
# Models bucket: what a compile job that writes its artifacts to an exact prefix (CheckpointConfig) leaves in its
# job output (nothing but SageMaker's own files): kept out of the artifacts prefix the endpoint loads.
COMPILE_JOBS_PREFIX = "compile-jobs/"
# Checkpoints bucket: the Neuron persistent compile cache, one prefix per instance family (graphs compiled for one
# Trainium generation do not run on another). Training jobs and HyperPod nodes share it, so each reuses the other's
# compiled graphs.
COMPILE_CACHE_PREFIX = "neuron-compile-cache/"


# Data-capture bucket: the inference endpoint captures under `data-capture/<profile>/`; Model Monitor reads it there.
DATA_CAPTURE_PREFIX = "data-capture/"


def capture_prefix(profile: str) -> str:
    """Where a profile's endpoint captures its traffic (no trailing '/': SageMaker appends the endpoint's name)."""
    return f"{DATA_CAPTURE_PREFIX}{profile}"


def compile_cache_prefix(family: str) -> str:
    """The compile cache prefix of one instance family (`neuron-compile-cache/trn1/`)."""
    return f"{COMPILE_CACHE_PREFIX}{family}/"


# Models bucket: Neuron exports (compiled artifacts) a serving container loads. The stand-alone compile workflow writes
# a model's `compiled_artifacts` prefix, `compiled/<model key>/` by default, and a profile's `compiled_artifacts`
# names it; the lifecycle's compile jobs write `compiled/lifecycle/<job name>/output/model/` (a new prefix per run).
# TGI-neuronx and vLLM-neuronx load only such an export (or a public-cache shape).
COMPILED_PREFIX = "compiled/"


def compiled_prefix(owner: str) -> str:
    """The compiled-artifacts prefix of one owner: a model key (`compiled/<model key>/`, a model's default) or the
    lifecycle (`compiled/lifecycle/`, where its compile jobs write per run)."""
    if not owner or "/" in owner:
        raise ValueError(f"a compiled-artifacts owner is one path segment, not {owner!r}")
    return f"{COMPILED_PREFIX}{owner}/"
