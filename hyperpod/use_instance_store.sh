#!/bin/bash
# Point /scratch at the instance store that the HyperPod image already mounted, instead of building a RAID array.
# HyperPod's DLAMI mounts local NVMe at /opt/dlami/nvme through dlami-nvme.service; striping and formatting those busy
# devices again (mdadm + mkfs) would race it and destroy what it mounted. Like awsome-distributed-training's lifecycle
# scripts (aws-samples/awsome-distributed-training 7217859f, 1.architectures/5.sagemaker-hyperpod/LifecycleScripts/
# base-config/utils/install_enroot_pyxis.sh L100-148), wait for the service to finish, then use the mount if it is
# there; a node without instance store (controller, login) keeps /scratch on its root volume.
# Environment (for tests): NVME_MOUNT (/opt/dlami/nvme), NVME_WAIT_SECONDS (120), NVME_CHECK_SECONDS (5).
set -euo pipefail
SCRATCH="${1:-/scratch}"
NVME="${NVME_MOUNT:-/opt/dlami/nvme}"
WAIT="${NVME_WAIT_SECONDS:-120}"
STEP="${NVME_CHECK_SECONDS:-5}"

waited=0
while true; do
  state="$(systemctl show dlami-nvme --property=ActiveState --value 2>/dev/null || true)"
  status="$(systemctl show dlami-nvme --property=ExecMainStatus --value 2>/dev/null || true)"
  if [[ "${state}" == "active" && "${status}" == "0" ]]; then
    break
  fi
  if (( waited >= WAIT )); then
    echo "use_instance_store: dlami-nvme.service not active after ${WAIT} s (ActiveState=${state:-none}," \
      "ExecMainStatus=${status:-none}); checking ${NVME} anyway"
    break
  fi
  sleep "${STEP}"
  waited=$(( waited + STEP ))
done

if mountpoint -q "${NVME}"; then
  mkdir -p "${NVME}/scratch"
  chmod 1777 "${NVME}/scratch"
  if [[ -e "${SCRATCH}" && ! -L "${SCRATCH}" ]]; then
    rmdir "${SCRATCH}" 2>/dev/null || { echo "use_instance_store: ${SCRATCH} exists and is not empty" >&2; exit 1; }
  fi
  ln -sfn "${NVME}/scratch" "${SCRATCH}"
  echo "use_instance_store: ${SCRATCH} -> ${NVME}/scratch (instance store mounted by dlami-nvme.service)"
else
  mkdir -p "${SCRATCH}"
  chmod 1777 "${SCRATCH}"
  echo "use_instance_store: ${NVME} is not mounted (no instance store); ${SCRATCH} stays on the root volume"
fi
