"""plan_fleet places every job for the least total kg CO2e that the limits allow: checked
against exhaustive search on small fleets, limit by limit, and on ties and weights."""

from __future__ import annotations

import itertools
import math
import random
from datetime import timedelta

import attrs
import pytest
from fleet_catalogs import NOW, small_catalog, tied_catalog, variant_catalog

import greenml

pytest.importorskip("highspy")


def fleet(jobs, **kwargs):
    kwargs.setdefault("catalog", small_catalog())
    return greenml.plan_fleet(jobs, now=NOW, **kwargs)


def exhaustive(jobs, catalog, limits, budget, slots):
    """The least (kg CO2e, USD, total finish hours) over every combination of (offer,
    start) per job, checking every limit at every hour: independent of greenml.fleet."""
    options = []
    for job in jobs.values():
        plan = greenml.plan(attrs.evolve(job, deadline=None), catalog=catalog, notify=False)
        cols, f = catalog.columns, plan.figures
        mine = []
        for row in plan.ranked.tolist():
            hours = float(f.hours[row])
            for start in range(slots):
                if job.deadline is not None and \
                        NOW + timedelta(hours=start + hours) > job.deadline:
                    continue
                reg = catalog.regions[int(cols.offer_region[row])]
                acc = catalog.accelerators[int(cols.offer_accelerator[row])]
                mine.append((float(f.co2e_kg[row]), float(f.cost_usd[row]), start + hours,
                             start, math.ceil(hours - 1e-9),
                             int(f.instances[row] * cols.per_instance[row]), reg, acc))
        options.append(mine)
    best = None
    for combo in itertools.product(*options):
        if budget is not None and sum(o[1] for o in combo) > budget + 1e-9:
            continue
        if not fits(combo, limits, list(jobs)):
            continue
        key = (sum(o[0] for o in combo), sum(o[1] for o in combo), sum(o[2] for o in combo))
        if best is None or key < best:
            best = key
    return best


def fits(combo, limits, names):
    horizon = max(o[3] + o[4] for o in combo)
    for hour in range(horizon):
        running = [o for o in combo if o[3] <= hour < o[3] + o[4]]
        for key, cap in limits.get("accelerators", {}).items():
            provider, name, family = key.split("/")
            held = sum(o[5] for o in running if o[6].provider == provider
                       and o[6].name == name
                       and family.lower() == o[7].family.lower())  # families only, here
            if held > cap:
                return False
        for provider, cap in limits.get("provider_accelerators", {}).items():
            if sum(o[5] for o in running if o[6].provider == provider) > cap:
                return False
    for group in limits.get("apart", []):
        regions = [(combo[names.index(n)][6].provider, combo[names.index(n)][6].name)
                   for n in group]
        if len(set(regions)) < len(regions):
            return False
    return True


def random_instance(seed):
    rng = random.Random(seed)
    jobs = {}
    for i in range(rng.randint(2, 4)):
        window = {}
        if rng.random() < 0.3:
            window["deadline"] = NOW + timedelta(hours=rng.randint(4, 7))
        jobs[f"j{i}"] = greenml.Job(accelerator=rng.choice(["A100", "A100", "H100"]),
                                    count=rng.choice([4, 8, 16]), hours=rng.randint(1, 3),
                                    **window)
    limits = {"accelerators": {}, "provider_accelerators": {}, "apart": []}
    for key in ("p/clean/A100", "p/mid/A100", "q/other/A100", "p/clean/H100"):
        if rng.random() < 0.6:
            limits["accelerators"][key] = rng.choice([0, 8, 16, 24])
    if rng.random() < 0.3:
        limits["provider_accelerators"]["q"] = rng.choice([8, 16])
    if rng.random() < 0.3 and len(jobs) > 1:
        limits["apart"].append(list(jobs)[:2])
    budget = rng.choice([None, None, 400.0, 900.0])
    return jobs, limits, budget


@pytest.mark.parametrize("seed", range(12))
def test_small_fleets_match_exhaustive_search(seed):
    jobs, limits, budget = random_instance(seed)
    catalog = small_catalog()
    slots = 3
    expected = exhaustive(jobs, catalog, limits, budget, slots)
    if expected is None:
        with pytest.raises(greenml.fleet.FleetInfeasible):
            fleet(jobs, limits=limits, budget_usd=budget, catalog=catalog, start_slots=slots)
        return
    got = fleet(jobs, limits=limits, budget_usd=budget, catalog=catalog, start_slots=slots)
    assert got.solver.status == "optimal"
    assert got.co2e_kg == pytest.approx(expected[0], rel=1e-6)
    assert got.cost_usd == pytest.approx(expected[1], rel=1e-6)
    finish = sum((p.finish - NOW) / timedelta(hours=1) for p in got.placements)
    assert finish == pytest.approx(expected[2], rel=1e-6)


def test_unlimited_fleet_is_each_jobs_own_best():
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2),
            "b": greenml.Job(accelerator="H100", count=8, hours=2)}
    got = fleet(jobs)
    assert [(p.provider, p.region) for p in got.placements] == [("p", "clean"), ("p", "clean")]
    assert got.co2e_kg == pytest.approx(got.comparison("own best").co2e_kg)
    assert all(p.start == NOW for p in got.placements)


def test_region_quota_holds_every_hour_and_is_shared_one_after_the_other():
    jobs = {f"j{i}": greenml.Job(accelerator="A100", count=8, hours=2) for i in range(3)}
    got = fleet(jobs, limits={"accelerators": {"p/clean/A100": 8}})
    starts = sorted((p.start - NOW) / timedelta(hours=1) for p in got.placements)
    assert [p.region for p in got.placements] == ["clean"] * 3  # queued in the clean region
    assert starts == [0, 2, 4]
    use = {u.name: u for u in got.use}["p/clean/A100"]
    assert use.peak == 8 and use.limit == 8



def test_a_limit_on_an_accelerators_name_and_on_a_provider_show_with_their_use():
    jobs = {f"j{i}": greenml.Job(accelerator="A100-80GB", count=8, hours=2,
                                 deadline=NOW + timedelta(hours=2)) for i in range(2)}
    got = fleet(jobs, catalog=variant_catalog(), limits={
        "accelerators": {"p/clean/A100-80GB": 8}, "provider_accelerators": {"p": 16}})
    assert sorted(p.region for p in got.placements) == ["clean", "dirty"]
    use = {u["name"]: (u["peak"], u["limit"]) for u in got.to_dict()["use"]}
    assert use["p/clean/A100-80GB"] == (8, 8)  # the part's own quota, found by its name
    assert use["p"] == (16, 16)
    assert use["p/clean/A100"] == (8, None)  # the family, under no limit of its own
    rows = [line.split() for line in got.table().splitlines()]
    assert ["p/clean/A100-80GB", "8", "8"] in rows and ["p", "16", "16"] in rows

def test_quota_too_small_for_the_window_sends_jobs_elsewhere():
    jobs = {f"j{i}": greenml.Job(accelerator="A100", count=8, hours=2,
                                 deadline=NOW + timedelta(hours=2)) for i in range(2)}
    got = fleet(jobs, limits={"accelerators": {"p/clean/A100": 8}})
    assert sorted(p.region for p in got.placements) == ["clean", "other"]


def test_provider_total_limit():
    jobs = {f"j{i}": greenml.Job(accelerator="A100", count=8, hours=2,
                                 deadline=NOW + timedelta(hours=2)) for i in range(3)}
    got = fleet(jobs, limits={"provider_accelerators": {"p": 16}})
    providers = sorted(p.provider for p in got.placements)
    assert providers == ["p", "p", "q"]


def test_a_limit_on_zero_keeps_the_region_empty():
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2)}
    got = fleet(jobs, limits={"accelerators": {"p/clean/A100": 0}})
    assert got.placements[0].region == "other"


def test_budget_trades_kg_for_dollars():
    jobs = {f"j{i}": greenml.Job(accelerator="A100", count=8, hours=2) for i in range(2)}
    free = fleet(jobs)
    assert free.cost_usd == pytest.approx(160.0)  # both in clean at 40 USD/h
    capped = fleet(jobs, budget_usd=120.0)
    assert capped.cost_usd <= 120.0 + 1e-9
    assert sorted(p.region for p in capped.placements) == ["clean", "mid"]


def test_apart_groups_never_share_a_region():
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2),
            "b": greenml.Job(accelerator="A100", count=8, hours=2)}
    got = fleet(jobs, limits={"apart": [["a", "b"]]})
    assert len({p.region for p in got.placements}) == 2


def test_ties_in_kg_go_to_the_cheaper_then_the_earlier():
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2)}
    got = fleet(jobs, catalog=tied_catalog())
    assert got.placements[0].region == "south" and got.placements[0].start == NOW
    two = {f"j{i}": greenml.Job(accelerator="A100", count=8, hours=2) for i in range(2)}
    got = fleet(two, catalog=tied_catalog(), limits={"accelerators": {"p/south/A100": 8}})
    # the same kg either way: south (cheaper) for one now and one after it, not north
    assert [p.region for p in got.placements] == ["south", "south"]
    assert sorted((p.start - NOW) / timedelta(hours=1) for p in got.placements) == [0, 2]


def test_weights_pick_the_least_weighted_sum():
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2)}
    catalog = small_catalog()
    plan = greenml.plan(jobs["a"], catalog=catalog, notify=False)
    regions = set()
    for weigh in ({"co2": 1}, {"co2": 1, "usd": 0.1}, {"co2": 1, "usd": 10}, "co2=0,usd=1"):
        got = fleet(jobs, weigh=weigh, catalog=catalog).placements[0]
        w = greenml.fleet.planning.parse_weigh(weigh)
        best = min(plan.options, key=lambda o: w.get("co2", 0) * o.estimate.co2e_kg
                   + w.get("usd", 0) * o.estimate.cost_usd)
        assert (got.provider, got.region) == (best.provider, best.region.name), weigh
        regions.add(got.region)
    assert {"clean", "dirty"} <= regions  # the weights do move it


def test_comparisons_greedy_own_best_and_baseline():
    jobs = {"small": greenml.Job(accelerator="A100", count=8, hours=2,
                                 deadline=NOW + timedelta(hours=2)),
            "big": greenml.Job(accelerator="A100", count=16, hours=2,
                               deadline=NOW + timedelta(hours=2))}
    got = fleet(jobs, limits={"accelerators": {"p/clean/A100": 16}})
    own, greedy = got.comparison("own best"), got.comparison("greedy")
    baseline = got.comparison("baseline")
    # greedy gives clean to "small" first, so "big" goes to mid; the optimum does the reverse
    assert greedy.complete and greedy.co2e_kg > got.co2e_kg
    assert got.placement("big").region == "clean"
    assert own.co2e_kg <= got.co2e_kg < baseline.co2e_kg
    text = got.table()
    assert "greedy in the given order" in text and "p/clean/A100" in text
    data = greenml.fleet.result.Fleet.to_dict(got)
    assert data["solver"]["status"] == "optimal" and len(data["placements"]) == 2


def test_infeasible_limit_names_the_limit_and_the_amount():
    jobs = {"a": greenml.Job(accelerator="A100", count=16, hours=2, regions=["mid"])}
    with pytest.raises(greenml.fleet.FleetInfeasible) as caught:
        fleet(jobs, limits={"accelerators": {"p/mid/A100": 8}})
    (move,) = caught.value.moves
    assert (move.kind, move.name, move.current, move.needed) == ("limit", "p/mid/A100", 8, 16)
    assert "from 8 to 16" in str(caught.value)


def test_infeasible_deadline_says_how_much_later():
    jobs = {f"j{i}": greenml.Job(accelerator="A100", count=8, hours=10, regions=["clean"],
                                 deadline=NOW + timedelta(hours=12)) for i in range(2)}
    with pytest.raises(greenml.fleet.FleetInfeasible) as caught:
        fleet(jobs, limits={"accelerators": {"p/clean/A100": 8}})
    (move,) = caught.value.moves
    assert move.kind == "deadline" and move.by == pytest.approx(8.0)


def test_infeasible_budget_and_apart():
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2, regions=["clean"]),
            "b": greenml.Job(accelerator="A100", count=8, hours=2, regions=["clean"])}
    with pytest.raises(greenml.fleet.FleetInfeasible) as caught:
        fleet(jobs, budget_usd=100.0)
    assert [(m.kind, m.needed) for m in caught.value.moves] == [("budget", 160.0)]
    with pytest.raises(greenml.fleet.FleetInfeasible) as caught:
        fleet(jobs, limits={"apart": [["a", "b"]]})
    assert [m.kind for m in caught.value.moves] == ["apart"]


def test_the_embedded_catalog_fleet_beats_greedy_under_a_quota():
    jobs = {f"ft-{i}": greenml.Job(accelerator="A100", count=8, hours=12) for i in range(4)}
    alone = greenml.plan_fleet(jobs, now=NOW)
    first = alone.placements[0]
    key = f"{first.provider}/{first.region}/{first.option.accelerator.family}"
    got = greenml.plan_fleet(jobs, limits={"accelerators": {key: 16}}, now=NOW)
    assert got.solver.optimal
    assert got.co2e_kg >= alone.co2e_kg
    held = {u.name: u.peak for u in got.use}
    assert held[key] <= 16
