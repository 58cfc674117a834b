"""``plan_fleet``: plan each job alone, turn the plans into candidates, solve, explain.

Each job is planned by the single-job planner without its time window (with annual
intensities the hour changes no figure, only which hours a quota is held); the fleet then
gives it a start. Identical jobs share one plan. The solver is imported here, when a fleet
is planned, never by ``import greenml`` or ``greenml.plan``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import FleetInfeasible, InputError, NoFeasibleOption, closest
from greenml.fleet import candidates as cands
from greenml.fleet import compare, milp
from greenml.fleet.jobs import JobFile, named
from greenml.fleet.jobs import budget_usd as checked_budget
from greenml.fleet.limits import Limits
from greenml.fleet.result import Fleet, Placement, use_over_time

if TYPE_CHECKING:
    from datetime import datetime

    from greenml.catalog import Catalog
    from greenml.job import Job
    from greenml.plan.result import Plan
    from greenml.registry import Registry

#: What ``weigh`` may name: kg CO2e and USD.
WEIGHTS = ("co2", "usd")


def plan_fleet(
    jobs: Any,
    limits: Limits | Mapping[str, Any] | None = None,
    budget_usd: float | None = None,
    weigh: Mapping[str, float] | str | None = None,
    catalog: Catalog | None = None,
    registry: Registry | None = None,
    time_limit_s: float = 30.0,
    start_slots: int = 24,
    now: datetime | None = None,
) -> Fleet:
    """Place every job at once for the least total kg CO2e under the limits.

    ``jobs`` is a mapping of names to ``greenml.Job``, (name, Job) pairs, Jobs alone, or a
    job file read by ``greenml.fleet.read_jobs`` (whose limits and budget apply unless
    given here). ``limits`` holds concurrent-accelerator quotas per (provider, region,
    family) and per provider, and apart-groups (``greenml.fleet.limits.Limits``);
    ``budget_usd`` caps the fleet's total cost. Each job keeps its own constraints and
    starts on one of ``start_slots`` whole hours from its earliest start (hour 0 is the
    first whole hour after ``now``), finishing by its deadline.

    The objective is kg CO2e, or ``weigh`` (``{"co2": 1, "usd": 0.1}``, or the text
    ``"co2=1,usd=0.1"``); ties go to the cheaper placement, then the earlier finishes.
    The program is solved by HiGHS within ``time_limit_s``; ``Fleet.solver`` reports the
    status, the objective, the bound and the gap.

    Raises InputError for a bad job, limit or weight (naming it), SolverMissing without
    the ``fleet`` extra, and FleetInfeasible, naming the fewest limits or deadlines to move
    and by how much, when no placement meets them all.
    """
    milp.highs()  # the missing extra is said before any planning
    began = time.perf_counter()
    where = jobs.source if isinstance(jobs, JobFile) else "jobs"
    if isinstance(jobs, JobFile):
        limits = jobs.limits if limits is None else limits
        budget_usd = jobs.budget_usd if budget_usd is None else budget_usd
    by_name = named(jobs, where)
    weights = parse_weigh(weigh)
    budget = checked_budget(budget_usd)
    _check_numbers(time_limit_s, start_slots)
    if registry is None:
        from greenml.registry import default

        registry = default()
    catalog = catalog if catalog is not None else registry.catalog
    names = list(by_name)
    checked = Limits.parse(limits).checked(catalog, names, f"{where}: limits"
                                          if isinstance(jobs, JobFile) else "limits")
    plans = _plans(by_name, catalog, registry, where)
    t0 = cands.horizon_start(now)
    job_list = [by_name[n] for n in names]
    c = cands.build(names, job_list, plans, checked, budget, weights, t0, start_slots)
    _check_windows(c, where)
    objective = cands.primary(c.co2e_kg, c.cost_usd, weights)
    own = compare.own_best(c, objective)
    greedy = compare.greedy(c, objective, budget)
    program = milp.build(c, objective, budget)
    build_s = time.perf_counter() - began
    warm = compare.x_of(c, greedy) if (greedy >= 0).all() else None
    solved = milp.solve(program, time_limit_s, (("usd", c.cost_usd), ("finish", c.finish_h)),
                        warm)
    if solved.x is None:
        raise _infeasible(names, job_list, plans, checked, budget, weights, t0, start_slots,
                          time_limit_s, solved.status)
    import numpy as np

    chosen = np.flatnonzero(solved.x[:c.size] > 0.5)
    chosen = chosen[np.argsort(c.job[chosen], kind="stable")]
    placements = tuple(_placement(c, int(k)) for k in chosen)
    report = milp.SolverReport(
        milp.solver_name(), solved.status, solved.objective, solved.bound,
        _gap(solved), build_s, solved.seconds, c.size, c.considered, program.n_rows,
        solved.stages, "greedy (the answer if the solver finds none in time)"
        if warm is not None else "")
    baseline = sum(p.baseline.co2e_kg for p in c.plans)
    comparisons = (
        compare.totals(c, own, "own best", "each job's own best, ignoring limits"),
        compare.totals(c, greedy, "greedy", "greedy in the given order"),
        compare.Comparison("baseline", "the same jobs in an average US datacenter "
                           "(Patterson et al. 2021)", baseline, None, len(names), len(names)),
    )
    return Fleet(placements, checked, budget, weights, t0,
                 use_over_time(placements, checked, t0), comparisons, report,
                 dict(zip(names, plans, strict=True)),
                 dict(jobs.runs) if isinstance(jobs, JobFile) else {})


def parse_weigh(weigh: Mapping[str, float] | str | None) -> dict[str, float]:
    """``{"co2": 1, "usd": 0.1}`` or ``"co2=1,usd=0.1"``: non-negative weights per kg CO2e
    and per USD, not all zero (default: kg CO2e alone)."""
    if weigh is None:
        return {"co2": 1.0}
    pairs: list[tuple[Any, Any]] = []
    if isinstance(weigh, str):
        for part in weigh.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise InputError("weigh", f"expected NAME=NUMBER pairs such as co2=1,usd=0.1, "
                                 f"got {part.strip()!r}")
            try:
                pairs.append((key.strip(), float(value)))
            except ValueError:
                raise InputError("weigh", f"{key.strip()}: not a number: {value.strip()!r}"
                                 ) from None
    elif isinstance(weigh, Mapping):
        pairs = list(weigh.items())
    else:
        raise InputError("weigh", f"must be a mapping such as {{'co2': 1, 'usd': 0.1}}, got "
                         f"{weigh!r}")
    out: dict[str, float] = {}
    for key, value in pairs:
        if key not in WEIGHTS:
            raise InputError("weigh", f"unknown weight {key!r}; accepted: "
                             f"{', '.join(WEIGHTS)}", closest(str(key), WEIGHTS))
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise InputError("weigh", f"{key}: must be a number, 0 or more, got {value!r}")
        out[key] = float(value)
    if not any(out.values()):
        raise InputError("weigh", "give at least one weight above 0")
    return out


def _check_numbers(time_limit_s: Any, start_slots: Any) -> None:
    if (isinstance(time_limit_s, bool) or not isinstance(time_limit_s, (int, float))
            or not math.isfinite(time_limit_s) or time_limit_s <= 0):
        raise InputError("time_limit_s", f"must be a positive number of seconds, got "
                         f"{time_limit_s!r}")
    if isinstance(start_slots, bool) or not isinstance(start_slots, int) or start_slots < 1:
        raise InputError("start_slots", f"must be a whole number of hours, 1 or more, got "
                         f"{start_slots!r}")


def _plans(by_name: Mapping[str, Job], catalog: Catalog, registry: Registry,
           where: str) -> list[Plan]:
    """Each job's single-job plan, without its window; identical jobs share one."""
    from greenml.plan.compute import compute

    made: dict[Job, Plan] = {}
    out = []
    for name, job in by_name.items():
        alone = attrs.evolve(job, earliest_start=None, deadline=None, interruptible=False)
        if alone not in made:
            try:
                made[alone] = compute(alone, catalog=catalog, registry=registry, notify=False)
            except NoFeasibleOption as exc:
                raise InputError(f"{where}: job {name!r}", f"no option can serve it: {exc}"
                                 ) from None
            except InputError as exc:
                raise InputError(f"{where}: job {name!r}: {exc.field}",
                                 str(exc).partition(": ")[2].split(" (did you mean")[0],
                                 exc.suggestions) from None
        out.append(made[alone])
    return out


def _check_windows(c: cands.Candidates, where: str) -> None:
    """A job left with no candidate could not finish by its deadline on any option even
    alone: that is the job's own input, not a limit's."""
    import numpy as np

    counts = np.bincount(c.job, minlength=len(c.names))
    for j in np.flatnonzero(counts == 0).tolist():
        job, plan = c.jobs[j], c.plans[j]
        fastest = float(np.nanmin(plan.figures.hours[plan.ranking.rows]))
        start = c.t0 if job.earliest_start is None else max(c.t0, job.earliest_start)
        window = (job.deadline - start).total_seconds() / 3600 if job.deadline else math.inf
        raise InputError(f"{where}: job {c.names[j]!r}: deadline",
                         f"no option finishes in time: the fastest takes {fastest:,.1f} h and "
                         f"the window from its first whole-hour start is {window:,.1f} h; "
                         "accepted: a deadline at least that far after the start")


def _placement(c: cands.Candidates, k: int) -> Placement:
    from datetime import timedelta

    import numpy as np

    plan = c.plans[int(c.job[k])]
    row = int(c.row[k])
    position = int(plan.ranking.positions(np.array([row]))[0])
    start = c.t0 + timedelta(hours=int(c.start_h[k]))
    return Placement(c.names[int(c.job[k])], c.jobs[int(c.job[k])], plan.option(position + 1),
                     start, start + timedelta(hours=float(c.hours[k])),
                     int(c.accelerators[k]))


def _gap(solved: milp.Solved) -> float | None:
    if solved.status == "optimal" and solved.gap is not None:
        return max(0.0, solved.gap)
    return solved.gap


def _infeasible(names: list[str], jobs: list[Job], plans: list[Plan], limits: Limits,
                budget: float | None, weights: dict[str, float], t0: datetime,
                start_slots: int, time_limit_s: float, status: str) -> FleetInfeasible:
    from greenml.fleet import relax

    if status != "infeasible":
        return FleetInfeasible(f"no placement found within time_limit_s={time_limit_s:g} "
                               f"(solver: {status}); give the solver more time")
    late = cands.build(names, jobs, plans, limits, budget, weights, t0, start_slots,
                       allow_late=True)
    moves = relax.explain(late, budget, time_limit_s)
    return FleetInfeasible("no placement meets every limit and deadline", moves)
