"""The network part: retries, timeouts, rejected data, the disk cache, fallback in a plan,
one signal kind per plan, and secrets that never leave the process."""

from __future__ import annotations

import logging
import time
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import (
    ElectricityMapsFake,
    UKGridFake,
    WattTimeFake,
    isolate,
    live_catalog,
    live_region,
)
from test_plugins import install_plugin

import greenml
from greenml.carbon import cache
from greenml.carbon.electricitymaps import ElectricityMaps
from greenml.carbon.ukgrid import UKCarbonIntensity
from greenml.carbon.watttime import WattTime

TOKEN = "em-SECRET-token-4c2e9b7a05"
PASSWORD = "wt-SECRET-pw-81f0d3"
JOB = greenml.Job(accelerator="A100", count=8, hours=10)


@pytest.fixture
def slept(monkeypatch, tmp_path):
    return isolate(monkeypatch, tmp_path / "cache")


@pytest.fixture
def em(slept, monkeypatch):
    fake = ElectricityMapsFake(TOKEN, lambda zone, when: {"DE": 300.0, "FR": 40.0}.get(zone, 99),
                               zones=("DE", "FR", "US-CAL-CISO", "GB"))
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    yield fake
    fake.close()


def test_429_is_retried_after_the_time_the_server_asks(em, slept) -> None:
    em.script(429, {"message": "Too many requests"}, {"Retry-After": "2"})
    reading = ElectricityMaps().latest(live_region("aws", "eu-central-1", "DE", 1, "DE"))
    assert reading is not None and reading.g_per_kwh == 300.0
    assert slept == [2.0] and len(em.requests) == 2


def test_5xx_is_retried_with_exponential_backoff(em, slept) -> None:
    em.script(503, {"error": "upstream"}, times=2)
    assert ElectricityMaps().latest(live_region("aws", "eu-central-1", "DE", 1, "DE"))
    assert slept == [0.5, 1.0] and len(em.requests) == 3


def test_a_retry_after_too_long_is_not_waited_for(em, slept) -> None:
    em.script(429, {"message": "come back tomorrow"}, {"Retry-After": "86400"})
    with pytest.raises(greenml.CarbonSourceError, match="asked to retry after 86400 s"):
        ElectricityMaps().latest(live_region("aws", "eu-central-1", "DE", 1, "DE"))
    assert slept == [] and len(em.requests) == 1


def test_a_failing_source_falls_back_and_every_affected_option_says_so(em, slept) -> None:
    em.script(500, {"error": "internal"}, times=3)
    plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources=[ElectricityMaps(),
                                                                      "embedded"])
    assert len(plan) == 4
    for option in plan.options:
        note = next(n for n in option.notes if "electricitymaps" in n)
        assert "electricitymaps failed (HTTP 500: internal from /carbon-intensity/latest " \
               "after 3 attempt(s))" in note and note.endswith("used embedded")
        assert option.estimate.intensity_g_per_kwh == option.region.intensity.g_per_kwh
    assert len(em.requests) == 3, "a source that failed for good is not asked again"
    assert slept == [0.5, 1.0]


def test_a_slow_server_hits_the_timeout_and_the_plan_falls_back(em, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_CARBON_READ_TIMEOUT_S", "0.2")
    monkeypatch.setenv("GREENML_CARBON_ATTEMPTS", "1")
    em.delay_s = 30.0  # the fake's stop() cuts it short
    plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources="electricitymaps,embedded")
    assert any("timed out (reading, limit 0.2 s)" in n for n in plan.best.notes)
    assert plan.best.estimate.intensity_g_per_kwh == plan.best.region.intensity.g_per_kwh


def test_garbage_is_rejected_with_a_warning_and_never_used(em) -> None:
    em.script(200, b"{not json")
    with pytest.warns(greenml.CarbonDataWarning, match="not JSON"):
        plan = greenml.plan(JOB, catalog=live_catalog(),
                            carbon_sources=[ElectricityMaps(), "embedded"])
    assert all(o.estimate.intensity_g_per_kwh == o.region.intensity.g_per_kwh
               for o in plan.options)
    assert any("rejected the response" in n for n in plan.best.notes)


def test_live_readings_rank_the_plan_and_are_explained(em) -> None:
    plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources="electricitymaps")
    best = plan.best
    assert best.region.name == "eu-west-3" and best.estimate.intensity_g_per_kwh == 40.0
    figure = next(f for f in best.estimate.inputs if f.name == "intensity")
    assert figure.source == "electricitymaps" and "average signal, measured" in figure.note
    assert best.notes == ()
    german = next(o for o in plan.options if o.region.name == "eu-central-1")
    assert german.estimate.intensity_g_per_kwh == 300.0


def test_a_region_a_source_cannot_answer_falls_to_the_next(em) -> None:
    catalog = live_catalog()
    em.zones = ("DE",)
    plan = greenml.plan(JOB, catalog=catalog, carbon_sources=["electricitymaps", "embedded"])
    french = next(o for o in plan.options if o.region.name == "eu-west-3")
    assert any("Zone 'FR' does not exist" in n and n.endswith("used embedded")
               for n in french.notes)
    assert len(em.requests) == 4, "a region-level failure does not stop the source"


def test_an_unconfigured_source_is_skipped_and_named(slept) -> None:
    plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources=["electricitymaps"])
    assert all(o.notes == ("electricitymaps skipped: not configured: set "
                           "ELECTRICITYMAPS_API_TOKEN; used the embedded annual average "
                           "(test grid)",)
               for o in plan.options)


def test_the_cache_spares_the_second_plan_and_expires(em, monkeypatch) -> None:
    catalog = live_catalog()
    first = greenml.plan(JOB, catalog=catalog, carbon_sources="electricitymaps")
    asked = len(em.requests)
    assert asked == 4
    second = greenml.plan(JOB, catalog=catalog, carbon_sources="electricitymaps")
    assert len(em.requests) == asked, "the second plan made no request"
    assert second.best.estimate.co2e_kg == first.best.estimate.co2e_kg
    later = time.time() + 901
    monkeypatch.setattr(cache, "clock", lambda: later)
    greenml.plan(JOB, catalog=catalog, carbon_sources="electricitymaps")
    assert len(em.requests) == 2 * asked, "an expired entry is fetched again"


def test_a_zero_ttl_disables_the_cache(em, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GREENML_CARBON_CACHE_TTL_S", "0")
    region = live_region("aws", "eu-central-1", "DE", 1, "DE")
    ElectricityMaps().latest(region)
    ElectricityMaps().latest(region)
    assert len(em.requests) == 2
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_cache_files_are_written_whole_and_a_corrupt_one_is_ignored(em, tmp_path) -> None:
    region = live_region("aws", "eu-central-1", "DE", 1, "DE")
    ElectricityMaps().forecast(region, datetime.now(timezone.utc))
    files = list((tmp_path / "cache").rglob("*"))
    written = [f for f in files if f.is_file()]
    assert len(written) == 1 and written[0].suffix == ".json"
    assert not any(f.name.startswith(".tmp-") for f in files)
    written[0].write_text("{half a file")
    assert ElectricityMaps().forecast(region, datetime.now(timezone.utc))
    assert len(em.requests) == 2


def test_mixing_average_and_marginal_sources_is_refused(slept) -> None:
    with pytest.raises(greenml.InputError) as info:
        greenml.plan(JOB, catalog=live_catalog(), carbon_sources=[WattTime(), ElectricityMaps()])
    assert info.value.field == "carbon_sources"
    assert "watttime is marginal, electricitymaps is average" in str(info.value)
    window = greenml.Job(accelerator="A100", count=8, hours=10, interruptible=True)
    with pytest.raises(greenml.InputError, match="mix average and marginal"):
        greenml.plan(window, catalog=live_catalog(), carbon_sources=[WattTime(), "embedded"])


def test_a_marginal_plan_leaves_out_regions_without_marginal_data(slept, monkeypatch) -> None:
    fake = WattTimeFake("ada", PASSWORD, lambda code, when: 900.0 if code == "DE" else 700.0)
    monkeypatch.setenv("WATTTIME_USERNAME", "ada")
    monkeypatch.setenv("WATTTIME_PASSWORD", PASSWORD)
    monkeypatch.setenv("WATTTIME_API_URL", fake.url)
    catalog = live_catalog()
    lost = live_region("aws", "ap-east-1", "HK", 700.0, "HK", 22.28, 114.16)
    catalog = greenml.Catalog([*catalog.regions, lost],
                              [*catalog.offers, greenml.testing.offer("aws", "ap-east-1", "p4d",
                                                                      "A100", 8, 20.0)],
                              catalog.accelerators)
    try:
        plan = greenml.plan(JOB, catalog=catalog, carbon_sources="watttime")
    finally:
        fake.close()
    assert plan.signal == "marginal" and len(plan) == 4
    assert plan.best.estimate.intensity_g_per_kwh == pytest.approx(700 * 0.453592)
    left_out = [e for e in plan.excluded if e.field == "carbon_sources"]
    assert [e.region for e in left_out] == ["ap-east-1"]
    assert "no marginal figure for this region" in left_out[0].reason


def test_secrets_never_leave_the_process(em, monkeypatch, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wt = WattTimeFake("ada", PASSWORD, lambda code, when: 800.0)
    monkeypatch.setenv("WATTTIME_USERNAME", "ada")
    monkeypatch.setenv("WATTTIME_PASSWORD", PASSWORD)
    monkeypatch.setenv("WATTTIME_API_URL", wt.url)
    em.echo = True
    texts: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            region = live_region("aws", "eu-central-1", "DE", 1, "DE")
            source = ElectricityMaps()
            source.latest(region)
            source.forecast(region, datetime.now(timezone.utc))
            em.script(200, b"garbage " + TOKEN.encode())
            with pytest.raises(greenml.CarbonSourceError) as error:
                ElectricityMaps().history(region, datetime(2026, 1, 1, tzinfo=timezone.utc),
                                          datetime(2026, 1, 1, 3, tzinfo=timezone.utc))
            texts.append(str(error.value))
            with pytest.raises(greenml.CarbonSourceError) as error:
                ElectricityMaps(token=TOKEN + "-wrong").latest(
                    live_region("aws", "eu-west-3", "FR", 1, "FR"))
            texts.append(str(error.value))
            wt_source = WattTime()
            window = greenml.Job(accelerator="A100", count=8, hours=2, interruptible=True)
            plan = greenml.plan(window, catalog=live_catalog(), carbon_sources=[wt_source])
            texts += [plan.to_json(), plan.table(), *(o.explain() for o in plan.options)]
            wt.expire_tokens()
            wt.script(401, {"error": f"bad token {wt_source._token}"}, times=2)
            with pytest.raises(greenml.CarbonSourceError) as error:
                wt_source.history(region, datetime(2026, 1, 1, tzinfo=timezone.utc),
                                  datetime(2026, 1, 1, 1, tzinfo=timezone.utc))
            texts.append(str(error.value))
            monkeypatch.setenv("WATTTIME_PASSWORD", PASSWORD + "x")
            with pytest.raises(greenml.CarbonSourceError) as error:
                WattTime().history(live_region("aws", "us-west-1", "US", 1, ""),
                                   datetime(2025, 1, 1, tzinfo=timezone.utc),
                                   datetime(2025, 1, 1, 1, tzinfo=timezone.utc))
            texts.append(str(error.value))
    finally:
        wt.close()
    tokens = [t for t in (wt_source._token,) if t]
    texts += [str(w.message) for w in caught]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(source), repr(wt_source), repr(plan)]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*")
              if p.is_file()]
    assert caught and caplog.records and len(texts) > 10
    for secret in (TOKEN, PASSWORD, *tokens):
        leaks = [t for t in texts if secret in t]
        assert not leaks, f"{secret[:6]}... leaked in {leaks[0][:200]}"


def test_an_external_plugin_adds_a_source_by_entry_point(tmp_path, monkeypatch, slept) -> None:
    install_plugin(tmp_path, monkeypatch, "greenml_mygrid", """
        from datetime import timedelta

        import greenml
        from greenml.testing import offer, region

        class Tiny(greenml.provider.Provider):
            name = "tiny"
            def regions(self):
                return [region("tiny", "fjord-1", "NO", 30.0)]
            def offers(self):
                return [offer("tiny", "fjord-1", "a100.box", "A100", 8, 10.0)]

        class MyGrid(greenml.CarbonSource):
            name, signal = "mygrid", "average"

            def forecast(self, region, start, end=None):
                return [greenml.Reading(start + timedelta(hours=i), 10.0 if i == 5 else 90.0,
                                        "average", "forecast", self.name) for i in range(12)]

        @greenml.hookimpl
        def greenml_providers():
            return [Tiny()]

        @greenml.hookimpl
        def greenml_carbon_sources():
            return [MyGrid()]
    """)
    infos = {i.name: i for i in greenml.registry.infos()}
    assert infos["greenml_mygrid"].carbon_sources == ("mygrid (average): ready; ",)
    now = datetime(2026, 5, 1, 6, tzinfo=timezone.utc)
    job = greenml.Job(accelerator="A100", count=8, hours=1, providers="tiny",
                      deadline=now + timedelta(hours=12))
    plan = greenml.plan(job, carbon_sources="mygrid", now=now)
    assert plan.best.start == now + timedelta(hours=5)
    assert plan.best.estimate.intensity_g_per_kwh == 10.0


def test_the_uk_source_needs_no_key(slept, monkeypatch) -> None:
    fake = UKGridFake(lambda rid, when: 150.0)
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", fake.url)
    try:
        plan = greenml.plan(JOB, catalog=live_catalog(),
                            carbon_sources="uk-carbon-intensity,embedded")
    finally:
        fake.close()
    london = next(o for o in plan.options if o.region.name == "eu-west-2")
    assert london.estimate.intensity_g_per_kwh == 150.0 and london.notes == ()
    paris = next(o for o in plan.options if o.region.name == "eu-west-3")
    assert paris.notes == ("no data from uk-carbon-intensity; used embedded",)
    assert fake.paths() == ["/regional/regionid/13"]


def test_history_window_for_the_watttime_latest_is_recent(slept, monkeypatch) -> None:
    fake = WattTimeFake("ada", PASSWORD, lambda code, when: 500.0)
    monkeypatch.setenv("WATTTIME_USERNAME", "ada")
    monkeypatch.setenv("WATTTIME_PASSWORD", PASSWORD)
    monkeypatch.setenv("WATTTIME_API_URL", fake.url)
    try:
        intensity = WattTime().intensity(live_region("aws", "us-west-1", "US", 1, ""))
    finally:
        fake.close()
    assert intensity is not None and intensity.kind == "measured"
    assert intensity.g_per_kwh == pytest.approx(500 * 0.453592)
    query = fake.requests[-1].query
    start = datetime.fromisoformat(query["start"])
    assert datetime.now(timezone.utc) - start < timedelta(hours=1, minutes=1)
    assert UKCarbonIntensity().check_credentials()[0]


def test_retry_after_as_an_http_date_is_waited_for(em, slept) -> None:
    from email.utils import format_datetime

    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
    em.script(429, {"message": "Too many requests"}, {"Retry-After": later})
    reading = ElectricityMaps().latest(live_region("aws", "eu-central-1", "DE", 1, "DE"))
    assert reading is not None and reading.g_per_kwh == 300.0
    assert len(slept) == 1 and 3.0 <= slept[0] <= 5.0, "an HTTP date, counted from now"
