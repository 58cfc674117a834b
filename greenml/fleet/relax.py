"""Why no placement exists: the fewest limits, deadlines or groups to move, and by how much.

"Infeasible" tells a team nothing it can act on. The same program is solved again with a
slack on every limit (how many accelerators over the quota), on the budget (USD over), on
every apart-group (how many jobs over one per region) and on every deadline (starts past
it are allowed, at their lateness); each slack used switches on a binary that costs far more
than any amount, so the solver finds the smallest set of things to move first, then the
smallest moves. The answer reads: raise this quota from 16 to 24, or move that deadline 5 h.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from greenml.fleet import milp

if TYPE_CHECKING:

    from greenml.fleet.candidates import Candidates

#: What one more thing to move costs, against amounts that are each at most about 1.
PER_MOVE = 1000.0


@attrs.frozen
class Move:
    """One limit to change: ``kind`` is ``limit`` (a region's quota), ``provider limit``,
    ``budget``, ``deadline`` or ``apart``; ``current`` and ``needed`` are in ``unit``."""

    kind: str
    name: str
    current: float
    needed: float
    unit: str

    @property
    def by(self) -> float:
        return self.needed - self.current

    def describe(self) -> str:
        if self.kind == "deadline":
            return (f"move the deadline of job {self.name!r} later by {self.by:,.1f} h")
        if self.kind == "apart":
            return f"let {self.name} share a region ({self.by:,.0f} more job(s) per region)"
        if self.kind == "budget":
            return (f"raise budget_usd from {self.current:,.0f} to {self.needed:,.0f} "
                    f"(+{self.by:,.0f})")
        return (f"raise the {self.kind} {self.name} from {self.current:,.0f} to "
                f"{self.needed:,.0f} {self.unit} (+{self.by:,.0f})")

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "by": self.by, "text": self.describe()}


def explain(c: Candidates, budget_usd: float | None, time_limit_s: float
            ) -> tuple[Move, ...]:
    """The fewest moves that make a fleet over candidates ``c`` (built with late starts
    allowed) feasible; empty if the solver found none in time."""
    import numpy as np

    n = c.size
    p = milp.build(c, np.zeros(n), budget_usd)
    slacks: list[tuple[str, int, int, float, float]] = []  # (limit, e, z, current, scale)
    for name, rows in p.limit_rows.items():
        kind, _, index = name.partition(":")
        if kind == "resource":
            current = float(c.resources[int(index)].capacity)
            most = float(c.accelerators.max()) * len(c.names)
        elif kind == "budget":
            current = float(budget_usd or 0.0)
            most = float(c.cost_usd.max()) * len(c.names)
        else:
            current, most = 1.0, float(len(c.names))
        e = p.add_cols(np.array([1.0 / max(current, 1.0)]), np.array([most]),
                       integer=kind != "budget")
        z = p.add_cols(np.array([PER_MOVE]), np.array([1.0]), integer=True)
        p.add_entries(np.array(rows), np.full(len(rows), e), -np.ones(len(rows)))
        p.add_rows(np.zeros(2, dtype=np.int64), np.array([e, z]), np.array([1.0, -most]),
                   [-np.inf], [0.0])
        slacks.append((name, e, z, current, most))
    late_jobs = np.unique(c.job[c.late_h > 1e-9])
    lateness = np.where(c.late_h > 1e-9, c.late_h / 24.0, 0.0)
    p.cost[0] = p.cost[0] + lateness
    deadline_z = {}
    for j in late_jobs.tolist():
        z = p.add_cols(np.array([PER_MOVE]), np.array([1.0]), integer=True)
        late = np.flatnonzero((c.job == j) & (c.late_h > 1e-9))
        p.add_rows(np.zeros(late.size + 1, dtype=np.int64), np.append(late, z),
                   np.append(np.ones(late.size), -1.0), [-np.inf], [0.0])
        deadline_z[j] = z
    solved = milp.solve(p, time_limit_s)
    if solved.x is None:
        return ()
    x = solved.x
    moves = []
    for name, e, z, current, _ in slacks:
        if x[z] < 0.5 or x[e] < 1e-6:
            continue
        kind, _, index = name.partition(":")
        if kind == "resource":
            resource = c.resources[int(index)]
            label = "limit" if resource.kind == "accelerators" else "provider limit"
            moves.append(Move(label, resource.name, current, current + round(x[e]),
                              "accelerators"))
        elif kind == "budget":
            moves.append(Move("budget", "budget_usd", current, current + float(x[e]), "USD"))
        else:
            group = c.apart[int(index)]
            moves.append(Move("apart", ", ".join(group), 1.0, 1.0 + round(x[e]), "jobs"))
    chosen = np.flatnonzero(x[:n] > 0.5)
    for j, z in deadline_z.items():
        if x[z] > 0.5:
            mine = chosen[c.job[chosen] == j]
            hours_late = float(c.late_h[mine].max()) if mine.size else 0.0
            moves.append(Move("deadline", c.names[j], 0.0, hours_late, "h"))
    return tuple(moves)

