"""The order of a plan's feasible offers, computed only as far as someone reads it.

Options rank by kg CO2e, then cost, then hours, then catalog position (a stable sort). A
plan shows ten options and its Pareto front, so sorting a million rows to show ten is waste:
the first rows come from a partition on kg CO2e (every row past the partition's pivot ranks
after every row before it), and the Pareto front from a candidate set that provably holds
it. The full order is sorted once, on first demand (``Plan.options``, the robustness replay).
Pure numpy, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from greenml.arrays import distinct, distinct_values

if TYPE_CHECKING:
    import numpy as np

#: The first rows are ranked at least this far; a table of a few dozen never sorts again.
HEAD_ROWS = 1024
#: Asked for a row deeper than this fraction of the feasible rows, sort them all.
FULL_SORT_FRACTION = 0.25


@attrs.define(eq=False)
class Ranking:
    """Feasible catalog rows in rank order: a sorted head, the Pareto front, the rest lazily.

    ``co2e_kg``, ``cost_usd`` (inf where unknown) and ``hours`` are per catalog offer;
    ``rows`` are the feasible offers' positions, ascending; ``head`` the first rows of the
    order and ``front`` the Pareto-front rows, both in rank order.
    """

    rows: np.ndarray
    co2e_kg: np.ndarray
    cost_usd: np.ndarray
    hours: np.ndarray
    head: np.ndarray
    front: np.ndarray
    _order: np.ndarray | None = attrs.field(default=None, alias="order")
    _front_set: frozenset[int] = attrs.field(factory=frozenset, init=False)

    def __attrs_post_init__(self) -> None:
        self._front_set = frozenset(self.front.tolist())

    @property
    def size(self) -> int:
        return int(self.rows.size)

    @property
    def order(self) -> np.ndarray:
        """Every feasible row in rank order (sorted on first use, then kept)."""
        if self._order is None:
            self._order = self.head = _sorted(self.rows, self.co2e_kg, self.cost_usd,
                                              self.hours)
        return self._order

    @property
    def sorted_all(self) -> bool:
        return self._order is not None

    def prefix(self, n: int) -> np.ndarray:
        """The first ``n`` rows of the order."""
        n = max(0, min(n, self.size))
        if n > self.head.size:
            if self._order is None and n < FULL_SORT_FRACTION * self.size:
                self.head = _top(self.rows, self.co2e_kg, self.cost_usd, self.hours,
                                 max(n, 2 * self.head.size))
            else:
                self.head = self.order
        return self.head[:n]

    def row(self, position: int) -> int:
        """The catalog row at 0-based ``position`` in the order."""
        return int(self.prefix(position + 1)[position])

    def on_front(self, row: int) -> bool:
        return row in self._front_set

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """0-based rank positions of feasible ``rows``, without sorting every row.

        A row's position is how many feasible rows precede it: fewer kg CO2e, or as many and
        then less cost, fewer hours, an earlier catalog position.
        """
        import numpy as np

        rows = np.asarray(rows, dtype=np.int64)
        if self._order is not None:
            inverse = np.empty(int(self.co2e_kg.size), dtype=np.int64)
            inverse[self._order] = np.arange(self._order.size)
            found: np.ndarray = inverse[rows]
            return found
        out = np.empty(rows.size, dtype=np.int64)
        in_head = {int(r): i for i, r in enumerate(self.head.tolist())}
        rest = [k for k, r in enumerate(rows.tolist()) if r not in in_head]
        for k, r in enumerate(rows.tolist()):
            if r in in_head:
                out[k] = in_head[r]
        if not rest:
            return out
        targets = rows[rest]
        co2 = self.co2e_kg[self.rows]
        values = distinct_values(self.co2e_kg[targets])
        above = np.searchsorted(values, co2, side="right")  # values <= each row's kg
        below = np.searchsorted(values, co2, side="left")   # values < each row's kg
        fewer = np.cumsum(np.bincount(above, minlength=values.size + 1))
        tied = self.rows[above != below]  # rows whose kg equals one of the targets'
        for k, r in zip(rest, targets.tolist(), strict=True):
            v = self.co2e_kg[r]
            same = tied[self.co2e_kg[tied] == v]
            key = (self.cost_usd[same], self.hours[same], same)
            mine = (self.cost_usd[r], self.hours[r], r)
            earlier = (key[0] < mine[0]) | ((key[0] == mine[0]) & (
                (key[1] < mine[1]) | ((key[1] == mine[1]) & (key[2] < mine[2]))))
            out[k] = int(fewer[int(np.searchsorted(values, v))]) + int(earlier.sum())
        return out

    def first_of_groups(self, group: np.ndarray) -> dict[int, int]:
        """Per group id (``group`` is per catalog offer), its first row in the order."""

        found: dict[int, int] = {}
        for r in self.head.tolist():
            found.setdefault(int(group[r]), r)
        wanted = distinct_values(group[self.rows])
        for g in wanted.tolist():
            if g not in found:
                mine = self.rows[group[self.rows] == g]
                found[g] = int(_top(mine, self.co2e_kg, self.cost_usd, self.hours, 1)[0])
        return found

    def front_mask(self) -> np.ndarray:
        """Over the whole order: which positions are on the Pareto front."""
        import numpy as np

        return np.isin(self.order, self.front)


def rank(rows: np.ndarray, co2e_kg: np.ndarray, cost_usd: np.ndarray, hours: np.ndarray,
         levels: np.ndarray | None = None, head_rows: int = HEAD_ROWS) -> Ranking:
    """Rank feasible ``rows`` (ascending catalog positions) by (kg CO2e, cost, hours).

    ``cost_usd`` holds inf where the cost is unknown. ``levels`` (per offer, small ints)
    orders the distinct runtimes as ``hours`` does; without it they are found by a sort.
    """
    import numpy as np

    if rows.size <= head_rows:
        ordered = _sorted(rows, co2e_kg, cost_usd, hours)
        front = ordered[pareto_mask(co2e_kg[ordered], cost_usd[ordered], hours[ordered])]
        return Ranking(rows, co2e_kg, cost_usd, hours, ordered, front, order=ordered)
    if levels is None:
        _, inverse, _ = distinct(hours)
        levels = inverse.reshape(hours.shape)
    co2 = co2e_kg[rows]
    pivot = np.partition(co2, head_rows - 1)[head_rows - 1]
    near = co2 <= pivot
    head = _sorted(rows[near], co2e_kg, cost_usd, hours)
    front = _front(head, rows[~near], co2e_kg, cost_usd, hours, levels)
    return Ranking(rows, co2e_kg, cost_usd, hours, head, front)


def _sorted(rows: np.ndarray, co2e_kg: np.ndarray, cost_usd: np.ndarray, hours: np.ndarray
            ) -> np.ndarray:
    """``rows`` in rank order (lexsort is stable: equal keys keep catalog order)."""
    import numpy as np

    return rows[np.lexsort((hours[rows], cost_usd[rows], co2e_kg[rows]))]


def _top(rows: np.ndarray, co2e_kg: np.ndarray, cost_usd: np.ndarray, hours: np.ndarray,
         n: int) -> np.ndarray:
    """The first ``n`` of ``rows`` in rank order: every row with no more kg CO2e than the
    n-th least ranks before every row with more, so only those are sorted."""
    import numpy as np

    if n >= rows.size:
        return _sorted(rows, co2e_kg, cost_usd, hours)
    co2 = co2e_kg[rows]
    pivot = np.partition(co2, n - 1)[n - 1]
    return _sorted(rows[co2 <= pivot], co2e_kg, cost_usd, hours)[:n]


def _front(first: np.ndarray, rest: np.ndarray, co2e_kg: np.ndarray, cost_usd: np.ndarray,
           hours: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The Pareto-front rows of ``first`` + ``rest``, in rank order.

    ``first`` holds every row with no more kg CO2e than any row of ``rest``. Rounds of
    candidates are taken in order of kg CO2e; after each, a row of ``rest`` that a candidate
    with no longer runtime matches or beats on cost is dominated (the candidate also emits
    strictly less) and dropped. What is dropped is dominated, and domination is transitive,
    so the candidates hold the whole front and their own front is the plan's.
    """
    import numpy as np

    n_levels = int(levels.max()) + 1 if levels.size else 1
    cheapest = np.full(n_levels, np.inf)
    seen = np.zeros(n_levels, dtype=bool)
    candidates = [first]
    batch, size = first, max(first.size, 1)
    while True:
        at = levels[batch]
        np.minimum.at(cheapest, at, cost_usd[batch])
        seen[at] = True
        up_to = np.minimum.accumulate(cheapest)  # the cheapest at this runtime or shorter
        any_up_to = np.logical_or.accumulate(seen)
        at_rest = levels[rest]
        rest = rest[~(any_up_to[at_rest] & (cost_usd[rest] >= up_to[at_rest]))]
        if rest.size == 0:
            break
        size *= 2
        if rest.size <= size:
            candidates.append(rest)
            break
        co2 = co2e_kg[rest]
        pivot = np.partition(co2, size - 1)[size - 1]
        near = co2 <= pivot
        batch, rest = rest[near], rest[~near]
        candidates.append(batch)
    ordered = _sorted(np.sort(np.concatenate(candidates)), co2e_kg, cost_usd, hours)
    front: np.ndarray = ordered[pareto_mask(co2e_kg[ordered], cost_usd[ordered], hours[ordered])]
    return front


def pareto_mask(co2: np.ndarray, cost: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Which points no other point beats on all of (co2, cost, hours).

    The input is sorted by (co2, cost, hours). Exact duplicates are collapsed first, so a
    point is dominated exactly when an earlier point is no worse in cost and in hours.
    Runtime takes few distinct values (one per accelerator), so one prefix-minimum pass per
    value suffices: O(n x distinct runtimes), all in numpy.
    """
    import numpy as np

    n = co2.size
    repeat = np.zeros(n, dtype=bool)
    repeat[1:] = (co2[1:] == co2[:-1]) & (cost[1:] == cost[:-1]) & (hours[1:] == hours[:-1])
    first = ~repeat
    inverse = np.cumsum(first) - 1
    u_cost, u_hours = cost[first], hours[first]
    dominated = np.zeros(u_cost.size, dtype=bool)
    for level in distinct_values(u_hours):
        masked = np.where(u_hours <= level, u_cost, np.inf)
        before = np.concatenate(([np.inf], np.minimum.accumulate(masked)[:-1]))
        dominated |= (u_hours == level) & (before <= u_cost)
    kept: np.ndarray = ~dominated[inverse]
    return kept
