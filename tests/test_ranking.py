"""Ranking only as far as it is read gives exactly what sorting every row gives.

The partial ranking (a partition for the first rows, a pruned candidate set for the Pareto
front, positions counted without sorting) is compared with the full sort and a brute-force
front, on random arrays with many ties and unknown costs, and on synthetic catalogs.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import greenml
from greenml import Catalog, Job
from greenml.plan.ranking import rank
from greenml.testing import accelerator, offer, region


def full_order(rows, co2, cost, hours):
    return rows[np.lexsort((hours[rows], cost[rows], co2[rows]))]


def brute_front(rows, co2, cost, hours) -> set[int]:
    """Rows no other row matches or beats on all three and beats on one (O(n^2))."""
    p = np.stack([co2[rows], cost[rows], hours[rows]], axis=1)
    le = (p[None, :, :] <= p[:, None, :]).all(axis=2)  # [i, j]: j no worse than i
    lt = (p[None, :, :] < p[:, None, :]).any(axis=2)
    dominated = (le & lt).any(axis=1)
    return set(rows[~dominated].tolist())


def arrays(seed: int, n: int, anti: bool = False):
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, 7, n)
    hours = np.array([1.0, 2.5, 3.0, 7.0, 11.0, 20.0, 64.0])[levels]
    co2 = np.round(rng.uniform(0, 50, n), 0)  # few distinct values: many ties
    cost = np.round(rng.uniform(0, 40, n), 0)
    if anti:  # cost falls as CO2e rises: a wide front
        cost = 100.0 - co2 + rng.integers(0, 2, n)
    cost[rng.random(n) < 0.1] = np.inf  # no public price
    return co2, cost, hours, levels


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("anti", [False, True])
def test_partial_ranking_equals_the_full_sort(seed: int, anti: bool) -> None:
    n = 2000
    co2, cost, hours, levels = arrays(seed, n, anti)
    rows = np.sort(np.random.default_rng(seed + 100).choice(n, 1600, replace=False))
    expected = full_order(rows, co2, cost, hours)
    front = brute_front(rows, co2, cost, hours)
    for head_rows in (8, 64, 1024):
        ranking = rank(rows, co2, cost, hours, levels if seed % 2 else None, head_rows)
        assert not ranking.sorted_all
        assert set(ranking.front.tolist()) == front
        assert ranking.front.tolist() == [r for r in expected.tolist()
                                          if r in set(ranking.front.tolist())], "in rank order"
        positions = ranking.positions(ranking.front)
        assert positions.tolist() == [int(np.flatnonzero(expected == r)[0])
                                      for r in ranking.front.tolist()]
        for n_first in (1, 10, head_rows + 5, 500):
            assert ranking.prefix(n_first).tolist() == expected[:n_first].tolist()
        assert ranking.order.tolist() == expected.tolist()
        assert ranking.positions(expected[::97]).tolist() == list(range(0, expected.size, 97))


def synthetic_catalog(n_offers: int, seed: int) -> Catalog:
    rng = random.Random(seed)
    accs = [accelerator(f"ACC{i}", rng.choice([70, 300, 400, 700]), rng.choice([65, 312, 989]))
            for i in range(12)]
    regions = [region(f"prov{i % 3}", f"r{i}", "SE", rng.choice([5, 20, 90, 300, 600]),
                      rng.choice([1.1, 1.2, 1.5])) for i in range(40)]
    offers = [offer(f"prov{(k := rng.randrange(40)) % 3}", f"r{k}", f"type{i}",
                    f"ACC{rng.randrange(12)}", rng.choice([1, 2, 4, 8]),
                    rng.choice([1.0, 2.5, 9.0, 31.0, None]))
              for i in range(n_offers)]
    return Catalog(regions, offers, accs)


@pytest.mark.parametrize("seed", range(3))
def test_a_plan_over_many_offers_ranks_exactly(seed: int) -> None:
    catalog = synthetic_catalog(2500, seed)
    plan = greenml.plan(Job(accelerator="any", count=8, flops=1e21), catalog=catalog)
    f = plan.figures
    assert len(plan) > 1024 and not plan.ranking.sorted_all, "the partial path"
    rows = plan.ranking.rows
    cost = np.where(np.isnan(f.cost_usd), np.inf, f.cost_usd)
    expected = full_order(rows, f.co2e_kg, cost, f.hours)
    top = plan.top(10)
    assert [(o.offer, o.instances) for o in top] == [
        (catalog.offers[r], f.instances[r]) for r in expected[:10].tolist()]
    per_provider = plan.best_per_provider()
    first: dict[str, int] = {}
    for position, r in enumerate(expected.tolist()):
        first.setdefault(catalog.offers[r].provider, position + 1)
    assert [(o.provider, o.rank) for o in per_provider] == sorted(
        first.items(), key=lambda item: item[1])
    front = brute_front(rows, f.co2e_kg, cost, f.hours)
    assert sorted(o.rank for o in plan.pareto) == sorted(
        int(np.flatnonzero(expected == r)[0]) + 1 for r in front)
    assert not plan.ranking.sorted_all, "table, best per provider and front: no full sort"
    ranks = [o.rank for o in plan.options]  # the rest, sorted on first read
    assert ranks == list(range(1, len(plan) + 1))
    assert [catalog.offers[int(r)] for r in plan.ranked] == [o.offer for o in plan.options]
    assert [o.pareto for o in plan.options] == plan.pareto_mask.tolist()
