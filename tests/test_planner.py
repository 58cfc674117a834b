"""Ranking, feasibility, gangs, runtime conversion and the Pareto front, on small catalogs."""

from __future__ import annotations

import json
import random

import pytest

import greenml
from greenml import Catalog, Job
from greenml.testing import accelerator, offer, region


def test_ranks_by_emissions_and_explains_each_figure(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=72), catalog=small_catalog)
    co2 = [o.estimate.co2e_kg for o in plan.options]
    assert co2 == sorted(co2)
    best = plan.best
    assert (best.provider, best.region.name) == ("alpha", "north-1")
    assert best.estimate.energy_kwh == pytest.approx(72 * 8 * 400 * 1.1 / 1000)
    assert best.estimate.co2e_kg == pytest.approx(best.estimate.energy_kwh * 20 / 1000)
    assert best.estimate.cost_usd == pytest.approx(72 * 30.0)
    names = {f.name for f in best.estimate.inputs}
    assert {"hours", "accelerators", "power_w", "pue", "intensity", "price_usd_per_hour"} <= names
    assert all(f.source for f in best.estimate.inputs)
    assert "north-1" in best.explain() and "test grid" in best.explain()


def test_family_name_covers_variants_and_gangs_round_up(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=small_catalog)
    by_type = {o.offer.instance_type: o for o in plan.options}
    assert set(by_type) == {"a100x8", "a100x4"}
    gang = by_type["a100x4"]
    assert gang.instances == 2 and gang.estimate.accelerators == 8
    assert gang.estimate.cost_usd == pytest.approx(2 * 20.0 * 10)


def test_partial_instance_counts_the_provisioned_accelerators(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="A100", count=6, hours=10), catalog=small_catalog)
    a100x8 = next(o for o in plan.options if o.offer.instance_type == "a100x8")
    assert a100x8.instances == 1 and a100x8.estimate.accelerators == 8
    assert any("8 accelerators provisioned for 6 requested" in n for n in a100x8.notes)


def test_runtime_on_another_accelerator_scales_by_dense_throughput(small_catalog) -> None:
    plan = greenml.plan(Job(accelerator=["A100", "H100"], count=8, hours=100),
                        catalog=small_catalog)
    h100 = next(o for o in plan.options if o.accelerator.name == "H100")
    assert h100.estimate.hours == pytest.approx(100 * 312 / 989)
    assert any("scaled from 100 h on A100" in n for n in h100.notes)


def test_flops_job_uses_utilization_and_says_so(small_catalog: Catalog) -> None:
    job = Job(accelerator="H100", count=8, flops=1e21, utilization=0.5)
    plan = greenml.plan(job, catalog=small_catalog)
    expected = 1e21 / (8 * 989e12 * 0.5) / 3600
    assert plan.best.estimate.hours == pytest.approx(expected)
    default = greenml.plan(Job(accelerator="H100", count=8, flops=1e21), catalog=small_catalog)
    assert any("default utilization" in n for n in default.best.notes)


def test_infeasible_groups_are_excluded_with_reasons(small_catalog: Catalog) -> None:
    job = Job(accelerator="any", count=8, flops=1e20, not_countries="US", max_cost_usd=1000)
    plan = greenml.plan(job, catalog=small_catalog)
    reasons = {(e.field, e.region): e.reason for e in plan.excluded}
    assert reasons[("not_countries", "east-1")] == "country US is denied"
    assert "no published power figure for NOPOWER" in reasons[("accelerator", "west-1")]
    assert all(o.estimate.cost_usd <= 1000 for o in plan.options)
    assert all(o.region.country != "US" for o in plan.options)


def test_max_cost_exclusion_names_the_cheapest_price(small_catalog: Catalog) -> None:
    job = Job(accelerator="H100", count=8, hours=100, max_cost_usd=9500)
    plan = greenml.plan(job, catalog=small_catalog)
    assert [o.region.name for o in plan.options] == ["east-1"]
    excluded = [e for e in plan.excluded if e.field == "max_cost_usd"]
    assert excluded and "$10,000" in excluded[0].reason and "$9,500" in excluded[0].reason


def test_spot_uses_spot_prices_and_excludes_offers_without(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=10, spot=True),
                        catalog=small_catalog)
    assert {o.offer.instance_type for o in plan.options} == {"a100x8"}
    assert plan.best.estimate.cost_usd == pytest.approx(12.0 * 10)
    assert any(e.field == "spot" and e.region == "west-1" for e in plan.excluded)


def test_min_memory_and_provider_filters(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="any", count=8, hours=1, hours_on="A100",
                            providers="beta", min_memory_gb=40), catalog=small_catalog)
    assert {o.provider for o in plan.options} == {"beta"}
    assert any(e.field == "providers" for e in plan.excluded)


def test_nothing_feasible_lists_why(small_catalog: Catalog) -> None:
    job = Job(accelerator="H100", count=8, hours=100, countries="SE")
    with pytest.raises(greenml.NoFeasibleOption) as info:
        greenml.plan(job, catalog=small_catalog)
    assert "countries" in str(info.value)
    assert {e.region for e in info.value.excluded} == {"east-1", "west-1"}


def test_unknown_names_suggest_the_closest(small_catalog: Catalog) -> None:
    with pytest.raises(greenml.InputError) as info:
        greenml.plan(Job(accelerator="A10O", count=1, hours=1), catalog=small_catalog)
    assert info.value.field == "accelerator" and "A100" in info.value.suggestions
    with pytest.raises(greenml.InputError, match="unknown provider 'gamma'"):
        greenml.plan(Job(accelerator="A100", count=1, hours=1, providers="gamma"),
                     catalog=small_catalog)
    with pytest.raises(greenml.InputError) as info:
        greenml.plan(Job(accelerator="A100", count=1, hours=1, regions="north-2"),
                     catalog=small_catalog)
    assert info.value.field == "regions" and "north-1" in info.value.suggestions


def test_savings_against_the_us_average_baseline(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=72), catalog=small_catalog)
    base = plan.baseline
    assert base.pue == 1.58 and base.intensity_g_per_kwh == 429
    assert base.co2e_kg == pytest.approx(72 * 8 * 400 * 1.58 / 1000 * 429 / 1000)
    assert plan.savings.saved_co2e_kg == pytest.approx(base.co2e_kg - plan.best.estimate.co2e_kg)
    assert plan.savings.factor == pytest.approx(base.co2e_kg / plan.best.estimate.co2e_kg)


def test_to_dict_and_json_carry_the_same_figures(small_catalog: Catalog) -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=72), catalog=small_catalog)
    data = json.loads(plan.to_json())
    assert data["count"] == len(plan) == len(data["options"])
    assert data["best"]["co2e_kg"] == plan.best.estimate.co2e_kg
    assert data["signal"] == "average"
    assert data["savings"]["baseline_co2e_kg"] == plan.baseline.co2e_kg
    assert "north-1" in str(plan)


def dominated(p, q) -> bool:
    return all(b <= a for a, b in zip(p, q, strict=True)) and p != q


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    accs = [accelerator(f"X{i}", rng.choice([300, 400, 700]), rng.choice([100, 312, 989]))
            for i in range(4)]
    regions = [region("p", f"r{i}", "SE", rng.uniform(10, 600), rng.uniform(1.05, 1.6))
               for i in range(15)]
    offers = [offer("p", f"r{rng.randrange(15)}", f"t{i}", f"X{rng.randrange(4)}",
                    rng.choice([1, 2, 4, 8]), round(rng.uniform(1, 50), 1))
              for i in range(120)]
    catalog = Catalog(regions, offers, accs)
    plan = greenml.plan(Job(accelerator="any", count=8, flops=1e20), catalog=catalog)
    points = [(o.estimate.co2e_kg, o.estimate.cost_usd, o.estimate.hours) for o in plan.options]
    expected = [not any(dominated(p, q) for q in points) for p in points]
    assert [o.pareto for o in plan.options] == expected
    assert sum(expected) >= 1


def test_offers_with_max_instances_exclude_jobs_larger_than_them() -> None:
    """A cluster partition (max_instances nodes) cannot take a job larger than itself."""
    import attrs

    accs = [accelerator("A100", 400, 312)]
    regions = [region("site", "campus", "FI", 10.0), region("cloud", "far", "US", 400.0)]
    small = attrs.evolve(offer("site", "campus", "gpu", "A100", 2, None), max_instances=3)
    offers = [small, offer("cloud", "far", "a100x8", "A100", 8, 30.0)]
    catalog = Catalog(regions, offers, accs)
    fits = greenml.plan(Job(accelerator="A100", count=6, hours=1), catalog=catalog)
    assert (fits.best.region.name, fits.best.instances) == ("campus", 3)
    too_big = greenml.plan(Job(accelerator="A100", count=8, hours=1), catalog=catalog)
    assert [o.region.name for o in too_big.options] == ["far"]
    [why] = [e for e in too_big.excluded if e.field == "count"]
    assert (why.provider, why.region, why.offers) == ("site", "campus", 1)
    assert why.reason == "gpu has at most 3 instance(s) x 2 A100, the job needs 8"
    with pytest.raises(greenml.InputError, match="max_instances"):
        attrs.evolve(small, max_instances=0)


def test_a_provider_with_nothing_to_plan_says_why(small_catalog: Catalog) -> None:
    from greenml.provider import Provider

    class Empty(Provider):
        name = "empty"

    problem = greenml.Exclusion("plugin", "provider 'broken' returned bad data: file.toml:3: x",
                                provider="broken")
    catalog = Catalog(small_catalog.regions, small_catalog.offers, small_catalog.accelerators,
                      providers={"empty": Empty(), "broken": Empty()}, problems=[problem])
    with pytest.raises(greenml.InputError, match="'broken' returned bad data: file.toml:3: x"):
        greenml.plan(Job(accelerator="A100", hours=1, providers="broken"), catalog=catalog)
    with pytest.raises(greenml.InputError, match="'empty' has no regions to plan"):
        greenml.plan(Job(accelerator="A100", hours=1, providers="empty"), catalog=catalog)


def test_a_series_name_covers_every_family_in_it() -> None:
    accs = [accelerator("TPU-v3", 283, 123), accelerator("TPU-v4", 170, 275),
            accelerator("A100", 400, 312)]
    regions = [region("p", "r1", "SE", 20.0)]
    offers = [offer("p", "r1", "tpu-v3-8", "TPU-v3", 4, 8.0),
              offer("p", "r1", "tpu-v4-8", "TPU-v4", 4, 12.0),
              offer("p", "r1", "a2", "A100", 8, 30.0)]
    catalog = Catalog(regions, offers, accs)
    no_tpu = greenml.plan(Job(accelerator="any", count=8, flops=1e20, not_accelerators="TPU"),
                          catalog=catalog)
    assert {o.accelerator.name for o in no_tpu.options} == {"A100"}
    only_tpu = greenml.plan(Job(accelerator="TPU", count=8, flops=1e20), catalog=catalog)
    assert {o.accelerator.name for o in only_tpu.options} == {"TPU-v3", "TPU-v4"}
