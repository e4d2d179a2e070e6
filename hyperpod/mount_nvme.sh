#!/bin/bash
# Stripe the instance's local NVMe drives into one XFS volume at $1 (trn1/trn2 carry 4-8 TB of NVMe).
set -euo pipefail
TARGET="${1:-/scratch}"
mountpoint -q "${TARGET}" && { echo "${TARGET} already mounted"; exit 0; }
mapfile -t DEVICES < <(lsblk -dpno NAME,MODEL | awk '/Instance Storage/ {print $1}')
if [[ ${#DEVICES[@]} -eq 0 ]]; then
  echo "no local NVMe instance storage found; ${TARGET} stays on the root volume"
  mkdir -p "${TARGET}"
  exit 0
fi
if [[ ${#DEVICES[@]} -gt 1 ]]; then
  mdadm --create /dev/md0 --level=0 --force --raid-devices="${#DEVICES[@]}" "${DEVICES[@]}"
  DEVICE=/dev/md0
else
  DEVICE="${DEVICES[0]}"
fi
mkfs.xfs -f "${DEVICE}"
mkdir -p "${TARGET}"
mount -o noatime "${DEVICE}" "${TARGET}"
chmod 1777 "${TARGET}"
echo "mounted ${#DEVICES[@]} NVMe device(s) at ${TARGET}"
