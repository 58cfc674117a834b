"""A planned fleet: each job's placement, the totals, the quotas' use over time, what the
limits cost against the references, and how the solver got there."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from greenml.fleet.candidates import held_hours, hour_of
from greenml.fleet.compare import Comparison
from greenml.fleet.limits import Limits, covers
from greenml.fleet.milp import SolverReport
from greenml.model import utc_text

if TYPE_CHECKING:
    from greenml.fleet.launching import FleetLaunch
    from greenml.job import Job
    from greenml.launch.ledger import Ledger
    from greenml.launch.progress import ProgressCallback
    from greenml.model import Option
    from greenml.plan.result import Plan


@attrs.frozen(eq=False)
class Placement:
    """Where and when one job runs: the option of its own plan (what a launch uses), the
    start hour the fleet gave it and when it finishes."""

    name: str
    job: Job
    option: Option
    start: datetime
    finish: datetime
    accelerators: int

    @property
    def provider(self) -> str:
        return self.option.provider

    @property
    def region(self) -> str:
        return self.option.region.name

    @property
    def co2e_kg(self) -> float:
        return self.option.estimate.co2e_kg

    @property
    def cost_usd(self) -> float | None:
        return self.option.estimate.cost_usd

    @property
    def energy_kwh(self) -> float:
        return self.option.estimate.energy_kwh

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.provider, "region": self.region,
                "instance_type": self.option.offer.instance_type,
                "accelerator": self.option.accelerator.name,
                "family": self.option.accelerator.family, "accelerators": self.accelerators,
                "instances": self.option.instances, "start": utc_text(self.start),
                "finish": utc_text(self.finish), "hours": self.option.estimate.hours,
                "energy_kwh": self.energy_kwh, "co2e_kg": self.co2e_kg,
                "cost_usd": self.cost_usd}


@attrs.frozen
class Use:
    """Accelerators a fleet holds over time: from hour ``hours[i]`` (counted from the
    fleet's start) it holds ``accelerators[i]``; ``limit`` is the quota on them (None: none
    given). They are one family's in one provider's region; or, where a limit names one
    accelerator (``family`` is then its name), that accelerator's; or, where a limit is on
    a provider in total (``region`` and ``family`` empty), every one of that provider's."""

    provider: str
    region: str
    family: str
    hours: tuple[int, ...]
    accelerators: tuple[int, ...]
    limit: int | None

    @property
    def peak(self) -> int:
        return max(self.accelerators, default=0)

    @property
    def name(self) -> str:
        """``provider/region/family`` as the limit is written, or the provider alone."""
        return "/".join(n for n in (self.provider, self.region, self.family) if n)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.provider, "region": self.region,
                "family": self.family, "limit": self.limit, "peak": self.peak,
                "steps": [{"hour": h, "accelerators": a}
                          for h, a in zip(self.hours, self.accelerators, strict=True)]}


@attrs.define(eq=False)
class Fleet:
    """Every job placed for the least total objective (kg CO2e unless weighed otherwise;
    ties by USD, then by finish) under the limits, budget and apart-groups.

    ``comparisons`` holds, in order: each job's own best ignoring limits, greedy in the
    given order, and the average US datacenter baseline (Patterson et al. 2021). ``use``
    is the accelerators held per (provider, region, family) over time, and per limit on
    one accelerator's name or on a provider in total (``Use``); ``solver`` says how
    the answer was found and whether it is proven optimal (``gap``). ``plans`` keeps each
    job's own plan (by name) and ``runs`` the commands the job file gave: a launch fails a
    job over to the options of its plan that keep the limits.
    """

    placements: tuple[Placement, ...]
    limits: Limits
    budget_usd: float | None
    weigh: Mapping[str, float]
    start: datetime
    use: tuple[Use, ...]
    comparisons: tuple[Comparison, ...]
    solver: SolverReport
    plans: Mapping[str, Plan] = attrs.field(factory=dict, repr=False)
    runs: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @property
    def co2e_kg(self) -> float:
        return sum(p.co2e_kg for p in self.placements)

    @property
    def cost_usd(self) -> float | None:
        costs = [p.cost_usd for p in self.placements]
        return None if any(c is None for c in costs) else sum(c for c in costs if c)

    @property
    def energy_kwh(self) -> float:
        return sum(p.energy_kwh for p in self.placements)

    @property
    def finish(self) -> datetime:
        return max(p.finish for p in self.placements)

    def placement(self, name: str) -> Placement:
        for p in self.placements:
            if p.name == name:
                return p
        raise KeyError(name)

    def comparison(self, name: str) -> Comparison:
        """``own best``, ``greedy`` or ``baseline``."""
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self.placements)

    def launch(self, *, run: str | Mapping[str, str] | None = None, name_prefix: str = "fleet",
               dry_run: bool = False, settings: Mapping[str, str] | None = None,
               ledger: Ledger | str | None = None, progress: ProgressCallback | None = None,
               keep: bool = False, max_hours: float | None = None,
               now: datetime | None = None) -> FleetLaunch:
        """Launch each job as its placement says: ``greenml.fleet.launch_fleet(self, ...)``,
        which documents it."""
        from greenml.fleet.launching import launch_fleet

        return launch_fleet(self, run=run, name_prefix=name_prefix, dry_run=dry_run,
                            settings=settings, ledger=ledger, progress=progress, keep=keep,
                            max_hours=max_hours, now=now)

    def to_dict(self) -> dict[str, Any]:
        return {"start": utc_text(self.start), "jobs": len(self.placements),
                "co2e_kg": self.co2e_kg, "cost_usd": self.cost_usd,
                "energy_kwh": self.energy_kwh, "finish": utc_text(self.finish),
                "weigh": dict(self.weigh), "budget_usd": self.budget_usd,
                "limits": self.limits.to_dict(),
                "placements": [p.to_dict() for p in self.placements],
                "use": [u.to_dict() for u in self.use],
                "comparisons": [c.to_dict() for c in self.comparisons],
                "solver": self.solver.to_dict()}

    def to_json(self, indent: int | None = 2) -> str:
        from greenml.render import json_text

        return json_text(self.to_dict(), indent)

    def table(self) -> str:
        from greenml.fleet.table import fleet_table

        return fleet_table(self)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Fleet {len(self)} jobs, {self.co2e_kg:,.1f} kg CO2e, {self.solver.status}>"


def use_over_time(placements: tuple[Placement, ...], limits: Limits, start: datetime
                  ) -> tuple[Use, ...]:
    """Per (provider, region, family) the placements use, and per limit of ``limits`` on
    an accelerator's own name or on a provider that some placement counts against: the
    accelerators held from each hour at which that changes (a quota is held in whole
    hours). A placement counts against a limit as the program counts it (``covers``)."""
    spans: dict[tuple[str, str, str], list[tuple[int, int, int]]] = {}
    for p in placements:
        acc = p.option.accelerator
        keys = {(p.provider, p.region, acc.family)}
        keys |= {k for k in limits.accelerators
                 if k[:2] == (p.provider, p.region) and covers(k[2], acc)}
        if p.provider in limits.provider_accelerators:
            keys.add((p.provider, "", ""))
        first = hour_of(p.start, start)
        for key in keys:
            spans.setdefault(key, []).append((first, first + held_hours(p.option.estimate.hours),
                                              p.accelerators))
    out = []
    for key in sorted(spans):
        events: dict[int, int] = {}
        for lo, hi, n in spans[key]:
            events[lo] = events.get(lo, 0) + n
            events[hi] = events.get(hi, 0) - n
        hours: list[int] = []
        levels: list[int] = []
        level = 0
        for hour in sorted(events):
            level += events[hour]
            if levels and levels[-1] == level:
                continue
            hours.append(hour)
            levels.append(level)
        limit = (limits.provider_accelerators.get(key[0]) if key[1:] == ("", "")
                 else limits.accelerators.get(key))
        out.append(Use(*key, tuple(hours), tuple(levels), limit))
    return tuple(out)
