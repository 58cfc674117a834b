"""Choosing when to start, on hand-made forecasts whose best start is known."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

import greenml
from greenml import Catalog, Job
from greenml.carbon import CarbonSource, Reading
from greenml.testing import accelerator, offer, region

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
KWH_PER_HOUR = 8 * 400 * 1.1 / 1000  # 8 accelerators x 400 W x PUE 1.1


class Forecast(CarbonSource):
    """Hourly forecasts from NOW, per region name (None: no forecast for that region)."""

    name = "handmade"

    def __init__(self, series: dict[str, list[float]], signal: str = "average",
                 reading_signal: str | None = None, period_h: float = 1.0) -> None:
        self.series = series
        self.signal = signal
        self.reading_signal = reading_signal or signal
        self.period_h = period_h

    def forecast(self, region, start, end=None):
        values = self.series.get(region.name)
        if values is None:
            return None
        step = timedelta(hours=self.period_h)
        return [Reading(NOW + i * step, v, self.reading_signal, "forecast", self.name,
                        region.name, self.period_h * 3600) for i, v in enumerate(values)]


def catalog(*names_and_annual: tuple[str, float]) -> Catalog:
    regions = [region("p", name, "SE", annual, 1.1) for name, annual in names_and_annual]
    offers = [offer("p", name, "a100x8", "A100", 8, 10.0) for name, _ in names_and_annual]
    offers += [offer("p", name, "h100x8", "H100", 8, 30.0) for name, _ in names_and_annual]
    return Catalog(regions, offers, [accelerator("A100", 400, 312), accelerator("H100", 400, 989)])


def plan(job: Job, series: dict[str, list[float]], annual: float = 100.0, **source_args):
    cat = catalog(*((name, annual) for name in series))
    return greenml.plan(job, catalog=cat, carbon_sources=[Forecast(series, **source_args)],
                        now=NOW)


DIP = [300.0] * 10 + [50.0, 40.0, 60.0] + [300.0] * 11  # best 3 h: hours 10-13, mean 50


def test_the_start_with_the_least_emissions_over_the_whole_run() -> None:
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 24 * HOUR)
    best = plan(job, {"north-1": DIP}).best
    assert best.start == NOW + 10 * HOUR and best.end == NOW + 13 * HOUR
    assert best.estimate.intensity_g_per_kwh == pytest.approx(50.0)
    assert best.estimate.co2e_kg == pytest.approx(3 * KWH_PER_HOUR * 50 / 1000)
    schedule = best.schedule
    assert schedule is not None and schedule.earliest_start == NOW
    assert schedule.now_co2e_kg == pytest.approx(3 * KWH_PER_HOUR * 300 / 1000)
    assert schedule.saving_co2e_kg == pytest.approx(3 * KWH_PER_HOUR * 250 / 1000)
    assert schedule.slots == ((NOW + 10 * HOUR, NOW + 13 * HOUR),)
    figure = next(f for f in best.estimate.inputs if f.name == "intensity")
    assert figure.source.startswith("handmade forecast, mean over the run 2026-05-01T10:00Z")
    assert "average signal, forecast" in figure.note
    text = best.explain()
    assert "when: starts 2026-05-01T10:00Z, ends 2026-05-01T13:00Z" in text
    assert "less than starting at 2026-05-01T00:00Z" in text


def test_options_are_ranked_on_their_best_start_not_on_now() -> None:
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 24 * HOUR)
    result = plan(job, {"dippy": DIP, "steady": [120.0] * 24})
    assert [o.region.name for o in result.options] == ["dippy", "steady"]
    steady = result.option(2)
    assert steady.start == NOW and steady.schedule.saving_co2e_kg == pytest.approx(0.0)


def test_a_deadline_that_forbids_the_best_window() -> None:
    series = [300.0, 300.0, 100.0, 90.0, 110.0, 300.0, 300.0, 300.0] + DIP[8:]
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 8 * HOUR)
    best = plan(job, {"north-1": series}).best
    assert best.start == NOW + 2 * HOUR and best.end <= job.deadline
    assert best.estimate.intensity_g_per_kwh == pytest.approx(100.0)
    tight = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 13 * HOUR)
    assert plan(tight, {"north-1": series}).best.start == NOW + 10 * HOUR


def test_an_earliest_start_after_the_best_window() -> None:
    job = Job(accelerator="A100", count=8, hours=3, earliest_start=NOW + 14 * HOUR)
    series = DIP[:18] + [70.0, 70.0, 70.0] + [300.0] * 3
    best = plan(job, {"north-1": series}).best
    assert best.start == NOW + 18 * HOUR
    assert best.schedule.earliest_start == NOW + 14 * HOUR


def test_a_job_longer_than_the_horizon_assumes_the_zone_average_past_it() -> None:
    series = [400.0] * 12 + [20.0] * 12
    job = Job(accelerator="A100", count=8, hours=30, deadline=NOW + 48 * HOUR)
    best = plan(job, {"north-1": series}, annual=100.0).best
    # from s <= 12: 400(12-s) + 240 + 100(s+6) falls; from s >= 12: 20(24-s) + 100(s+6) rises
    assert best.start == NOW + 12 * HOUR
    assert best.estimate.intensity_g_per_kwh == pytest.approx((20 * 12 + 100 * 18) / 30)
    assert best.schedule.assumed_hours == pytest.approx(18.0)
    assert best.schedule.horizon_end == NOW + 24 * HOUR
    note = next(n for n in best.notes if n.startswith("past the forecast horizon"))
    assert note == ("past the forecast horizon (2026-05-02T00:00Z) assumed the zone average "
                    "100 g/kWh (the embedded annual average, test grid (2024)) for 18.0 h of "
                    "the run")


def test_starts_are_never_chosen_past_the_forecast() -> None:
    series = [400.0] * 6
    job = Job(accelerator="A100", count=8, hours=2, deadline=NOW + 48 * HOUR)
    best = plan(job, {"north-1": series}, annual=50.0).best
    assert best.start == NOW + 5 * HOUR, "the last start the forecast covers"


def test_an_interruptible_job_takes_the_lowest_slots_before_the_deadline() -> None:
    series = [200.0] * 24
    series[3], series[7], series[15], series[22] = 10.0, 20.0, 30.0, 5.0
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 20 * HOUR,
              interruptible=True)
    best = plan(job, {"north-1": series}).best
    assert best.schedule.slots == ((NOW + 3 * HOUR, NOW + 4 * HOUR),
                                   (NOW + 7 * HOUR, NOW + 8 * HOUR),
                                   (NOW + 15 * HOUR, NOW + 16 * HOUR))
    assert best.start == NOW + 3 * HOUR and best.end == NOW + 16 * HOUR
    assert best.estimate.intensity_g_per_kwh == pytest.approx(20.0)
    assert best.schedule.now_co2e_kg == pytest.approx(3 * KWH_PER_HOUR * 200 / 1000)
    assert "runs in 3 slot(s)" in best.explain()
    assert "2026-05-01 03:00Z+" in plan(job, {"north-1": series}).table()
    straight = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 20 * HOUR)
    assert plan(straight, {"north-1": series}).best.estimate.intensity_g_per_kwh \
        == pytest.approx((10 + 200 + 200) / 3)


def test_an_interruptible_job_past_the_horizon_takes_the_lowest_slots() -> None:
    series = [300.0, 10.0, 300.0, 20.0]
    job = Job(accelerator="A100", count=8, hours=5, deadline=NOW + 24 * HOUR,
              interruptible=True)
    best = plan(job, {"north-1": series}, annual=100.0).best
    expected = (10 + 20 + 100 * 3) / 5
    assert best.estimate.intensity_g_per_kwh == pytest.approx(expected)
    assert best.schedule.slots[0] == (NOW + HOUR, NOW + 2 * HOUR)
    assert best.schedule.assumed_hours == pytest.approx(3.0)


def test_half_hour_fractions_and_an_unaligned_now() -> None:
    job = Job(accelerator="A100", count=8, hours=2.5, deadline=NOW + 24 * HOUR)
    cat = catalog(("north-1", 100.0))
    now = NOW + timedelta(minutes=17)
    result = greenml.plan(job, catalog=cat, carbon_sources=[Forecast({"north-1": DIP})],
                          now=now)
    best = result.best
    assert best.start == NOW + 10 * HOUR
    assert best.estimate.intensity_g_per_kwh == pytest.approx((50 + 40 + 0.5 * 60) / 2.5)
    assert best.schedule.earliest_start == now
    assert best.schedule.now_co2e_kg == pytest.approx(2.5 * KWH_PER_HOUR * 300 / 1000)


@pytest.mark.parametrize("seed", range(6))
def test_the_chosen_start_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    series = [rng.uniform(20, 500) for _ in range(36)]
    hours = rng.choice([1.0, 2.5, 4.0, 7.25])
    deadline_h = rng.randint(int(hours) + 2, 36)
    job = Job(accelerator="A100", count=8, hours=hours, deadline=NOW + deadline_h * HOUR)
    best = plan(job, {"north-1": series}).best

    def mean_from(start: int) -> float:
        whole, part = int(hours), hours - int(hours)
        total = sum(series[start:start + whole]) + part * series[start + whole] \
            if part else sum(series[start:start + whole])
        return total / hours

    starts = [s for s in range(36) if s + hours <= deadline_h]
    expected = min(mean_from(s) for s in starts)
    assert best.estimate.intensity_g_per_kwh == pytest.approx(expected)
    assert mean_from(int((best.start - NOW) / HOUR)) == pytest.approx(expected)


def test_a_region_without_a_forecast_starts_at_once_and_says_why() -> None:
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 24 * HOUR)
    cat = catalog(("north-1", 100.0), ("south-1", 80.0))
    result = greenml.plan(job, catalog=cat, carbon_sources=[Forecast({"north-1": DIP})],
                          now=NOW)
    south = next(o for o in result.options if o.region.name == "south-1")
    assert south.start == NOW and south.estimate.intensity_g_per_kwh == 80.0
    assert any(n.startswith("no forecast for this region: assumed the embedded annual average")
               for n in south.notes)
    default = greenml.plan(job, catalog=cat, now=NOW)
    assert default.best.start == NOW and default.best.schedule.saving_co2e_kg == 0


def test_a_runtime_that_fits_no_window_names_the_deadline() -> None:
    job = Job(accelerator="A100", count=8, hours=10, deadline=NOW + 5 * HOUR)
    with pytest.raises(greenml.InputError) as info:
        plan(job, {"north-1": DIP})
    assert info.value.field == "deadline"
    assert "runs at least 10.0 h (on A100)" in str(info.value) and "5.0 h" in str(info.value)


def test_accelerators_too_slow_for_the_window_are_excluded() -> None:
    job = Job(accelerator=["A100", "H100"], count=8, hours=10, deadline=NOW + 5 * HOUR)
    result = plan(job, {"north-1": DIP})
    assert {o.accelerator.name for o in result.options} == {"H100"}
    too_long = [e for e in result.excluded if e.field == "deadline"]
    assert too_long and "A100 runs 10.0 h, longer than the window" in too_long[0].reason


def test_a_deadline_already_past_is_refused() -> None:
    job = Job(accelerator="A100", count=8, hours=1, deadline=NOW - HOUR)
    with pytest.raises(greenml.InputError, match="^deadline: .* is not after the window's start"):
        plan(job, {"north-1": DIP})


def test_marginal_forecasts_assume_their_own_mean_past_the_horizon() -> None:
    job = Job(accelerator="A100", count=8, hours=6, deadline=NOW + 24 * HOUR)
    result = plan(job, {"north-1": [400.0, 200.0]}, signal="marginal")
    assert result.signal == "marginal"
    note = next(n for n in result.best.notes if n.startswith("past the forecast horizon"))
    assert "assumed the zone average 300 g/kWh (the mean of the handmade forecast (marginal))" \
        in note


def test_readings_in_another_signal_than_the_source_declares_are_refused() -> None:
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 24 * HOUR)
    with pytest.raises(greenml.InputError) as info:
        plan(job, {"north-1": DIP}, signal="average", reading_signal="marginal")
    assert info.value.field == "carbon_sources" and "one kind" in str(info.value)


def test_a_marginal_plan_without_a_forecast_leaves_the_region_out() -> None:
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + 24 * HOUR)
    cat = catalog(("north-1", 100.0), ("south-1", 80.0))
    result = greenml.plan(job, catalog=cat, now=NOW,
                          carbon_sources=[Forecast({"north-1": DIP}, signal="marginal")])
    assert {o.region.name for o in result.options} == {"north-1"}
    assert any(e.field == "carbon_sources" and e.region == "south-1" for e in result.excluded)


def test_the_plan_as_data_carries_the_window_and_each_start() -> None:
    job = Job(accelerator="A100", count=8, hours=3, earliest_start=NOW,
              deadline=NOW + 24 * HOUR)
    result = plan(job, {"north-1": DIP})
    data = json.loads(result.to_json())
    assert data["window"] == {"start": "2026-05-01T00:00Z", "deadline": "2026-05-02T00:00Z",
                              "interruptible": False}
    assert data["job"]["deadline"] == "2026-05-02T00:00:00+00:00"
    best = data["best"]
    assert best["start"] == "2026-05-01T10:00Z" and best["end"] == "2026-05-01T13:00Z"
    assert best["saving_vs_now_co2e_kg"] == pytest.approx(3 * KWH_PER_HOUR * 250 / 1000)
    assert best["schedule"]["slots"] == [["2026-05-01T10:00Z", "2026-05-01T13:00Z"]]
    table = result.table()
    assert "start (UTC)" in table and "kg saved vs now" in table
    assert "window: from 2026-05-01T00:00Z to 2026-05-02T00:00Z" in table
    assert "when: starts 2026-05-01T10:00Z" in table


def test_a_plan_without_a_window_is_unchanged() -> None:
    job = Job(accelerator="A100", count=8, hours=3)
    result = plan(job, {"north-1": DIP})
    assert result.timeshift is None and result.best.schedule is None
    assert "start" not in result.best.to_dict() and "window" not in result.to_dict()


@pytest.mark.parametrize(("kwargs", "field", "needle"), [
    ({"deadline": "2026-05-01T00:00"}, "deadline", "give a time zone"),
    ({"earliest_start": datetime(2026, 5, 1)}, "earliest_start", "give a time zone"),
    ({"deadline": "next tuesday"}, "deadline", "not an ISO 8601 time"),
    ({"deadline": 12}, "deadline", "must be a datetime"),
    ({"earliest_start": "2026-05-02T00:00Z", "deadline": "2026-05-01T00:00Z"}, "deadline",
     "must be after earliest_start"),
    ({"interruptible": "yes"}, "interruptible", "true or false"),
])
def test_bad_windows_name_their_field(kwargs, field, needle) -> None:
    with pytest.raises(greenml.InputError) as info:
        Job(accelerator="A100", hours=1, **kwargs)
    assert info.value.field == field and needle in str(info.value)


def test_times_are_read_from_iso_text_into_utc() -> None:
    job = Job(accelerator="A100", hours=1, earliest_start="2026-05-01T02:00+02:00",
              deadline="2026-05-01T06:00Z")
    assert job.earliest_start == NOW and job.deadline == NOW + 6 * HOUR
    assert job.shifts_in_time and not Job(accelerator="A100", hours=1).shifts_in_time
