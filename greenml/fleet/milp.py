"""The placement as a mixed-integer program, solved by HiGHS through ``highspy``.

One binary per candidate (job, offer, start hour); each job takes exactly one. A limit on
concurrent accelerators is a row per hour at which some holder starts: the load on a quota
peaks at the start of some interval, so checking those hours checks every hour. A row no
choice of candidates can overfill is left out. The budget and apart-groups are rows too.

The objective is lexicographic, solved in stages as the user reads it: the least objective
(kg CO2e, or the weighted sum), then among those the least USD, then the earliest finishes,
each stage holding the one before to its optimum. ``highspy`` was measured against
``scipy.optimize.milp`` (the same HiGHS): importing it is ~5x lighter, and it keeps the model
between the stages, where ``milp`` would rebuild it (benchmarks/bench_fleet.py).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import SolverMissing

if TYPE_CHECKING:
    import numpy as np

    from greenml.fleet.candidates import Candidates

#: The relative gap at which HiGHS calls a placement optimal.
GAP = 1e-6
#: The most of the time limit one tie-break stage (USD, finish) may take.
TIE_SHARE = 0.25


@attrs.frozen
class SolverReport:
    """How the placement was found: the solver, its status, the objective it reached, the
    best bound it proved and the relative gap between them (0: proven optimal), the time
    to build and to solve, and how many candidates pruning kept of those considered."""

    solver: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    build_s: float
    solve_s: float
    candidates: int
    considered: int
    rows: int
    stages: tuple[str, ...] = ()
    warm_start: str = ""

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "optimal": self.optimal}


@attrs.define(eq=False)
class Program:
    """A MIP as triplets, before it is handed to the solver: minimise ``cost`` . x subject
    to ``row_lower <= A x <= row_upper``, ``0 <= x <= col_upper``, integers where
    ``integer``. ``limit_rows`` names the rows of each limit (``resource:3``, ``budget``,
    ``apart:0``) so that the slack program can loosen them."""

    n_rows: int = 0
    rows: list[np.ndarray] = attrs.field(factory=list)
    cols: list[np.ndarray] = attrs.field(factory=list)
    values: list[np.ndarray] = attrs.field(factory=list)
    row_lower: list[float] = attrs.field(factory=list)
    row_upper: list[float] = attrs.field(factory=list)
    cost: list[np.ndarray] = attrs.field(factory=list)
    col_upper: list[np.ndarray] = attrs.field(factory=list)
    integer: list[np.ndarray] = attrs.field(factory=list)
    limit_rows: dict[str, list[int]] = attrs.field(factory=dict)

    @property
    def n_cols(self) -> int:
        return sum(c.size for c in self.cost)

    def add_cols(self, cost: np.ndarray, upper: np.ndarray, integer: bool) -> int:
        """Columns appended; returns the first one's index."""
        import numpy as np

        first = self.n_cols
        self.cost.append(np.asarray(cost, dtype=np.float64))
        self.col_upper.append(np.asarray(upper, dtype=np.float64))
        self.integer.append(np.full(len(cost), integer, dtype=bool))
        return first

    def add_rows(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                 lower: list[float], upper: list[float], limit: str = "") -> list[int]:
        """Rows appended: ``rows`` index them from 0 here; returns their indexes."""
        import numpy as np

        first = self.n_rows
        self.rows.append(np.asarray(rows, dtype=np.int64) + first)
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.values.append(np.asarray(values, dtype=np.float64))
        self.row_lower += lower
        self.row_upper += upper
        self.n_rows += len(lower)
        made = list(range(first, self.n_rows))
        if limit:
            self.limit_rows.setdefault(limit, []).extend(made)
        return made

    def add_entries(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Coefficients added to rows and columns that exist already."""
        import numpy as np

        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.values.append(np.asarray(values, dtype=np.float64))

    def csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The matrix by columns: (start, index, value)."""
        import numpy as np

        rows, cols = np.concatenate(self.rows), np.concatenate(self.cols)
        values = np.concatenate(self.values)
        order = np.lexsort((rows, cols))
        start = np.searchsorted(cols[order], np.arange(self.n_cols + 1))
        return start, rows[order], values[order]


def build(c: Candidates, objective: np.ndarray, budget_usd: float | None) -> Program:
    """The program over candidates ``c``: the objective per candidate, one choice per job,
    every limit at every hour it can bind, the budget and the apart-groups."""
    import numpy as np

    n = c.size
    p = Program()
    p.add_cols(objective, np.ones(n), integer=True)
    n_jobs = len(c.names)
    p.add_rows(c.job, np.arange(n), np.ones(n), [1.0] * n_jobs, [1.0] * n_jobs)
    for r, resource in enumerate(c.resources):
        rows, cols, values = _hourly(c, c.members[r])
        kept = _can_overfill(rows, c.job[cols], values, resource.capacity)
        if kept.size:
            remap = np.full(int(rows.max()) + 1, -1)
            remap[kept] = np.arange(kept.size)
            use = remap[rows] >= 0
            p.add_rows(remap[rows[use]], cols[use], values[use], [-math.inf] * kept.size,
                       [float(resource.capacity)] * kept.size, limit=f"resource:{r}")
    if budget_usd is not None and _most_per_job(c.job, c.cost_usd) > budget_usd:
        p.add_rows(np.zeros(n, dtype=np.int64), np.arange(n), c.cost_usd, [-math.inf],
                   [budget_usd], limit="budget")
    for g, group in enumerate(_apart_groups(c)):
        for region_rows in group:
            p.add_rows(np.zeros(region_rows.size, dtype=np.int64), region_rows,
                       np.ones(region_rows.size), [-math.inf], [1.0], limit=f"apart:{g}")
    return p


def _hourly(c: Candidates, holders: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triplets of a limit's hourly rows: row k checks the k-th distinct start hour among
    ``holders``, and holds every holder running then."""
    import numpy as np

    if holders.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    start, end = c.start_h[holders], c.start_h[holders] + c.held_h[holders]
    checks = np.unique(start)
    lo, hi = np.searchsorted(checks, start), np.searchsorted(checks, end)
    span = hi - lo
    cols = np.repeat(holders, span)
    rows = np.repeat(lo, span) + (np.arange(span.sum()) - np.repeat(np.cumsum(span) - span,
                                                                    span))
    return rows, cols, c.accelerators[cols].astype(np.float64)


def _can_overfill(rows: np.ndarray, jobs: np.ndarray, values: np.ndarray, capacity: int
                  ) -> np.ndarray:
    """The rows whose load can exceed ``capacity``: the sum over jobs of each job's largest
    entry in the row (a job takes one candidate)."""
    import numpy as np

    if rows.size == 0:
        return rows
    keys, inverse = np.unique(rows * (int(jobs.max()) + 1) + jobs, return_inverse=True)
    most = np.zeros(keys.size)
    np.maximum.at(most, inverse, values)
    load = np.bincount(keys // (int(jobs.max()) + 1), weights=most)
    found: np.ndarray = np.flatnonzero(load > capacity + 1e-9)
    return found


def _most_per_job(jobs: np.ndarray, values: np.ndarray) -> float:
    import numpy as np

    most = np.full(int(jobs.max()) + 1, -np.inf)
    np.maximum.at(most, jobs, values)
    return float(most[np.isfinite(most)].sum())


def _apart_groups(c: Candidates) -> list[list[np.ndarray]]:
    """Per apart-group, per region two or more of its jobs could use: those candidates."""
    import numpy as np

    out = []
    for group in c.apart:
        jobs = np.array([c.names.index(n) for n in group])
        mine = np.flatnonzero(np.isin(c.job, jobs))
        per_region = []
        for region in np.unique(c.region[mine]).tolist():
            here = mine[c.region[mine] == region]
            if np.unique(c.job[here]).size > 1:
                per_region.append(here)
        out.append(per_region)
    return out


@attrs.define(eq=False)
class Solved:
    """What a run of the solver gave: the chosen candidates (None: no solution), and the
    report of the first stage."""

    x: np.ndarray | None
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    stages: tuple[str, ...] = ()


def highs() -> Any:
    """The ``highspy`` module, or SolverMissing saying how to install it."""
    try:
        import highspy
    except ImportError as exc:
        raise SolverMissing(str(exc)) from None
    return highspy


_announced = False


def _new(hs: Any) -> Any:
    """A Highs object. The first one prints HiGHS's banner on the C stdout, which would
    break ``--json``; it is made with file descriptor 1 pointed at the null device (the
    banner is printed once per process)."""
    global _announced
    if _announced:
        return hs.Highs()
    import contextlib
    import ctypes
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = hs.Highs()
            with contextlib.suppress(OSError, AttributeError, TypeError):  # no C library
                ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _announced = True
    return h


def solver_name() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"HiGHS {version('highspy')} (highspy)"
    except PackageNotFoundError:
        return "HiGHS (highspy)"


def solve(p: Program, time_limit_s: float, tie_breaks: tuple[tuple[str, np.ndarray], ...] = (),
          warm: np.ndarray | None = None) -> Solved:
    """Minimise ``p``'s cost, then each tie-break in turn with the stages before held at
    their optimum, within ``time_limit_s`` in all (a tie-break at most ``TIE_SHARE`` of
    it: past that its best placement is kept, still optimal for the stages before, and
    the stage is marked unproven). ``warm`` (a feasible placement) is the answer when the
    solver finds none in its time."""
    import numpy as np

    hs = highs()
    began = time.perf_counter()
    h = _new(hs)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", GAP)
    h.setOptionValue("random_seed", 0)
    lp = hs.HighsLp()
    n = p.n_cols
    lp.num_col_, lp.num_row_ = n, p.n_rows
    lp.col_cost_ = np.concatenate(p.cost)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.concatenate(p.col_upper)
    lp.row_lower_ = np.array(p.row_lower, dtype=np.float64)
    lp.row_upper_ = np.array(p.row_upper, dtype=np.float64)
    start, index, value = p.csc()
    lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = start, index, value
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, p.n_rows
    integer = np.concatenate(p.integer)
    lp.integrality_ = [hs.HighsVarType.kInteger if i else hs.HighsVarType.kContinuous
                       for i in integer.tolist()]
    h.passModel(lp)
    # No warm start is handed to HiGHS: with highspy 1.16 a start set by setSolution came
    # back as "optimal" with an objective below the proven bound. ``warm`` (greedy) is the
    # answer only when the solver finds no placement in its time.
    status, objective, bound, mip_gap, x = _run(h, hs, time_limit_s)
    if x is not None and not _satisfies(p, start, index, value, integer, x):
        x = None
    if x is None and warm is not None and status != "infeasible" and _satisfies(
            p, start, index, value, integer, warm):
        x, objective = warm, float(lp.col_cost_ @ warm)
        status = f"{status} (greedy)"
        mip_gap = None if bound is None else (objective - bound) / max(abs(objective), 1e-9)
    stages: tuple[str, ...] = ("objective",)
    first = (status, objective, bound, mip_gap)
    previous = lp.col_cost_
    held_rows: list[tuple[np.ndarray, float]] = []
    for name, costs in tie_breaks:
        left = time_limit_s - (time.perf_counter() - began)
        if x is None or status != "optimal" or left <= 0.05:
            break
        held = float(previous @ x)
        held_rows.append((previous, held + 1e-7 * max(1.0, abs(held))))
        nz = np.flatnonzero(previous)
        h.addRow(-np.inf, held_rows[-1][1], nz.size, nz.astype(np.int32), previous[nz])
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(costs, dtype=np.float64))
        got = _run(h, hs, min(left, max(1.0, TIE_SHARE * time_limit_s)))
        # a stage stopped early may hand back a point that is not a placement: keep ours
        if got[4] is None or not _satisfies(p, start, index, value, integer, got[4]) or any(
                float(row @ got[4]) > most + 1e-6 * max(1.0, abs(most))
                for row, most in held_rows):
            break
        # an unproven tie-break keeps the stages before it optimal: say so, keep going
        label = name if got[0] == "optimal" else f"{name} ({got[0]})"
        x, previous, stages = got[4], np.asarray(costs, dtype=np.float64), (*stages, label)
        if got[0] != "optimal":
            break
    return Solved(x, first[0], first[1], first[2], first[3], time.perf_counter() - began,
                  stages)


def _satisfies(p: Program, start: np.ndarray, index: np.ndarray, value: np.ndarray,
               integer: np.ndarray, x: np.ndarray) -> bool:
    """Whether ``x`` is a placement: integral where it must be, every row within bounds."""
    import numpy as np

    if x.size != p.n_cols or np.abs(x[integer] - np.round(x[integer])).max(initial=0) > 1e-6:
        return False
    load = np.zeros(p.n_rows)
    np.add.at(load, index, value * np.repeat(x, np.diff(start)))
    lower, upper = np.array(p.row_lower), np.array(p.row_upper)
    tolerance = 1e-6 * np.maximum(1.0, np.abs(upper[np.isfinite(upper)]))
    return bool((load >= lower - 1e-6).all()
                and (load[np.isfinite(upper)] <= upper[np.isfinite(upper)] + tolerance).all())


def _run(h: Any, hs: Any, time_limit_s: float
         ) -> tuple[str, float | None, float | None, float | None, np.ndarray | None]:
    import numpy as np

    h.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
    h.run()
    model_status = h.getModelStatus()
    status = {
        hs.HighsModelStatus.kOptimal: "optimal",
        hs.HighsModelStatus.kInfeasible: "infeasible",
        hs.HighsModelStatus.kTimeLimit: "time limit",
        hs.HighsModelStatus.kInterrupt: "interrupted",
    }.get(model_status, h.modelStatusToString(model_status))
    info = h.getInfo()
    solution = h.getSolution()
    has = bool(solution.value_valid) and status in ("optimal", "time limit", "interrupted")
    x = np.array(solution.col_value) if has else None
    if x is None:
        return status, None, None, None, None
    bound = float(info.mip_dual_bound)
    objective = float(info.objective_function_value)
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
    return status, objective, bound if np.isfinite(bound) else None, gap, x

