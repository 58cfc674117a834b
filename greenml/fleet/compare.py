"""The placements a fleet's answer is measured against.

(a) each job's own best option, as if it were planned alone: what the fleet would emit
with no limits, and so what the limits cost; (b) greedy in the given order, what a team
gets by planning one job after another and taking the best option that still fits (also
the solver's warm start); (c) the baseline of Patterson et al. 2021, every job in an average
US datacenter, the reference each single plan's ``baseline`` already holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import numpy as np

    from greenml.fleet.candidates import Candidates


@attrs.frozen
class Comparison:
    """One reference placement's totals; ``placed`` of ``jobs`` were placed (greedy can
    strand a job the optimum places)."""

    name: str
    description: str
    co2e_kg: float
    cost_usd: float | None
    placed: int
    jobs: int

    @property
    def complete(self) -> bool:
        return self.placed == self.jobs

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "complete": self.complete}


def ranked(c: Candidates, objective: np.ndarray) -> np.ndarray:
    """Candidate indexes by job, then (objective, USD, finish): each job's best first."""
    import numpy as np

    order: np.ndarray = np.lexsort((c.finish_h, c.cost_usd, objective, c.job))
    return order


def own_best(c: Candidates, objective: np.ndarray) -> np.ndarray:
    """Per job, its best candidate ignoring every limit (limits never bind one job alone
    harder than its own constraints: a job alone still needs its quota, but this is the
    'planned alone' reference)."""
    import numpy as np

    order = ranked(c, objective)
    first = np.ones(order.size, dtype=bool)
    first[1:] = c.job[order][1:] != c.job[order][:-1]
    best: np.ndarray = order[first]
    return best


def greedy(c: Candidates, objective: np.ndarray, budget_usd: float | None) -> np.ndarray:
    """Per job in the given order, its best candidate that still fits every limit at every
    hour, the budget and its apart-groups; -1 where none fits."""
    import numpy as np

    order = ranked(c, objective)
    horizon = int((c.start_h + c.held_h).max()) + 1 if c.size else 1
    capacity = np.array([r.capacity for r in c.resources], dtype=np.float64)
    used = np.zeros((len(c.resources), horizon))
    holds: dict[int, list[int]] = {}
    for r, members in enumerate(c.members):
        for m in members.tolist():
            holds.setdefault(m, []).append(r)
    groups_of = {j: [g for g, group in enumerate(c.apart) if name in group]
                 for j, name in enumerate(c.names)}
    taken_regions: list[set[int]] = [set() for _ in c.apart]
    spent = 0.0
    chosen = np.full(len(c.names), -1, dtype=np.int64)
    bounds = np.searchsorted(c.job[order], np.arange(len(c.names) + 1))
    for j in range(len(c.names)):
        for k in order[bounds[j]:bounds[j + 1]].tolist():
            lo, hi = int(c.start_h[k]), int(c.start_h[k] + c.held_h[k])
            n = float(c.accelerators[k])
            if any(used[r, lo:hi].max(initial=0.0) + n > capacity[r] + 1e-9
                   for r in holds.get(k, ())):
                continue
            if budget_usd is not None and spent + float(c.cost_usd[k]) > budget_usd + 1e-9:
                continue
            region = int(c.region[k])
            if any(region in taken_regions[g] for g in groups_of[j]):
                continue
            for r in holds.get(k, ()):
                used[r, lo:hi] += n
            spent += float(c.cost_usd[k])
            for g in groups_of[j]:
                taken_regions[g].add(region)
            chosen[j] = k
            break
    return chosen


def totals(c: Candidates, chosen: np.ndarray, name: str, description: str) -> Comparison:
    """A placement's totals over the jobs it placed."""
    placed = chosen[chosen >= 0]
    priced = bool(c.priced[placed].all())
    return Comparison(name, description, float(c.co2e_kg[placed].sum()),
                      float(c.cost_usd[placed].sum()) if priced else None,
                      int(placed.size), len(c.names))


def x_of(c: Candidates, chosen: np.ndarray) -> np.ndarray:
    """A placement as the program's 0/1 vector over candidates."""
    import numpy as np

    x = np.zeros(c.size)
    x[chosen[chosen >= 0]] = 1.0
    return x
