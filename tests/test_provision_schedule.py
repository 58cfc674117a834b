"""Provisioning keeps the plan's schedule: a later start is launched only by a provider that
can defer it, and no provider is handed a schedule that pauses the job."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import greenml
from greenml import registry
from greenml.carbon import CarbonSource, Reading
from greenml.testing import MemoryProvider, ProviderPlugin

HOUR = timedelta(hours=1)
NOW = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


class Forecast(CarbonSource):
    """The same hourly forecast for every region, from the current hour on."""

    name = "handmade"
    signal = "average"

    def __init__(self, series: list[float]) -> None:
        self.series = series

    def forecast(self, region, start, end=None):
        return [Reading(NOW + i * HOUR, v, "average", "forecast", self.name, region.name, 3600)
                for i, v in enumerate(self.series)]


class Deferring(MemoryProvider):
    """A memory provider that, like a scheduler's begin time, keeps a later start."""

    capabilities = MemoryProvider.capabilities | {"defer"}


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch, greenml_fresh_plugins, greenml_ledger):
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")


def register(provider: MemoryProvider) -> MemoryProvider:
    registry.default().manager.register(ProviderPlugin(provider), name="memory-plugin")
    return provider


def planned(series: list[float], **window) -> greenml.Plan:
    job = greenml.Job(accelerator="A100", count=8, hours=2, deadline=NOW + 24 * HOUR, **window)
    return greenml.plan(job, carbon_sources=[Forecast(series)])


LATER = [400.0] * 6 + [10.0] * 3 + [400.0] * 15  # the best 2 h start 6 h from now


def test_a_later_start_is_not_launched_now_by_a_provider_that_cannot_defer() -> None:
    provider = register(MemoryProvider())
    plan = planned(LATER)
    assert plan.best.schedule.start == NOW + 6 * HOUR
    with pytest.raises(greenml.LaunchError) as failed:
        plan.launch(name="later", run="python train.py")
    attempts = failed.value.attempts
    assert len(attempts) == 2, "both regions' options were skipped, each saying why"
    for a in attempts:
        assert a.reason.startswith(f"the plan starts this option at "
                                   f"{NOW + 6 * HOUR:%Y-%m-%dT%H:%MZ} (saving ")
        assert "memory cannot defer a start: provision it then" in a.reason
    assert provider.cloud.calls == [], "nothing was created"


def test_the_dry_run_says_so_too() -> None:
    register(MemoryProvider())
    with pytest.raises(greenml.InputError, match="cannot defer a start"):
        planned(LATER).launch(name="later", run="true", dry_run=True)


def test_a_provider_that_defers_gets_the_later_start() -> None:
    provider = register(Deferring())
    launch = planned(LATER).launch(name="later", run="python train.py")
    assert launch.option.schedule.start == NOW + 6 * HOUR
    assert len(provider.cloud.live()) == 1


def test_a_start_now_launches_on_any_provider() -> None:
    provider = register(MemoryProvider())
    now_is_best = [10.0] * 3 + [400.0] * 21
    launch = planned(now_is_best).launch(name="now", run="true")
    assert launch.option.schedule.start <= datetime.now(timezone.utc)
    assert len(provider.cloud.live()) == 1


def test_a_schedule_that_pauses_the_job_is_launched_by_no_provider() -> None:
    provider = register(Deferring())
    gaps = [400.0] * 24
    gaps[3], gaps[9] = 5.0, 6.0  # interruptible: two one-hour slots, six hours apart
    plan = planned(gaps, interruptible=True)
    assert len(plan.best.schedule.slots) == 2
    with pytest.raises(greenml.LaunchError) as failed:
        plan.launch(name="paused", run="true")
    assert all("in 2 separate slots (interruptible), and greenml does not pause and resume "
               "a job" in a.reason for a in failed.value.attempts)
    assert provider.cloud.calls == []


def test_a_dry_run_skips_what_the_launch_would_skip_and_says_why() -> None:
    register(MemoryProvider())

    class NorthWaits(Forecast):
        def forecast(self, region, start, end=None):
            if region.name != "memory-north-1":
                return [Reading(NOW + i * HOUR, 300.0, "average", "forecast", self.name,
                                region.name, 3600) for i in range(24)]
            return super().forecast(region, start, end)

    job = greenml.Job(accelerator="A100", count=8, hours=2, deadline=NOW + 24 * HOUR)
    plan = greenml.plan(job, carbon_sources=[NorthWaits(LATER)])
    assert plan.best.region.name == "memory-north-1"
    dry = plan.launch(name="later", run="true", dry_run=True)
    assert dry.option.region.name == "memory-south-1"
    lines = dry.description.splitlines()
    assert lines[0].startswith("dry run: launch 'later' would create 1 x mem.a100x8 on memory "
                               "in memory-south-1")
    [skip] = [line for line in lines if line.startswith("  skips ")]
    assert skip.startswith("  skips memory/memory-north-1 mem.a100x8: the plan starts this "
                           "option at ")
