"""Each job's options as (offer, start hour) candidates, pruned without losing the optimum.

The single-job planner already works out every offer's hours, kWh, kg CO2e and cost for a
job; a fleet reuses its arrays and adds the start hour (``start_slots`` hourly starts from
the job's earliest start, each finishing by its deadline). With annual intensities the start
changes no emission, only which hours a quota is held, so most candidates differ only in
when they hold it.

Pruning keeps the optimum provably: candidate ``a`` dominates ``b`` (same job) when ``a``
holds a subset of the limits ``b`` holds, no more accelerators, for no longer, inside
``b``'s hours, costs no more where a budget binds, and is no worse on the objective in
lexicographic order (objective, USD, finish). Swapping ``b`` for ``a`` in any placement
keeps every limit and worsens nothing, so ``b`` is dropped (of equals, all but one). An
offer under no limit holds nothing at any hour, so only its earliest start is kept, and any
limited candidate it dominates goes too: in a fleet whose quotas cover a few regions, a job
keeps the unlimited best and the limited options that beat it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, overload

import attrs

from greenml.fleet.limits import Limits, covers

if TYPE_CHECKING:
    import numpy as np

    from greenml.catalog import Catalog
    from greenml.job import Job
    from greenml.plan.result import Plan

#: A fleet's time step: starts are whole hours from hour 0, and quotas are held per hour.
HOUR = timedelta(hours=1)


@overload
def held_hours(hours: float) -> int: ...


@overload
def held_hours(hours: np.ndarray) -> np.ndarray: ...


def held_hours(hours: float | np.ndarray) -> int | np.ndarray:
    """The whole hours a run of ``hours`` holds its quota (from its start hour until the
    next hour boundary after it finishes; a float a hair over a whole hour is that hour)."""
    if isinstance(hours, (int, float)):
        return math.ceil(hours - 1e-9)
    import numpy as np

    held: np.ndarray = np.ceil(hours - 1e-9).astype(np.int64)
    return held


def first_slot(job: Job, t0: datetime) -> int:
    """The first start hour (from ``t0``) ``job`` may take: its earliest start, rounded up
    to a whole hour, or hour 0."""
    return max(0, math.ceil((job.earliest_start - t0) / HOUR)) if job.earliest_start else 0


def hour_of(when: datetime, t0: datetime) -> int:
    """The hour (counted from ``t0``) a placement starting at ``when`` was given."""
    return round((when - t0) / HOUR)


def cost_ranked(cost: np.ndarray) -> np.ndarray:
    """USD per option for ranking: an unknown cost (NaN) counts as the dearest known one,
    so that it ranks last on cost (tied with that one)."""
    import numpy as np

    known = cost[~np.isnan(cost)]
    out: np.ndarray = np.where(np.isnan(cost), known.max() if known.size else 0.0, cost)
    return out


@attrs.frozen
class Resource:
    """One limit the candidates are checked against at every hour: a quota on a provider's
    region and accelerator family (or one accelerator), or on a provider in total. ``key``
    is the limit's key in ``Limits``: (provider, region, family) or (provider,)."""

    kind: str  # "accelerators" or "provider_accelerators"
    name: str  # "gcp/europe-north1/A100" or "gcp"
    capacity: int
    key: tuple[str, ...]


@attrs.define(eq=False)
class Candidates:
    """Every kept candidate as parallel arrays (one entry per candidate), jobs in order.

    ``start_h``/``finish_h`` count hours from ``t0``; ``held_h`` is the whole hours a
    candidate holds its accelerators (a quota is held from the start hour until the next
    hour boundary after the finish). ``members`` lists, per resource, the candidates that
    hold it; ``regions`` the catalog region of each, for apart-groups. ``late_h`` is how
    far a candidate finishes past its job's deadline (0 unless ``allow_late``).
    """

    names: tuple[str, ...]
    jobs: tuple[Job, ...]
    plans: tuple[Plan, ...]
    t0: datetime
    resources: tuple[Resource, ...]
    job: np.ndarray
    row: np.ndarray
    start_h: np.ndarray
    held_h: np.ndarray
    hours: np.ndarray
    finish_h: np.ndarray
    co2e_kg: np.ndarray
    cost_usd: np.ndarray
    priced: np.ndarray
    accelerators: np.ndarray
    region: np.ndarray
    late_h: np.ndarray
    members: tuple[np.ndarray, ...]
    considered: int
    apart: tuple[tuple[str, ...], ...] = ()

    @property
    def size(self) -> int:
        return int(self.job.size)


def horizon_start(now: datetime | None) -> datetime:
    """The first whole hour at or after ``now`` (default: the present): hour 0 of a fleet."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + HOUR


def resources(limits: Limits) -> tuple[Resource, ...]:
    """Every limit of ``limits`` as a resource, in the columns' order of
    ``offer_resources``."""
    return tuple([Resource("accelerators", "/".join(k), v, k)
                  for k, v in limits.accelerators.items()]
                 + [Resource("provider_accelerators", p, v, (p,))
                    for p, v in limits.provider_accelerators.items()])


def build(names: Sequence[str], jobs: Sequence[Job], plans: Sequence[Plan], limits: Limits,
          budget_usd: float | None, weigh: Mapping[str, float], t0: datetime,
          start_slots: int = 24, allow_late: bool = False) -> Candidates:
    """The pruned candidates of every job; ``allow_late`` keeps starts past a deadline (with
    ``late_h``), for explaining an infeasible fleet."""
    import numpy as np

    res = resources(limits)
    offer_res = offer_resources(plans[0].catalog, limits)
    apart = {n for g in limits.apart for n in g}
    parts: list[dict[str, np.ndarray]] = []
    considered = 0
    cache: dict[tuple[int, bool, bool], dict[str, np.ndarray]] = {}
    for j, (name, job, plan) in enumerate(zip(names, jobs, plans, strict=True)):
        deadline_h = (job.deadline - t0) / HOUR if job.deadline is not None else math.inf
        key = (id(plan), name in apart, job.deadline is not None or allow_late)
        if key not in cache:
            cache[key] = _offers(plan, offer_res, len(res), name in apart, budget_usd, weigh,
                                 key[2])
        offers = cache[key]
        considered += int(plan.ranking.size) * start_slots
        found = _expand(offers, first_slot(job, t0), start_slots, deadline_h, allow_late,
                        budget_usd is not None)
        found["job"] = np.full(found["row"].size, j, dtype=np.int64)
        parts.append(found)
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    holders = [np.flatnonzero(merged["resources"][:, i]) for i in range(len(res))]
    return Candidates(
        names=tuple(names), jobs=tuple(jobs), plans=tuple(plans), t0=t0, resources=res,
        job=merged["job"], row=merged["row"], start_h=merged["start"], held_h=merged["held"],
        hours=merged["hours"], finish_h=merged["finish"], co2e_kg=merged["co2"],
        cost_usd=merged["usd"], priced=merged["priced"], accelerators=merged["count"],
        region=merged["region"], late_h=merged["late"], members=tuple(holders),
        considered=considered, apart=limits.apart)


def primary(co2e_kg: np.ndarray, cost_usd: np.ndarray, weigh: Mapping[str, float]
            ) -> np.ndarray:
    """The objective per candidate: ``weigh["co2"]`` per kg CO2e plus ``weigh["usd"]`` per
    USD (default: kg CO2e alone)."""
    out: np.ndarray = weigh.get("co2", 0.0) * co2e_kg + weigh.get("usd", 0.0) * cost_usd
    return out


def offer_resources(catalog: Catalog, limits: Limits) -> np.ndarray:
    """Per catalog offer, which resources (limits) it holds: a bool matrix, one column per
    resource of ``resources(limits)``."""
    import numpy as np

    cols = catalog.columns
    n_offers = cols.offer_region.size
    out = np.zeros((n_offers, len(limits.accelerators) + len(limits.provider_accelerators)),
                   dtype=bool)
    for i, (provider, region, name) in enumerate(limits.accelerators):
        r = catalog.region_index[(provider, region)]
        acc_ok = np.array([covers(name, a) for a in catalog.accelerators], dtype=bool)
        out[:, i] = (cols.offer_region == r) & acc_ok[cols.offer_accelerator]
    of_provider = np.array([r.provider for r in catalog.regions])
    for k, provider in enumerate(limits.provider_accelerators, len(limits.accelerators)):
        out[:, k] = of_provider[cols.offer_region] == provider
    return out


def _offers(plan: Plan, offer_res: np.ndarray, n_res: int, apart: bool,
            budget_usd: float | None, weigh: Mapping[str, float], timed: bool
            ) -> dict[str, np.ndarray]:
    """A job's feasible offers with their footprint, less the dominated ones (any start:
    two offers compared at the same start hour)."""
    import numpy as np

    cols, f = plan.catalog.columns, plan.figures
    rows = np.sort(plan.ranking.rows)
    priced = ~np.isnan(f.cost_usd[rows])
    if budget_usd is not None or weigh.get("usd"):
        rows, priced = rows[priced], priced[priced]  # an unknown cost cannot be held to one
    usd = cost_ranked(f.cost_usd[rows])
    hours = f.hours[rows]
    count = (f.instances[rows] * cols.per_instance[rows]).astype(np.int64)
    region = cols.offer_region[rows].astype(np.int64)
    held = held_hours(hours)
    holds = offer_res[rows][:, :n_res]
    if apart:  # an apart job also holds its region
        n_regions = len(plan.catalog.regions)
        holds = np.hstack([holds, np.eye(n_regions, dtype=bool)[region]])
    p = primary(f.co2e_kg[rows], usd, weigh)
    used = holds.any(axis=0)
    s = holds[:, used].astype(np.int32)
    subset = (s @ (1 - s).T) == 0  # [a, b]: a holds no limit b does not
    le = (subset & (count[:, None] <= count[None, :]) & (held[:, None] <= held[None, :])
          & _lex_le((p, usd, hours)))
    if budget_usd is not None:
        le &= usd[:, None] <= usd[None, :]
    if timed:  # a deadline: the dominating offer must finish no later from any start
        le &= hours[:, None] <= hours[None, :]
    keep = ~_dominated(le)
    return {"row": rows[keep], "hours": hours[keep], "held": held[keep], "count": count[keep],
            "co2": f.co2e_kg[rows][keep], "usd": usd[keep], "priced": priced[keep],
            "region": region[keep], "p": p[keep],
            "resources": holds[keep][:, :n_res], "free": ~holds[keep].any(axis=1)}


def _lex_le(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """[a, b]: a's keys are lexicographically no greater than b's."""
    import numpy as np

    out = np.ones((keys[0].size, keys[0].size), dtype=bool)
    for key in reversed(keys):
        a, b = key[:, None], key[None, :]
        out = (a < b) | ((a == b) & out)
    return out


def _dominated(le: np.ndarray) -> np.ndarray:
    """Which items another dominates (``le[a, b]``: a is no worse than b in every way);
    of items equal both ways, the first is kept."""
    import numpy as np

    n = le.shape[0]
    index = np.arange(n)
    strict = le & (~le.T | (index[:, None] < index[None, :]))
    np.fill_diagonal(strict, False)
    found: np.ndarray = strict.any(axis=0)
    return found


def _expand(offers: dict[str, np.ndarray], first: int, slots: int, deadline_h: float,
            allow_late: bool, budget: bool) -> dict[str, np.ndarray]:
    """The offers at each start hour ``first`` .. ``first + slots - 1`` that finishes by
    the deadline (all, with their lateness, when ``allow_late``); an offer under no limit at
    its earliest such start only; then the limited candidates an unlimited one dominates
    are dropped."""
    import numpy as np

    n = offers["row"].size
    starts = first + np.arange(slots)
    finish = starts[None, :] + offers["hours"][:, None]  # offers x slots
    ok = np.ones_like(finish, dtype=bool) if allow_late else finish <= deadline_h + 1e-9
    free = offers["free"]
    earliest = np.zeros_like(ok)
    earliest[np.arange(n), np.argmax(ok, axis=1)] = True
    ok &= np.where(free[:, None], earliest & ok, True)
    o, k = np.nonzero(ok)
    out = {key: value[o] for key, value in offers.items()}
    out["start"] = starts[k].astype(np.int64)
    out["finish"] = out["start"] + out["hours"]
    out["late"] = np.maximum(0.0, out["finish"] - deadline_h)
    unlimited = np.flatnonzero(out["free"])
    if unlimited.size and (~out["free"]).any():
        beaten = np.zeros(out["row"].size, dtype=bool)
        for u in unlimited.tolist():
            le = _lex_pair((out["p"][u], out["usd"][u], out["finish"][u]),
                           (out["p"], out["usd"], out["finish"]))
            if budget:
                le &= out["usd"][u] <= out["usd"]
            if allow_late:
                le &= out["late"][u] <= out["late"]
            beaten |= le & ~out["free"]
        out = {key: value[~beaten] for key, value in out.items()}
    return out


def _lex_pair(a: tuple[float, ...], b: tuple[np.ndarray, ...]) -> np.ndarray:
    import numpy as np

    out = np.ones(b[0].size, dtype=bool)
    for x, y in zip(reversed(a), reversed(b), strict=True):
        out = (x < y) | ((x == y) & out)
    return out
