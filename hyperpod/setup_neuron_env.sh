#!/bin/bash
# Environment for Neuron training over EFA, for login shells and the Slurm jobs they submit.
# $1: the Neuron compile cache URL (NEURON_COMPILE_CACHE_URL of cluster.env, written by the CDK stack).
set -euo pipefail
CACHE_URL="${1:?usage: setup_neuron_env.sh s3://<checkpoints bucket>/neuron-compile-cache/<family>/}"
if [[ "${CACHE_URL}" != s3://* ]]; then
  echo "setup_neuron_env.sh: compile cache URL ${CACHE_URL} is not an s3:// URL; every node must share one cache" >&2
  exit 1
fi
PROFILE="${NEURON_ENV_PROFILE:-/etc/profile.d/neuron-efa.sh}"
cat > "${PROFILE}" <<'ENV'
export PATH=/opt/aws/neuron/bin:/opt/amazon/efa/bin:${PATH}
# EFA: libfabric's efa provider with device RDMA; fork-safe for data-loader workers.
export FI_PROVIDER=efa
export FI_EFA_USE_DEVICE_RDMA=1
export FI_EFA_FORK_SAFE=1
# Neuron collectives over EFA between nodes.
export CCOM_SOCKET_IFNAME=$(ip -o -4 route show to default | awk '{print $5}' | head -n1)
export MALLOC_ARENA_MAX=64
ENV
# Compiled graphs are reused across jobs and nodes: the cache is an S3 prefix of the checkpoints bucket shared by every
# node of the cluster and by the lifecycle's training jobs (a node's local NVMe is neither shared nor kept when
# HyperPod replaces the node).
printf 'export NEURON_COMPILE_CACHE_URL=%q\n' "${CACHE_URL}" >> "${PROFILE}"
chmod 0644 "${PROFILE}"
# Slurm propagates the submitting shell's environment to its jobs (--export=ALL), and every login shell reads
# this file, so jobs started with sbatch/srun see the same variables.
