"""The job file: this week's jobs, each a ``Job`` with a name, plus limits and a budget.

A platform team keeps its fleet in one reviewed file rather than thirty command lines::

    budget_usd = 20000

    [limits]
    accelerators = { "gcp/europe-north1/A100" = 16 }

    [[job]]
    name = "finetune-1"
    run = "python train.py --config ft1.yaml"
    accelerator = "A100"
    count = 8
    hours = 12
    deadline = 2026-05-03T00:00:00Z

Every error names the file, the job and the field, and what is accepted, because a typo in
a fleet file must never plan a different fleet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from greenml.errors import InputError, closest
from greenml.fleet.limits import Limits
from greenml.job import Job

#: The keys of a job file's top level.
TOP_KEYS = ("job", "limits", "budget_usd")


@attrs.frozen(eq=False)
class JobFile:
    """A job file read: named jobs in file order, the limits and the budget (None: none);
    ``runs`` maps a job's name to the command its ``run`` field gives (launching a fleet)."""

    jobs: Mapping[str, Job]
    limits: Limits = attrs.field(factory=Limits)
    budget_usd: float | None = None
    source: str = "jobs"
    runs: Mapping[str, str] = attrs.field(factory=dict)


def read_jobs(path: str | Path) -> JobFile:
    """Read a TOML job file: ``[[job]]`` tables (``name``, an optional ``run`` command for
    ``greenml launch --jobs``, and the fields of ``greenml.Job``; times as TOML datetimes or
    ISO 8601 text with a zone), an optional ``[limits]`` table
    (see ``greenml.fleet.limits.Limits.parse``) and an optional ``budget_usd``.

    Raises InputError naming the file, the job and the field for unknown fields, duplicate
    names and bad values; limits are checked against the catalog when the fleet is planned.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, packaged
        import tomli as tomllib

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(source, f"cannot read the job file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML: {exc}") from None
    return parse(data, source)


def parse(data: Mapping[str, Any], source: str = "jobs") -> JobFile:
    """A job file's parsed TOML (a mapping), checked; ``source`` names it in errors."""
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(source, f"unknown key {key!r}; accepted: {', '.join(TOP_KEYS)}",
                             closest(key, TOP_KEYS))
    tables = data.get("job", [])
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise InputError(source, "jobs are [[job]] tables")
    if not tables:
        raise InputError(source, "no [[job]] table: a fleet has at least one job")
    jobs: dict[str, Job] = {}
    runs: dict[str, str] = {}
    for n, table in enumerate(tables, 1):
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{source}: job #{n}", "needs a name (name = \"...\")")
        if name in jobs:
            raise InputError(f"{source}: job {name!r}", "the name is used twice; job names "
                             "are unique in a file")
        fields = {k: v for k, v in table.items() if k not in ("name", "run")}
        jobs[name] = make_job(fields, f"{source}: job {name!r}", also=("run",))
        if "run" in table:
            run = table["run"]
            if not isinstance(run, str) or not run.strip():
                raise InputError(f"{source}: job {name!r}: run", "must be the command to run "
                                 f"on the instances (text), got {run!r}")
            runs[name] = run
    budget = budget_usd(data.get("budget_usd"), f"{source}: budget_usd")
    return JobFile(jobs, Limits.parse(data.get("limits"), f"{source}: limits"), budget, source,
                   runs)


def make_job(fields: Mapping[str, Any], where: str, also: tuple[str, ...] = ()) -> Job:
    """A Job from a table of its fields; an unknown field or a bad value is an InputError
    naming ``where`` and the field (``also``: other fields the table may hold, named too)."""
    accepted = [f.name for f in attrs.fields(Job)]
    for key in fields:
        if key not in accepted:
            raise InputError(where, f"unknown field {key!r}; accepted: name, "
                             f"{', '.join([*accepted, *also])}",
                             closest(key, [*accepted, *also]))
    try:
        return Job(**fields)
    except InputError as exc:
        raise InputError(f"{where}: {exc.field}", str(exc).partition(": ")[2].split(
            " (did you mean")[0], exc.suggestions) from None
    except TypeError as exc:  # a value of a type no converter accepts
        raise InputError(where, str(exc)) from None


def named(jobs: Any, where: str = "jobs") -> dict[str, Job]:
    """The Python API's ``jobs``: a mapping of names to Jobs, (name, Job) pairs, a JobFile,
    or Jobs alone (named job-1, job-2, ...)."""
    if isinstance(jobs, JobFile):
        return dict(jobs.jobs)
    if isinstance(jobs, Mapping):
        items: list[Any] = list(jobs.items())
    elif isinstance(jobs, Iterable) and not isinstance(jobs, (str, bytes)):
        items = [(f"job-{n}", j) if isinstance(j, Job) else j for n, j in enumerate(jobs, 1)]
    else:
        raise InputError(where, f"must be Jobs, a mapping of names to Jobs or a job file, got "
                         f"{type(jobs).__name__}")
    out: dict[str, Job] = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], Job)):
            raise InputError(where, f"each job is a greenml.Job with a name, got {item!r}")
        if item[0] in out:
            raise InputError(f"{where}[{item[0]!r}]", "the name is used twice")
        out[item[0]] = item[1]
    if not out:
        raise InputError(where, "a fleet has at least one job")
    return out


def budget_usd(value: Any, where: str = "budget_usd") -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise InputError(where, f"must be a positive number of USD, got {value!r}")
    return float(value)
