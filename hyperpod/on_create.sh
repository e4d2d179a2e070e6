#!/bin/bash
# HyperPod runs this on every node when it is created or replaced (automatic node recovery included).
# SageMaker manages Slurm itself (Orchestrator.Slurm, SlurmConfigStrategy=Managed); this script prepares the node:
# /scratch on the instance store the image mounted at /opt/dlami/nvme, the Neuron and EFA environment for every
# login shell and Slurm job, and the Neuron persistent compile cache (an S3 prefix shared by the whole cluster, named
# in cluster.env).
set -euo pipefail
exec > >(tee -a /var/log/provision-on-create.log) 2>&1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
echo "on_create: $(date -Is) instance group ${SAGEMAKER_INSTANCE_GROUP_NAME:-unknown}"

# cluster.env: deploy-time settings the CDK stack uploads next to these scripts (NEURON_COMPILE_CACHE_URL).
# shellcheck source=/dev/null
source "${HERE}/cluster.env"
bash "${HERE}/setup_neuron_env.sh" "${NEURON_COMPILE_CACHE_URL:?cluster.env sets no NEURON_COMPILE_CACHE_URL}"
bash "${HERE}/use_instance_store.sh" /scratch
echo "on_create: done"
