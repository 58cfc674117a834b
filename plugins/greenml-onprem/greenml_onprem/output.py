"""A SLURM job's output, read back for ``greenml logs`` and the exit code ``status --refresh``
shows.

Why the job's output file: it is SLURM's console. The batch script (``batch.py``) ends it
with ``greenml-exit=N``; a job that never got there (cancelled, past its time limit, its node
lost) gets the exit code SLURM recorded instead, added as the same kind of line, so that
greenml reads one format everywhere. The file's path comes from ``scontrol show job``
(``StdOut=``); a job the controller no longer remembers is looked for where greenml's
default ``--output`` puts it. Only the file's last ``MAX_BYTES`` are read: a console may
keep only its latest part, and ``greenml logs`` handles that.
"""

from __future__ import annotations

import re
from pathlib import Path

from greenml import GreenmlError, Resource
from greenml.launch.logs import EXIT_LINE
from greenml.provider.boot import EXIT_TIME_LIMIT
from greenml_onprem.slurm import FINISHED_STATES, ControllerUnreachable, Slurm, SlurmError

#: The most of a job's output read at once (its end).
MAX_BYTES = 1 << 20
#: One ``Key=`` of ``scontrol show job --oneliner`` (a value may hold spaces; a key starts
#: after one and has no ``-``, unlike the ``greenml-token=`` inside a comment).
FIELD = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")
#: States in which the job has not started writing its output yet.
NOT_STARTED = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "RESV_DEL_HOLD"})


def job_fields(slurm: Slurm, job_id: str) -> dict[str, str] | None:
    """``scontrol show job --oneliner`` as a dict, or None where SLURM has forgotten the job
    (past ``MinJobAge``)."""
    try:
        lines = slurm.lines(["scontrol", *slurm.cluster_args, "show", "job", "--oneliner",
                             job_id])
    except ControllerUnreachable:
        raise
    except SlurmError as exc:
        if "invalid job id" in exc.message.lower():
            return None
        raise
    return parse_fields(lines[0]) if lines else None


def parse_fields(line: str) -> dict[str, str]:
    """``Key=value Key=value ...`` to a dict; each value runs to the next key."""
    found = list(FIELD.finditer(line))
    return {m.group(1): line[m.end():found[i + 1].start() if i + 1 < len(found) else None
                             ].strip()
            for i, m in enumerate(found)}


def slurm_exit_code(fields: dict[str, str]) -> int | None:
    """The job's exit code as SLURM recorded it, the shell's way: a job past its time limit
    is 124 (as greenml's cloud watchdog says), one ended by signal S is 128+S; None while
    the job has not finished."""
    state = fields.get("JobState", "").split()[0] if fields.get("JobState") else ""
    if state not in FINISHED_STATES:
        return None
    if state == "TIMEOUT":
        return EXIT_TIME_LIMIT
    code, _, signal = fields.get("ExitCode", "").partition(":")
    try:
        number, by_signal = int(code or 0), int(signal or 0)
    except ValueError:
        return None
    return 128 + by_signal if by_signal else number


def read_tail(path: Path) -> str:
    """The last ``MAX_BYTES`` of ``path``, as text."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - MAX_BYTES))
        return f.read().decode("utf-8", errors="replace")


def console_output(slurm: Slurm, resource: Resource, fallback: Path) -> str:
    """What job ``resource`` has written so far (``fallback``: where its output is when
    SLURM has forgotten the job), with SLURM's exit code added as a ``greenml-exit=`` line
    once it is over and the script never wrote its own."""
    fields = job_fields(slurm, resource.resource_id)
    path = Path(fields.get("StdOut") or fallback) if fields is not None else fallback
    state = (fields or {}).get("JobState", "")
    try:
        text = read_tail(path)
    except FileNotFoundError:
        if fields is not None and (not state or state.split()[0] in NOT_STARTED):
            return ""  # not started yet: nothing written
        where = "SLURM no longer remembers the job; " if fields is None else ""
        raise GreenmlError(f"onprem site {slurm.site.name!r}: job {resource.resource_id}'s "
                           f"output {path} is not readable here ({where}on a real cluster, "
                           "choose a workdir on a filesystem this machine shares)") from None
    except OSError as exc:
        raise GreenmlError(f"onprem site {slurm.site.name!r}: cannot read job "
                           f"{resource.resource_id}'s output {path}: {exc}") from None
    code = slurm_exit_code(fields) if fields is not None else None
    if code is not None and not EXIT_LINE.search(text):
        separator = "" if not text or text.endswith("\n") else "\n"
        text += (f"{separator}greenml-exit={code} (from SLURM: {state}, ExitCode "
                 f"{fields.get('ExitCode', '?') if fields else '?'}; the run wrote none)\n")
    return text
