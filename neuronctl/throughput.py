"""A bandwidth-bound (roofline) estimate of decode tokens/s for one model replica.

Generating one token for a batch reads every weight of the replica once plus the batch's whole KV cache, from the HBM
of the NeuronCores the replica runs on. If memory bandwidth were the only limit:

    tokens/s per replica = batch x bandwidth(degree cores) / (weight bytes + KV cache bytes at the full sequence)

Real servers reach a fraction of this (compute, collectives between cores, scheduling): use it to rank
configurations and as an upper bound, not as a promise. Measure with the real endpoint.
"""

from __future__ import annotations

from neuron.catalog import InstanceSpec, instance
from neuron.sizing import GIB, Fit


def bandwidth_gbps(spec: InstanceSpec, degree: int) -> float | None:
    """Device-memory bandwidth of `degree` NeuronCores (catalog figure); None for families without one (inf1)."""
    per_core = spec.memory_gbps_per_core
    return None if per_core is None else per_core * degree


def decode_tokens_per_second(fit: Fit, batch_size: int) -> float | None:
    bandwidth = bandwidth_gbps(instance(fit.instance_type), fit.degree)
    if bandwidth is None:
        return None
    bytes_per_step = (fit.weights_gib + fit.kv_cache_gib) * GIB
    return batch_size * bandwidth * 1e9 / bytes_per_step


def dollars_per_million_tokens(hourly: float | None, replicas: int, tokens_per_second: float | None) -> float | None:
    """Cost of 1M output tokens with every replica on the instance decoding at the estimated rate."""
    if hourly is None or not tokens_per_second or replicas < 1:
        return None
    return hourly / (replicas * tokens_per_second * 3600) * 1e6
