"""An Option is a view of its plan's arrays, never a second estimate.

For every option of a few real plans, the estimate's numbers are the plan's per-offer arrays,
its inputs are the sourced figures those arrays were computed from, and an independent
``greenml.estimate`` given the same figures explicitly gives the same result.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import ElectricityMapsFake, isolate, live_catalog

import greenml
from greenml import Catalog, Job
from greenml.carbon import CarbonSource, Reading
from greenml.carbon.electricitymaps import ElectricityMaps
from greenml.testing import accelerator, offer, region

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def check_views(plan: greenml.Plan) -> int:
    """Every option against the plan's arrays and against an independent estimate."""
    f = plan.figures
    options = plan.options
    assert options, "a plan to check"
    for option, row in zip(options, plan.ranking.order.tolist(), strict=True):
        e = option.estimate
        assert e.hours == f.hours[row] and e.energy_kwh == f.energy_kwh[row]
        assert e.co2e_kg == f.co2e_kg[row] and option.instances == f.instances[row]
        assert e.intensity_g_per_kwh == f.intensity_g_per_kwh[row]
        assert option.intensity is not None
        assert option.intensity.g_per_kwh == e.intensity_g_per_kwh
        if math.isnan(f.cost_usd[row]):
            assert e.cost_usd is None
        else:
            assert e.cost_usd == f.cost_usd[row]
        inputs = {figure.name: figure for figure in e.inputs}
        assert all(figure.source for figure in e.inputs)
        runtime = f.runtimes[plan.catalog.accelerator_index[option.accelerator.name.lower()]]
        assert inputs["hours"] == runtime, "the hours, with the note that says what they assume"
        assert (runtime.note in option.notes) == bool(runtime.note)
        assert inputs["power_w"] == option.accelerator.power()
        assert (inputs["pue"].value, inputs["pue"].source) == (option.region.pue.value,
                                                               option.region.pue.source)
        assert (inputs["intensity"].value, inputs["intensity"].source) == (
            option.intensity.g_per_kwh, option.intensity.source)
        price = option.offer.price_usd_per_hour(option.spot)
        assert ("price_usd_per_hour" in inputs) == (price is not None)

        alone = greenml.estimate(
            Job(accelerator=option.accelerator.name, count=e.accelerators, hours=e.hours),
            accelerator=option.accelerator, pue=option.region.pue, intensity=option.intensity,
            price_usd_per_hour=None if price is None else price * option.instances,
            catalog=plan.catalog)
        assert alone.energy_kwh == pytest.approx(e.energy_kwh, rel=1e-12)
        assert alone.co2e_kg == pytest.approx(e.co2e_kg, rel=1e-12)
        assert (alone.cost_usd is None) == (e.cost_usd is None)
        if e.cost_usd is not None:
            assert alone.cost_usd == pytest.approx(e.cost_usd, rel=1e-12)
    return len(options)


@pytest.mark.catalogs
def test_every_option_of_an_a100_hours_plan_is_a_view() -> None:
    plan = greenml.plan(Job(accelerator="A100", count=8, hours=72))
    assert check_views(plan) == len(plan) > 50
    assert plan.best is plan.options[0], "built once, then kept"


@pytest.mark.catalogs
def test_every_option_of_an_any_accelerator_flops_plan_is_a_view() -> None:
    plan = greenml.plan(Job(accelerator="any", count=8, flops=3.1e23))
    assert check_views(plan) == len(plan) > 200
    assert len({o.accelerator.name for o in plan.options}) > 5
    assert any("FLOPs on 8 x" in o.estimate.inputs[0].note for o in plan.options)


class Forecast(CarbonSource):
    """Hourly forecasts from NOW for the regions named (others have none)."""

    name = "handmade"
    signal = "average"

    def __init__(self, series: dict[str, list[float]]) -> None:
        self.series = series

    def forecast(self, region, start, end=None):
        values = self.series.get(region.name)
        if values is None:
            return None
        return [Reading(NOW + i * HOUR, v, "average", "forecast", self.name, region.name, 3600)
                for i, v in enumerate(values)]


def shifting_catalog() -> Catalog:
    regions = [region("p", "dippy", "SE", 100.0, 1.1), region("p", "steady", "FR", 80.0, 1.2),
               region("p", "dark", "DE", 90.0, 1.3)]
    offers = [offer("p", r.name, t, acc, 8, price) for r in regions
              for t, acc, price in (("a100x8", "A100", 10.0), ("h100x8", "H100", 30.0),
                                    ("h100x4", "H100", None))]
    return Catalog(regions, offers, [accelerator("A100", 400, 312),
                                     accelerator("H100", 700, 989)])


@pytest.mark.parametrize("interruptible", [False, True])
def test_every_option_of_a_time_shifted_plan_is_a_view(interruptible: bool) -> None:
    dip = [300.0] * 10 + [50.0, 40.0, 60.0] + [300.0] * 11
    job = Job(accelerator=["A100", "H100"], count=8, hours=3, deadline=NOW + 30 * HOUR,
              interruptible=interruptible)
    plan = greenml.plan(job, catalog=shifting_catalog(), now=NOW,
                        carbon_sources=[Forecast({"dippy": dip, "steady": [120.0] * 24})])
    assert check_views(plan) == len(plan) == 9
    for option in plan.options:
        assert option.schedule is not None
        assert option.schedule.co2e_kg == pytest.approx(option.estimate.co2e_kg, rel=1e-12)
    dark = [o for o in plan.options if o.region.name == "dark"]
    assert dark and all(o.intensity.source == "test grid" for o in dark), \
        "no forecast: the region's own figure, at the value ranked on"


def test_every_option_of_a_live_source_plan_is_a_view(monkeypatch, tmp_path) -> None:
    isolate(monkeypatch, tmp_path / "cache")
    token = "em-token-for-views"
    fake = ElectricityMapsFake(token, lambda zone, when: {"DE": 310.0, "FR": 45.0}.get(zone, 99),
                               zones=("DE", "FR", "GB"))
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", token)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    try:
        plan = greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=live_catalog(),
                            carbon_sources=[ElectricityMaps(), "embedded"])
    finally:
        fake.close()
    assert check_views(plan) == len(plan) == 4
    by_region = {o.region.name: o for o in plan.options}
    assert by_region["eu-west-3"].estimate.intensity_g_per_kwh == 45.0
    assert by_region["eu-west-3"].intensity.dataset == "electricitymaps"
    fallen = by_region["us-west-1"]  # its zone is not served: the embedded figure, said so
    assert fallen.intensity.g_per_kwh == fallen.region.intensity.g_per_kwh == 250.0
    assert fallen.intensity.dataset == "embedded"
    assert any("used embedded" in n for n in fallen.notes)


class Counting(Catalog):
    """A catalog that counts how often a plan asks for the job's reference accelerator."""

    def reference_for(self, job):
        self.asked = getattr(self, "asked", 0) + 1
        return super().reference_for(job)


def test_the_reference_accelerator_is_looked_up_once_per_plan() -> None:
    base = shifting_catalog()
    catalog = Counting(base.regions, base.offers, base.accelerators)
    plan = greenml.plan(Job(accelerator=["A100", "H100"], count=8, hours=20), catalog=catalog)
    plan.table(), plan.to_dict(), plan.savings, [o.explain() for o in plan.options]
    assert catalog.asked == 1
    assert plan.savings.named_accelerator == "A100" and plan.reference.name == "A100"
