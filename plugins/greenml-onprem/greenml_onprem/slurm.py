"""Running SLURM's client commands for one site: argument lists, a timeout, clear errors.

Every command is an argument list (never a shell string): nothing a user typed is ever
parsed by a shell here. The site's ``slurm_conf`` reaches the commands as ``SLURM_CONF``,
its ``cluster`` as ``--clusters``. A controller that does not answer (or a command that
outlives ``GREENML_ONPREM_TIMEOUT_S``) is a ``ControllerUnreachable`` naming the site and
the command; any other refusal is a ``SlurmError`` carrying SLURM's own message.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import attrs

from greenml import GreenmlError
from greenml_onprem.inventory import Site

ENV_TIMEOUT = "GREENML_ONPREM_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 30.0
#: The client commands greenml runs.
COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol")
#: What SLURM's clients print when the controller cannot be reached.
UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Socket timed out|Connection refused|"
    r"Connection timed out|Communication connection failure|Zero Bytes were transmitted|"
    r"can't be reached now|Unable to establish controller|slurmctld.*is DOWN",
    re.IGNORECASE)
#: Job states after which a job holds nothing any more.
FINISHED_STATES = frozenset({
    "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
    "DEADLINE", "OUT_OF_MEMORY", "REVOKED", "SPECIAL_EXIT",
})
#: A field separator no job name or comment contains, for squeue's text format.
SEPARATOR = "\x1f"


class SlurmError(GreenmlError):
    """A SLURM command failed; ``message`` is SLURM's own words, ``command`` what was run."""

    def __init__(self, site: str, command: Sequence[str], message: str) -> None:
        self.site = site
        self.command = tuple(command)
        self.message = message
        shown = shlex.join(self.command).replace(SEPARATOR, "|")
        super().__init__(f"onprem site {site!r}: {shown}: {message}")


class ControllerUnreachable(SlurmError):
    """The site's controller did not answer (down, unreachable, or too slow)."""


class ClientMissing(SlurmError):
    """A SLURM client command is not installed on this machine."""


def timeout_s() -> float:
    text = os.environ.get(ENV_TIMEOUT, "")
    try:
        value = float(text) if text.strip() else DEFAULT_TIMEOUT_S
    except ValueError:
        value = 0
    if not (value > 0 and math.isfinite(value)):
        from greenml.provider import ConfigError  # the user's setting: exit 2, not "excluded"

        raise ConfigError(f"{ENV_TIMEOUT}: must be a positive number of seconds, got {text!r}")
    return value


def missing_commands() -> list[str]:
    return [c for c in COMMANDS if shutil.which(c) is None]


@attrs.frozen
class Job:
    """One SLURM job as squeue shows it."""

    job_id: str
    name: str
    state: str
    partition: str = ""
    comment: str = ""
    user_id: int | None = None


class Slurm:
    """The client commands of one site."""

    def __init__(self, site: Site) -> None:
        self.site = site

    @property
    def cluster_args(self) -> list[str]:
        return [f"--clusters={self.site.cluster}"] if self.site.cluster else []

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.site.slurm_conf:
            env["SLURM_CONF"] = self.site.slurm_conf
        return env

    def run(self, command: Sequence[str], timeout: float | None = None) -> str:
        """Run one client command; its stdout, or a SlurmError saying what went wrong."""
        command = list(command)
        limit = timeout or timeout_s()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=self.env(),
                                  timeout=limit, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise ClientMissing(self.site.name, command, f"{command[0]} is not installed here "
                                "(install the SLURM client, e.g. slurm-client)") from None
        except subprocess.TimeoutExpired:
            raise ControllerUnreachable(self.site.name, command, f"no answer within {limit:g} s "
                                        f"({ENV_TIMEOUT} sets the limit)") from None
        if done.returncode != 0:
            said = done.stderr if done.stderr.strip() else done.stdout
            message = _message(said) or f"exit status {done.returncode}"
            kind = ControllerUnreachable if UNREACHABLE.search(said) else SlurmError
            raise kind(self.site.name, command, message)
        return done.stdout

    def lines(self, command: Sequence[str]) -> list[str]:
        """stdout's lines, without the ``CLUSTER: name`` headers ``--clusters`` adds."""
        return [line for line in self.run(command).splitlines()
                if line.strip() and not line.startswith("CLUSTER: ")]

    # reading the cluster

    def nodes(self) -> list[dict[str, str]]:
        """One row per (node, partition): name, partition, default, availability, GRES, state,
        CPUs, memory in MB."""
        fields = ("node", "partition", "available", "gres", "state", "cpus", "memory_mb")
        out = []
        for line in self.lines(["sinfo", *self.cluster_args, "--noheader", "--Node",
                                f"--format=%N{SEPARATOR}%P{SEPARATOR}%a{SEPARATOR}%G"
                                f"{SEPARATOR}%T{SEPARATOR}%c{SEPARATOR}%m"]):
            row = dict(zip(fields, line.split(SEPARATOR), strict=False))
            row["default"] = "yes" if row.get("partition", "").endswith("*") else ""
            row["partition"] = row.get("partition", "").rstrip("*")
            out.append(row)
        return out

    def ping(self) -> None:
        """Raise ControllerUnreachable unless the controller answers."""
        self.run(["scontrol", *self.cluster_args, "ping"], timeout=min(timeout_s(), 15))

    # jobs

    def jobs(self, all_states: bool = False) -> list[Job]:
        """This user's jobs (``all_states``: also those finished but still remembered)."""
        uid = os.getuid()
        jobs = self._jobs_json()
        if jobs is None:
            jobs = self._jobs_text(all_states)
        mine = [j for j in jobs if j.user_id in (None, uid)]
        return mine if all_states else [j for j in mine if j.state not in FINISHED_STATES]

    def _jobs_json(self) -> list[Job] | None:
        """``squeue --json`` (SLURM 21.08+), or None where this squeue has no --json."""
        command = ["squeue", *self.cluster_args, "--json"]
        try:
            text = self.run(command)
        except ControllerUnreachable:
            raise
        except SlurmError as exc:
            if re.search(r"unrecognized option|invalid option|not supported|json",
                         exc.message, re.IGNORECASE):
                return None
            raise
        try:
            data = json.loads(text)
        except ValueError:
            return None
        errors = [e for e in data.get("errors") or [] if isinstance(e, dict)]
        if errors:
            detail = "; ".join(str(e.get("description") or e.get("error")) for e in errors)
            raise ControllerUnreachable(self.site.name, command, detail)
        return [_job_from_json(j) for j in data.get("jobs") or []]

    def _jobs_text(self, all_states: bool) -> list[Job]:
        sep = SEPARATOR
        command = ["squeue", *self.cluster_args, "--noheader", f"--user={os.getuid()}",
                   f"--format=%i{sep}%T{sep}%P{sep}%j{sep}%k"]
        if all_states:
            command.append("--states=all")
        out = []
        for line in self.lines(command):
            parts = line.split(sep)
            if len(parts) >= 5:
                out.append(Job(parts[0].strip(), parts[3], parts[1].strip(), parts[2].strip(),
                               sep.join(parts[4:])))
        return out


def _job_from_json(j: dict[str, Any]) -> Job:
    state = j.get("job_state", "")
    if isinstance(state, list):  # SLURM 23.02+ gives a list of flags
        state = state[0] if state else ""
    comment = j.get("comment", "")
    if isinstance(comment, dict):  # SLURM 23.02+: {"job": ..., "administrator": ...}
        comment = comment.get("job", "") or ""
    user = j.get("user_id")
    return Job(str(j.get("job_id", "")), str(j.get("name", "")), str(state),
               str(j.get("partition", "")), str(comment or ""),
               int(user) if isinstance(user, int) else None)


def _message(stderr: str) -> str:
    """SLURM's own words: the last meaningful error line, without the command's prefix."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.strip().startswith("*")]
    failed = [line for line in lines if "submission failed" in line.lower()]
    line = (failed or lines or [""])[-1]
    line = re.sub(r"^(sbatch|squeue|scancel|sinfo|scontrol|slurm_load_\w+)(: error)?:\s*", "",
                  line)
    return re.sub(r"^(error:\s*)?Batch job submission failed:\s*", "", line)
