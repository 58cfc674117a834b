"""A real single-node SLURM cluster on localhost with two fake A100 GPUs, for the tests.

Debian's slurm-wlm and munge are installed if missing (when running as root); munged is
reused when it already answers. slurmctld and slurmd keep their state, spool, pid and log
files in one directory of the test run and listen on free ports, and are stopped by their
pid files at the end. The GPUs are ``/dev/null`` symlinks named ``nvidia0`` and ``nvidia1``.

    cluster = SlurmCluster(tmp_dir)
    cluster.start()                 # or raise Unavailable(reason) when it cannot run here
    cluster.run("squeue")           # any client command with SLURM_CONF set
    cluster.stop()

Partitions: ``gpu`` (the default) and ``gpu-low``, both over the one node ``localhost``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CLUSTER_NAME = "greenmltest"
GPU_TYPE = "a100"
GPUS_PER_NODE = 2
PARTITIONS = ("gpu", "gpu-low")
PACKAGES = ("slurm-wlm", "munge")


class Unavailable(Exception):
    """SLURM cannot run here (not installed and not root); the tests skip with this reason."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> None:
    """Install slurm-wlm and munge through apt when slurmctld is missing and we are root."""
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() != 0:
        raise Unavailable("slurm-wlm and munge are not installed and the tests are not root: "
                          "apt-get install slurm-wlm munge")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")


def _munge_answers() -> bool:
    try:
        token = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        if token.returncode != 0:
            return False
        back = subprocess.run(["unmunge"], input=token.stdout, capture_output=True, timeout=10)
        return back.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SlurmCluster:
    """slurmctld + slurmd on localhost, configured in ``root``; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.started_munge = False
        self._pid_files = {"slurmctld": self.root / "slurmctld.pid",
                           "slurmd": self.root / "slurmd.pid"}

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def start(self) -> None:
        ensure_installed()
        self._start_munge()
        self._write_config()
        for daemon, extra in (("slurmctld", ["-i"]), ("slurmd", ["-N", "localhost"])):
            done = subprocess.run([f"/usr/sbin/{daemon}", "-f", str(self.conf), *extra],
                                  capture_output=True, text=True, env=self.env, timeout=60)
            if done.returncode != 0:
                self.stop()
                raise RuntimeError(f"{daemon} did not start: {done.stderr.strip()}\n"
                                   f"{self.log_tail()}")
        self._wait_idle()

    def _start_munge(self) -> None:
        if _munge_answers():
            return
        if os.geteuid() != 0:
            raise Unavailable("munged is not running and the tests are not root to start it")
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        done = subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0 or not _munge_answers():
            raise RuntimeError(f"munged did not start: {done.stderr.strip()}")
        self.started_munge = True

    def _node_line(self) -> str:
        """``slurmd -C`` for this machine, as node ``localhost``, with a little less memory."""
        done = subprocess.run(["/usr/sbin/slurmd", "-C"], capture_output=True, text=True,
                              timeout=30)
        line = done.stdout.splitlines()[0]
        line = re.sub(r"NodeName=\S+", "NodeName=localhost", line)
        memory_mb = int(re.search(r"RealMemory=(\d+)", line).group(1))
        line = re.sub(r"RealMemory=\d+", f"RealMemory={max(memory_mb - 1024, 512)}", line)
        return f"{line} Gres=gpu:{GPU_TYPE}:{GPUS_PER_NODE} State=UNKNOWN"

    def _write_config(self) -> None:
        for sub in ("state", "spool", "dev"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for i in range(GPUS_PER_NODE):
            device = self.root / "dev" / f"nvidia{i}"
            if not device.exists():
                device.symlink_to("/dev/null")
        r = self.root
        self.conf.write_text("\n".join([
            f"ClusterName={CLUSTER_NAME}",
            "SlurmctldHost=localhost",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "GresTypes=gpu",
            "MpiDefault=none",
            "ReturnToService=2",
            "SchedulerType=sched/backfill",
            "MinJobAge=600",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'slurmd.log'}",
            self._node_line(),
            *(f"PartitionName={name} Nodes=localhost MaxTime=INFINITE State=UP"
              + (" Default=YES" if i == 0 else "") for i, name in enumerate(PARTITIONS)),
            "",
        ]))
        (r / "gres.conf").write_text(
            f"Name=gpu Type={GPU_TYPE} File={r / 'dev'}/nvidia[0-{GPUS_PER_NODE - 1}]\n")

    def _wait_idle(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            done = self.run("sinfo", "--noheader", "-N", "-o", "%T")
            state = done.stdout.strip()
            if done.returncode == 0 and state and all(s == "idle" for s in state.split()):
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the node never became idle (last: {state!r})\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for name in ("slurmctld.log", "slurmd.log"):
            path = self.root / name
            if path.exists():
                out += [f"--- {name}", *path.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(out)

    def stop(self) -> None:
        """Stop slurmd and slurmctld (and munged if this cluster started it) by pid file."""
        for daemon in ("slurmd", "slurmctld"):
            _kill_by_pid_file(self._pid_files[daemon])
        if self.started_munge:
            _kill_by_pid_file(Path("/run/munge/munged.pid"))
            self.started_munge = False

    def dead_config(self) -> Path:
        """A slurm.conf naming a controller that does not listen (a cluster that is down)."""
        path = self.root / "dead-slurm.conf"
        text = self.conf.read_text()
        text = re.sub(r"SlurmctldPort=\d+", f"SlurmctldPort={_free_port()}", text)
        text = text.replace("ClusterName=", "MessageTimeout=2\nClusterName=", 1)
        path.write_text(text)
        return path


def _kill_by_pid_file(path: Path, timeout_s: float = 15) -> None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
