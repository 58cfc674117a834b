"""Launch a planned fleet: each job at its placement, by the single launch's rules.

Every job goes through ``greenml.launch``'s loop (failover on capacity and quota errors, the
ledger recording every resource before it is created, a later start only on a provider that
can defer one), given a plan whose first option is the job's placement. Its other options
are the ones that keep every limit while the other jobs hold theirs (``refit``), each at the
first hour it fits: a job that fails over is re-planned alone against what the others leave,
so a failover never breaks a quota the fleet was planned to keep. Jobs launch in placement
order; a job that fails (no option fits, or none had capacity) is reported and the others
are kept. The result lists, per job, the option placed and the option launched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import InputError, LaunchError, closest
from greenml.fleet import refit
from greenml.fleet.candidates import HOUR, hour_of, offer_resources
from greenml.launch.loop import check_name
from greenml.model import Schedule, utc_text

if TYPE_CHECKING:
    import numpy as np

    from greenml.fleet.result import Fleet, Placement
    from greenml.launch.ledger import Ledger
    from greenml.launch.progress import ProgressCallback
    from greenml.launch.types import Attempt, Launch
    from greenml.model import Option
    from greenml.plan.result import Plan

#: Why a job that could not launch at its placement had nowhere else to go.
NO_FIT = ("no other option keeps the fleet's limits (quotas, budget, apart-groups, "
          "deadline) given the other jobs' placements")


@attrs.define(eq=False)
class JobLaunch:
    """One job of a fleet launch: its placement, the option launched (None: it failed, and
    ``error`` says why), when that starts, and the single-job ``Launch``."""

    name: str
    launch_name: str
    placement: Placement
    option: Option | None = None
    start: datetime | None = None
    launch: Launch | None = None
    failed_over: bool = False
    error: str = ""
    attempts: tuple[Attempt, ...] = ()

    @property
    def ok(self) -> bool:
        return self.option is not None

    def to_dict(self) -> dict[str, Any]:
        o = self.option
        return {"name": self.name, "launch_name": self.launch_name, "ok": self.ok,
                "failed_over": self.failed_over, "placed": self.placement.to_dict(),
                "launched": None if o is None else {
                    "provider": o.provider, "region": o.region.name,
                    "instance_type": o.offer.instance_type, "accelerator": o.accelerator.name,
                    "instances": o.instances, "start": utc_text(self.start) if self.start
                    else None, "hours": o.estimate.hours, "co2e_kg": o.estimate.co2e_kg,
                    "cost_usd": o.estimate.cost_usd},
                "launch": None if self.launch is None else self.launch.to_dict(),
                "error": self.error, "attempts": [a.to_dict() for a in self.attempts]}


@attrs.define(eq=False)
class FleetLaunch:
    """A fleet launched (or a dry run of it): every job's outcome, in placement order."""

    fleet: Fleet
    jobs: tuple[JobLaunch, ...]
    dry_run: bool = False

    @property
    def launched(self) -> tuple[JobLaunch, ...]:
        return tuple(j for j in self.jobs if j.ok)

    @property
    def failed(self) -> tuple[JobLaunch, ...]:
        return tuple(j for j in self.jobs if not j.ok)

    @property
    def failed_over(self) -> tuple[JobLaunch, ...]:
        return tuple(j for j in self.jobs if j.failed_over)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def co2e_kg(self) -> float:
        """kg CO2e the launched options are planned to emit."""
        return sum(j.option.estimate.co2e_kg for j in self.jobs if j.option is not None)

    @property
    def cost_usd(self) -> float | None:
        costs = [j.option.estimate.cost_usd for j in self.jobs if j.option is not None]
        return None if any(c is None for c in costs) else sum(c for c in costs if c)

    def job(self, name: str) -> JobLaunch:
        for j in self.jobs:
            if j.name == name:
                return j
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "jobs": len(self.jobs),
                "launched": len(self.launched), "failed": len(self.failed),
                "failed_over": len(self.failed_over), "co2e_kg": self.co2e_kg,
                "cost_usd": self.cost_usd, "placed_co2e_kg": self.fleet.co2e_kg,
                "placed_cost_usd": self.fleet.cost_usd,
                "results": [j.to_dict() for j in self.jobs]}

    def to_json(self, indent: int | None = 2) -> str:
        from greenml.render import json_text

        return json_text(self.to_dict(), indent)

    def table(self) -> str:
        from greenml.render import number, table

        verb = "would launch" if self.dry_run else "launched"
        over = f" ({len(self.failed_over)} failed over)" if self.failed_over else ""
        head = (f"fleet: {verb} {len(self.launched)} of {len(self.jobs)} jobs{over}, "
                f"{number(self.co2e_kg)} kg CO2e planned (placed: "
                f"{number(self.fleet.co2e_kg)} kg)")
        rows = []
        for j in self.jobs:
            p, o = j.placement, j.option
            placed = f"{p.provider}/{p.region} {p.option.offer.instance_type}"
            got = "-" if o is None else f"{o.provider}/{o.region.name} {o.offer.instance_type}"
            outcome = ("failed" if o is None else "failed over" if j.failed_over
                     else "as placed")
            rows.append([j.name, j.launch_name, placed, got,
                         utc_text(j.start) if j.start else "-", outcome])
        lines = [head, "", table(["job", "launch", "placed", "launched", "start", "outcome"],
                                 rows)]
        lines += [f"{j.name}: {j.error}" for j in self.failed]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def launch_fleet(fleet: Fleet, *, run: str | Mapping[str, str] | None = None,
                 name_prefix: str = "fleet", dry_run: bool = False,
                 settings: Mapping[str, str] | None = None,
                 ledger: Ledger | str | None = None, progress: ProgressCallback | None = None,
                 keep: bool = False, max_hours: float | None = None,
                 now: datetime | None = None) -> FleetLaunch:
    """Launch each job of ``fleet`` as its placement says.

    ``run`` is one command for the jobs whose table in the job file has no ``run`` of its
    own, or a mapping of job names to commands that wins over the job file's (a job it
    does not name keeps the file's). Each job is launched as ``<name_prefix>-<job name>``
    (checked as a launch name) by ``greenml.launch``'s loop on a plan whose first option
    is its placement: the same failover, ledger and deferred starts as a single launch.
    Its next options keep every limit given the other jobs' options, each at the first
    hour it fits; a job left with none fails with the reason and the others are kept.
    ``keep`` and ``max_hours`` apply to every job as in ``greenml.launch``; ``now`` is the
    present (default: the clock).

    Raises InputError for a bad name, command or setting before anything is created.
    """
    from greenml.launch.ledger import Ledger
    from greenml.provider import check_settings

    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    names = [p.name for p in fleet.placements]
    runs = _runs(run, fleet, names)
    launch_names = {n: _launch_name(name_prefix, n) for n in names}
    missing = [n for n in names if n not in fleet.plans]
    if missing:
        raise InputError("fleet", f"no plan kept for job {missing[0]!r}: launch a fleet made "
                         "by greenml.plan_fleet")
    providers: dict[str, Any] = {}
    for plan in fleet.plans.values():
        providers.update(plan.launch_providers())
    settings = check_settings(settings, providers)
    book = None if dry_run else ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    holding = {p.name: refit.Held(p.name, p.option, hour_of(p.start, fleet.start))
               for p in fleet.placements}
    kept: dict[str, refit.Held | None] = dict(holding)
    catalog = fleet.plans[fleet.placements[0].name].catalog  # one catalog: plan_fleet's
    held_by = offer_resources(catalog, fleet.limits)
    out = []
    for p in fleet.placements:
        others = [h for n, h in kept.items() if n != p.name and h is not None]
        result = _launch_one(fleet, p, others, held_by, launch_names[p.name], runs[p.name],
                             dry_run, settings, book, progress, now, (keep, max_hours))
        kept[p.name] = result[1]
        out.append(result[0])
    return FleetLaunch(fleet, tuple(out), dry_run)


def _launch_one(fleet: Fleet, p: Placement, others: Sequence[refit.Held], held_by: np.ndarray,
                launch_name: str, run: str, dry_run: bool, settings: Mapping[str, str],
                book: Ledger | None, progress: ProgressCallback | None, now: datetime,
                ending: tuple[bool, float | None]) -> tuple[JobLaunch, refit.Held | None]:
    """One job through the single launch: its placement first, then what still fits
    (``held_by``: which limits each catalog offer holds)."""
    from greenml.launch.loop import launch_plan

    plan = fleet.plans[p.name]
    placed = refit.Fit(plan.ranking.row(p.option.rank - 1), hour_of(p.start, fleet.start))
    fits = [placed] + [f for f in refit.fitting(
        p.name, p.job, plan, fleet.limits, fleet.budget_usd, fleet.weigh, others,
        fleet.start, now, held_by) if f.row != placed.row]
    starts = [_start(fleet.start, f.start_h, p, now) for f in fits]
    restricted = _restricted(plan, fits, starts, p, now)
    job = JobLaunch(p.name, launch_name, p)
    try:
        launch = launch_plan(restricted, name=launch_name, run=run, dry_run=dry_run,
                             settings=settings, ledger=book, progress=progress,
                             keep=ending[0], max_hours=ending[1])
    except LaunchError as exc:
        job.error = str(exc) + ("" if len(fits) > 1 else f"; {NO_FIT}")
        job.attempts = tuple(getattr(exc, "attempts", ()))
        return job, None
    except InputError as exc:
        if exc.field != "providers":  # bad input: said before anything was created
            raise
        job.error = str(exc).partition(": ")[2] + ("" if len(fits) > 1 else f"; {NO_FIT}")
        return job, None
    assert launch.option is not None
    k = launch.option.rank - 1
    job.option, job.start, job.launch = launch.option, starts[k], launch
    job.failed_over, job.attempts = k > 0, tuple(launch.attempts)
    return job, refit.Held(p.name, launch.option, fits[k].start_h)


def _restricted(plan: Plan, fits: Sequence[refit.Fit], starts: Sequence[datetime],
                p: Placement, now: datetime) -> Plan:
    """``plan`` with only ``fits``'s options, in their order, each scheduled to start when
    it fits (a later start is kept only by a provider that can defer one)."""
    import numpy as np

    from greenml.plan.ranking import Ranking

    r = plan.ranking
    order = np.array([f.row for f in fits], dtype=np.int64)
    ranking = Ranking(np.sort(order), r.co2e_kg, r.cost_usd, r.hours, order,
                      order[np.isin(order, r.front)], order=order)
    positions = r.positions(order).tolist()
    built = {i: _scheduled(plan.option(int(pos) + 1), i + 1, start, p, now)
             for i, (pos, start) in enumerate(zip(positions, starts, strict=True))}
    restricted: Plan = attrs.evolve(plan, ranking=ranking, built=built, timeshift=None)
    return restricted


def _scheduled(option: Option, rank: int, start: datetime, p: Placement, now: datetime
               ) -> Option:
    from greenml.launch.loop import START_SLACK

    if start <= now + START_SLACK:
        return attrs.evolve(option, rank=rank, schedule=None)
    e = option.estimate
    end = start + timedelta(hours=e.hours)
    earliest = max(now, p.job.earliest_start) if p.job.earliest_start else now
    schedule = Schedule(start, end, ((start, end),), False, earliest, p.job.deadline,
                        e.co2e_kg, e.co2e_kg, "")
    return attrs.evolve(option, rank=rank, schedule=schedule)


def _start(t0: datetime, start_h: int, p: Placement, now: datetime) -> datetime:
    """When a job given hour ``start_h`` starts: then, or now if that hour has begun (hour 0
    is the first whole hour after the fleet was planned: no other job holds a quota
    before it), never before the job's earliest start."""
    now_h = max(0, math.floor((now - t0) / HOUR))
    if start_h > now_h:
        return t0 + start_h * HOUR
    return max(now, p.job.earliest_start) if p.job.earliest_start else now


def _runs(run: str | Mapping[str, str] | None, fleet: Fleet, names: list[str]
          ) -> dict[str, str]:
    """Each job's command. A mapping ``run`` wins for the jobs it names, the job file's
    ``run`` serving the others; a single ``run`` serves only the jobs whose table has no
    ``run``: the file's per-job command wins over it."""
    if run is not None and not isinstance(run, (str, Mapping)):
        raise InputError("run", f"must be a command, or a mapping of job names to commands, "
                         f"got {run!r}")
    if isinstance(run, Mapping):
        for key in run:
            if key not in names:
                raise InputError("run", f"no job is named {key!r}; jobs: "
                                 f"{', '.join(names[:8])}", closest(str(key), names))
    out = {}
    for name in names:
        if isinstance(run, Mapping):
            command = run.get(name, fleet.runs.get(name))
        else:
            command = fleet.runs.get(name, run)
        if not isinstance(command, str) or not command.strip():
            raise InputError("run", f"no command for job {name!r}: give one for all, one per "
                             "job, or a run field in its [[job]] table")
        out[name] = command
    return out


def _launch_name(prefix: str, job: str) -> str:
    name = f"{prefix}-{job}"
    try:
        return check_name(name)
    except InputError as exc:
        raise InputError("name_prefix", f"job {job!r}: {str(exc).partition(': ')[2]}"
                         ) from None
