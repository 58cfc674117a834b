"""Which of one job's options keep every limit while the other jobs hold what they hold.

A fleet's job that fails over at launch must not break a quota the fleet was planned to
keep: its new option is chosen against what is left of each limit once the other jobs'
options (launched, or still to launch at their placements) are counted, hour by hour, with
the budget and the apart-groups. This is the fleet's program restricted to one job, whose
answer is simple enough to list in full: every option of the job's own plan at the first
start hour at which it fits, best first by the fleet's objective (then USD, then finish),
so that the single-job launch can walk them as it walks a plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from greenml.fleet import candidates as cands
from greenml.fleet.candidates import HOUR
from greenml.fleet.limits import Limits, covers

if TYPE_CHECKING:
    import numpy as np

    from greenml.job import Job
    from greenml.model import Option
    from greenml.plan.result import Plan


@attrs.frozen
class Held:
    """What one other job holds: its option from ``start_h`` (hours from the fleet's start)
    for ``held_h`` whole hours."""

    name: str
    option: Option
    start_h: int

    @property
    def held_h(self) -> int:
        return cands.held_hours(self.option.estimate.hours)

    @property
    def accelerators(self) -> int:
        return self.option.instances * self.option.offer.accelerators_per_instance


@attrs.frozen
class Fit:
    """An option of the job's plan (catalog ``row``) that keeps every limit from hour
    ``start_h``."""

    row: int
    start_h: int


def fitting(name: str, job: Job, plan: Plan, limits: Limits, budget_usd: float | None,
            weigh: Mapping[str, float], others: Sequence[Held], t0: datetime, now: datetime,
            offer_resources: np.ndarray, start_slots: int = 24) -> list[Fit]:
    """Every option of ``plan`` that keeps each limit given ``others``, at its first start
    hour that does (from the later of the job's earliest start and the hour ``now`` falls
    in, over ``start_slots`` hours, finishing by the deadline), best first.
    ``offer_resources`` is ``candidates.offer_resources(plan.catalog, limits)``, made once
    for every job."""
    import numpy as np

    cols, f = plan.catalog.columns, plan.figures
    rows = plan.ranking.order
    if rows.size == 0:
        return []
    resources = cands.resources(limits)
    capacity = np.array([r.capacity for r in resources], dtype=np.int64)
    holds = offer_resources[rows][:, :len(resources)]
    count = (f.instances[rows] * cols.per_instance[rows]).astype(np.int64)
    hours = f.hours[rows]
    held = cands.held_hours(hours)
    first = cands.first_slot(job, t0)
    lo = max(first, math.floor(max(0.0, (now - t0) / HOUR)))
    starts = range(lo, max(lo + 1, first + start_slots))
    horizon = max([h.start_h + h.held_h for h in others] + [starts[-1] + int(held.max())]) + 1
    used = np.zeros((len(resources), horizon), dtype=np.int64)
    for h in others:
        mine = np.array([_holds(r, h.option) for r in resources], dtype=bool)
        used[mine, h.start_h:h.start_h + h.held_h] += h.accelerators
    ok = np.ones(rows.size, dtype=bool)
    cost = f.cost_usd[rows]
    if budget_usd is not None:  # an unknown cost cannot be held to a budget
        spent = sum(h.option.estimate.cost_usd or 0.0 for h in others)
        ok &= ~np.isnan(cost) & (spent + np.nan_to_num(cost) <= budget_usd + 1e-9)
    ok &= ~_apart_regions(name, limits, others, plan)[cols.offer_region[rows]]
    deadline_h = (job.deadline - t0) / HOUR if job.deadline is not None else math.inf
    start = np.full(rows.size, -1, dtype=np.int64)
    for s in starts:
        open_ = ok & (start < 0) & (max(s, (now - t0) / HOUR) + hours <= deadline_h + 1e-9)
        for length in np.unique(held[open_]).tolist():
            peak = used[:, s:s + length].max(axis=1)
            over = holds & (peak[None, :] + count[:, None] > capacity[None, :])
            start[open_ & (held == length) & ~over.any(axis=1)] = s
    found = np.flatnonzero(start >= 0)
    usd = cands.cost_ranked(cost)
    objective = cands.primary(f.co2e_kg[rows], usd, weigh)
    order = found[np.lexsort((start[found] + hours[found], usd[found], objective[found]))]
    return [Fit(int(rows[k]), int(start[k])) for k in order.tolist()]


def _holds(resource: cands.Resource, option: Option) -> bool:
    """Whether ``option`` counts against ``resource``."""
    if resource.kind == "provider_accelerators":
        return option.provider == resource.key[0]
    provider, region, name = resource.key
    return (option.provider == provider and option.region.name == region
            and covers(name, option.accelerator))


def _apart_regions(name: str, limits: Limits, others: Sequence[Held], plan: Plan
                   ) -> np.ndarray:
    """Per catalog region: whether a job kept apart from ``name`` holds it."""
    import numpy as np

    regions = plan.catalog.regions
    out = np.zeros(len(regions), dtype=bool)
    apart = {n for g in limits.apart if name in g for n in g} - {name}
    taken = {(h.option.provider, h.option.region.name) for h in others if h.name in apart}
    for i, r in enumerate(regions):
        out[i] = (r.provider, r.name) in taken
    return out
