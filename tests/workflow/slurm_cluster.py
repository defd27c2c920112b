"""A throw-away single-node Slurm cluster on localhost, from Debian's slurm-wlm and munge, for the tests.

Started as root: munged (as the munge user), slurmctld and slurmd; every file lives under one folder and
every daemon is stopped by the PID it wrote when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DEBIAN_PACKAGES = ("slurm-wlm", "munge")
MUNGE_SOCKET_DIR = Path("/run/munge")
# Inside a job, snakemake-executor-plugin-slurm-jobstep calls srun with every SLURM_* variable removed,
# SLURM_CONF included: srun then reads Debian's default path, so the cluster's config is linked there.
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")


def unavailable_reason() -> str | None:
    """Why this machine cannot host the cluster (None when it can, installing Debian's packages if needed)."""
    if os.geteuid() != 0:
        return "a local Slurm cluster needs root (to start munged as the munge user and slurmd)"
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch", "squeue")):
        return None
    if not shutil.which("apt-get"):
        return "slurm-wlm and munge are not installed and apt-get is not available to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    update = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, env=env)
    install = subprocess.run(["apt-get", "install", "-y", "-qq", *DEBIAN_PACKAGES], capture_output=True, text=True, env=env)
    if install.returncode != 0:
        return f"apt-get install {' '.join(DEBIAN_PACKAGES)} failed: {(update.stderr + install.stderr)[-500:]}"
    return None


def _slurm_conf(root: Path, cpus: int, memory_mb: int) -> str:
    return "\n".join([
        "ClusterName=memamba-test",
        "SlurmctldHost=localhost",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log",
        "SlurmctldPort=6817",
        "SlurmdPort=6818",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "MpiDefault=none",
        "ReturnToService=2",
        "SlurmdParameters=config_overrides",
        "MinJobAge=600",
        f"NodeName=localhost CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def _pid(path: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.1)
    raise RuntimeError(f"{path} was not written within {timeout:.0f} s")


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _wait_for_idle_node(env: dict[str, str], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        result = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=env)
        state = result.stdout.strip()
        if state == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Slurm node is {state!r}, not idle, after {timeout:.0f} s; see {log}")


@contextlib.contextmanager
def local_slurm(root: Path, cpus: int = 4, memory_mb: int = 64000) -> Iterator[dict[str, str]]:
    """Start munged, slurmctld and slurmd under ``root``; yield the environment that points at them.

    The node declares ``cpus`` and ``memory_mb`` whatever the machine has (``config_overrides``), so that the
    workflow's profile asks for what it would ask on a real cluster; nothing enforces the limits here."""
    for folder in ("state", "spool"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, cpus, memory_mb))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    pids = []
    saved = DEFAULT_CONF.with_name("slurm.conf.before-memamba-tests")
    if DEFAULT_CONF.exists() or DEFAULT_CONF.is_symlink():
        DEFAULT_CONF.rename(saved)
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONF.symlink_to(conf)
    try:
        if not (MUNGE_SOCKET_DIR / "munge.socket.2").exists():
            MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
            shutil.chown(MUNGE_SOCKET_DIR, "munge", "munge")
            munge_pid = MUNGE_SOCKET_DIR / "munged.pid"
            munge_pid.unlink(missing_ok=True)
            subprocess.run(["runuser", "-u", "munge", "--", "munged", f"--pid-file={munge_pid}"], check=True, env=env)
            pids.append(_pid(munge_pid))
        subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
        pids.append(_pid(root / "slurmctld.pid"))
        subprocess.run(["slurmd", "-N", "localhost", "-f", str(conf)], check=True, env=env)
        pids.append(_pid(root / "slurmd.pid"))
        _wait_for_idle_node(env, root / "slurmd.log")
        yield env
    finally:
        for pid in reversed(pids):
            _stop(pid)
        DEFAULT_CONF.unlink()
        if saved.exists() or saved.is_symlink():
            saved.rename(DEFAULT_CONF)
