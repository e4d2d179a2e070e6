#!/bin/bash
# Environment for Neuron training over EFA, for login shells and the Slurm jobs they submit.
set -euo pipefail
cat > /etc/profile.d/neuron-efa.sh <<'ENV'
export PATH=/opt/aws/neuron/bin:/opt/amazon/efa/bin:${PATH}
# EFA: libfabric's efa provider with device RDMA; fork-safe for data-loader workers.
export FI_PROVIDER=efa
export FI_EFA_USE_DEVICE_RDMA=1
export FI_EFA_FORK_SAFE=1
# Neuron collectives over EFA between nodes.
export CCOM_SOCKET_IFNAME=$(ip -o -4 route show to default | awk '{print $5}' | head -n1)
# Compiled graphs are reused across jobs and nodes from the shared cache.
export NEURON_COMPILE_CACHE_URL=/scratch/neuron-compile-cache
export MALLOC_ARENA_MAX=64
ENV
chmod 0644 /etc/profile.d/neuron-efa.sh
# Slurm propagates the submitting shell's environment to its jobs (--export=ALL), and every login shell reads
# this file, so jobs started with sbatch/srun see the same variables.
