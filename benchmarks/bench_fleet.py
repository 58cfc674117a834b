"""How fast and how well greenml places a fleet: 10, 100 and 1,000 jobs on the embedded
catalog, 24 hourly start slots each, quotas at a fraction of what the jobs' own best options
would hold at once.

Prints, per size: time to plan the jobs and build the program, solve time, status and gap,
candidates kept by the exact pruning, and kg CO2e against greedy (in the given order) and
against each job's own best (no limits). ``--solvers`` also measures import + build + solve
of the same first-stage program with ``scipy.optimize.milp`` against ``highspy`` (30 s
each at most).

Run on demand: ``python benchmarks/bench_fleet.py [--sizes 10,100,1000] [--fraction 0.25]
[--solvers]``.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import greenml
from greenml.fleet.planning import plan_fleet

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
KINDS = [("A100", (1, 2, 4, 8, 16)), ("H100", (8, 16, 32)), ("L4", (1, 2, 4, 8)),
         ("T4", (1, 4)), ("V100", (1, 4, 8)), ("A10G", (1, 4))]


def fleet(n: int, seed: int = 7) -> dict[str, greenml.Job]:
    """``n`` jobs: mostly fine-tuning runs (2-24 h), some pre-training (48-96 h); a third
    with a window (a start within 12 h, a deadline 12-48 h after the run could end)."""
    rng = random.Random(seed)
    jobs = {}
    for i in range(n):
        accelerator, counts = rng.choice(KINDS)
        hours = rng.choice((48, 72, 96)) if rng.random() < 0.1 else rng.randint(2, 24)
        window: dict[str, datetime] = {}
        if rng.random() < 1 / 3:
            start = NOW + timedelta(hours=rng.randint(0, 12))
            window = {"earliest_start": start,
                      "deadline": start + timedelta(hours=hours + rng.randint(12, 48))}
        jobs[f"job-{i + 1}"] = greenml.Job(accelerator=accelerator, count=rng.choice(counts),
                                           hours=hours, **window)
    return jobs


def quotas(jobs: dict[str, greenml.Job], fraction: float) -> dict[str, dict[str, int]]:
    """A quota on every (provider, region, family) the jobs' own best options use, at
    ``fraction`` of the accelerators they would hold there at once (at least the largest
    single job there, so every job still fits somewhere)."""
    alone = plan_fleet(jobs, now=NOW, time_limit_s=60)
    demand: dict[str, int] = {}
    largest: dict[str, int] = {}
    for p in alone.placements:
        key = f"{p.provider}/{p.region}/{p.option.accelerator.family}"
        demand[key] = demand.get(key, 0) + p.accelerators
        largest[key] = max(largest.get(key, 0), p.accelerators)
    return {"accelerators": {k: max(largest[k], int(v * fraction)) for k, v in demand.items()}}


def measure(n: int, fraction: float, time_limit_s: float) -> None:
    jobs = fleet(n)
    limits = quotas(jobs, fraction)
    began = time.perf_counter()
    result = plan_fleet(jobs, limits=limits, now=NOW, time_limit_s=time_limit_s)
    total = time.perf_counter() - began
    s = result.solver
    own, greedy = result.comparison("own best"), result.comparison("greedy")
    gap = "n/a" if s.gap is None else f"{s.gap:.3%}"
    greedy_text = (f"{greedy.co2e_kg:,.1f}" if greedy.complete
                   else f"{greedy.co2e_kg:,.1f} ({greedy.jobs - greedy.placed} unplaced)")
    print(f"{n:>5} jobs  {len(limits['accelerators']):>3} quotas  total {total:6.2f} s  "
          f"(plans+build {s.build_s:5.2f} s, solve {s.solve_s:5.2f} s)  {s.status:<10} "
          f"gap {gap:>7}  candidates {s.candidates:>7,} of {s.considered:>9,}  rows "
          f"{s.rows:>6,}  stages {'+'.join(s.stages)}")
    print(f"{'':>11}kg CO2e: fleet {result.co2e_kg:,.1f}  greedy {greedy_text}  own best "
          f"{own.co2e_kg:,.1f}  (limits cost {result.co2e_kg - own.co2e_kg:,.1f} kg, "
          f"greedy {greedy.co2e_kg - result.co2e_kg:+,.1f} kg over the fleet)")


SOLVERS = """
import sys, time
began = time.perf_counter()
if sys.argv[1] == "highspy":
    import highspy
else:
    from scipy.optimize import milp, LinearConstraint, Bounds
    from scipy.sparse import csc_array
imported = time.perf_counter() - began
import numpy as np
data = np.load(sys.argv[2])
began = time.perf_counter()
c, lo, hi, start, index, value = (data[k] for k in ("c", "lo", "hi", "start", "index", "value"))
n, m = c.size, lo.size
if sys.argv[1] == "highspy":
    h = highspy.Highs(); h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-6); h.setOptionValue("time_limit", 30.0)
    lp = highspy.HighsLp(); lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = c, np.zeros(n), np.ones(n)
    lp.row_lower_, lp.row_upper_ = lo, hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = start, index, value
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    built = time.perf_counter() - began; began = time.perf_counter()
    h.run(); objective = h.getInfo().objective_function_value
else:
    A = csc_array((value, index, start), shape=(m, n))
    constraints = LinearConstraint(A, lo, hi)
    built = time.perf_counter() - began; began = time.perf_counter()
    r = milp(c, constraints=constraints, integrality=np.ones(n), bounds=Bounds(0, 1),
             options={"mip_rel_gap": 1e-6, "time_limit": 30.0})
    objective = r.fun if r.fun is not None else float("nan")
print(f"{imported:.3f} {built:.3f} {time.perf_counter() - began:.3f} {objective:.6f}")
"""


def compare_solvers(n: int, fraction: float) -> None:
    """Import, build and first-stage solve of one program by each interface, in fresh
    processes (the import is part of what a user waits for)."""
    import tempfile

    import numpy as np

    from greenml.fleet import candidates, milp
    from greenml.fleet.limits import Limits
    from greenml.fleet.planning import _plans, parse_weigh

    jobs = fleet(n)
    catalog = greenml.default_catalog()
    limits = Limits.parse(quotas(jobs, fraction)).checked(catalog, list(jobs))
    weigh = parse_weigh(None)
    plans = _plans(jobs, catalog, greenml.registry.default(), "jobs")
    c = candidates.build(list(jobs), list(jobs.values()), plans, limits, None, weigh,
                         candidates.horizon_start(NOW))
    p = milp.build(c, candidates.primary(c.co2e_kg, c.cost_usd, weigh), None)
    start, index, value = p.csc()
    with tempfile.NamedTemporaryFile(suffix=".npz") as f:
        np.savez(f.name, c=np.concatenate(p.cost), lo=np.array(p.row_lower),
                 hi=np.array(p.row_upper), start=start, index=index, value=value)
        for name in ("highspy", "scipy"):
            out = subprocess.run([sys.executable, "-c", SOLVERS, name, f.name],
                                 capture_output=True, text=True, check=True).stdout.split()
            imported, built, solved, objective = (float(v) for v in out[-4:])
            print(f"{n:>5} jobs  {name:<8} import {imported:.3f} s  build {built:.3f} s  "
                  f"solve {solved:.3f} s  objective {objective:,.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--fraction", type=float, default=0.25)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--solvers", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"quotas at {args.fraction:.0%} of the own-best demand; 24 start slots per job")
    for n in sizes:
        measure(n, args.fraction, args.time_limit)
    if args.solvers:
        for n in sizes:
            compare_solvers(n, args.fraction)


if __name__ == "__main__":
    main()
