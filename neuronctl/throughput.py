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

# Device-memory bandwidth per chip in GB/s (10^9 bytes). Inferentia2 and Trainium1: 820 GB/s per chip (inf2.48xlarge
# lists 9.8 TB/s for 12 chips, trn1.32xlarge 13.1 TB/s for 16); Trainium2: 2.9 TB/s per chip (trn2.48xlarge lists
# 46 TB/s for 16). Inf1 keeps weights in on-chip cache and DRAM and is not estimated.
# Sources: https://aws.amazon.com/ec2/instance-types/inf2/, /trn1/, /trn2/ (checked 2026-11). These belong with the
# other hardware facts in neuron/catalog.py; they live here until the catalog carries them.
HBM_GBPS_PER_CHIP: dict[str, float] = {"inf2": 820.0, "trn1": 820.0, "trn1n": 820.0, "trn2": 2900.0}


def bandwidth_gbps(spec: InstanceSpec, degree: int) -> float | None:
    per_chip = HBM_GBPS_PER_CHIP.get(spec.family)
    if per_chip is None:
        return None
    return per_chip * spec.chips / spec.neuron_cores * degree


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
