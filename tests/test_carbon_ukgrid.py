"""The UK carbon intensity client against a local server: national and regional shapes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import UKGridFake, isolate, live_region, rejected

import greenml
from greenml.carbon.ukgrid import UKCarbonIntensity, region_ids

LONDON = live_region("aws", "eu-west-2", "GB", 230.0, "GB", 51.51, -0.13)
ELSEWHERE_GB = live_region("other", "manchester-1", "GB", 230.0, "GB", 53.48, -2.24)
PARIS = live_region("aws", "eu-west-3", "FR", 60.0, "FR", 48.86, 2.34)


@pytest.fixture
def uk(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path / "cache")
    fake = UKGridFake(lambda rid, when: 100.0 + rid + when.hour)
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", fake.url)
    yield fake
    fake.close()


def test_region_ids_are_package_data() -> None:
    assert region_ids()[("aws", "eu-west-2")] == 13
    assert region_ids()[("azure", "ukwest")] == 7


def test_no_key_needed_and_only_great_britain(uk) -> None:
    source = UKCarbonIntensity()
    assert source.check_credentials()[0] is True
    assert source.latest(PARIS) is None and source.forecast(PARIS, datetime.now(timezone.utc)) \
        is None
    assert uk.requests == []
    assert source.zone(LONDON) == "GB regionid 13" and source.zone(ELSEWHERE_GB) == "GB"


def test_national_latest_prefers_the_measured_actual(uk) -> None:
    uk.intensity = lambda rid, when: 250.0
    reading = UKCarbonIntensity().latest(ELSEWHERE_GB)
    assert reading is not None and reading.g_per_kwh == 250.0
    assert reading.kind == "forecast"  # the current half hour has no actual yet
    assert uk.paths() == ["/intensity"]
    now = datetime.now(timezone.utc)
    past = UKCarbonIntensity().history(ELSEWHERE_GB, now - timedelta(hours=3),
                                       now - timedelta(hours=1))
    assert past and all(r.kind == "measured" and r.period_s == 1800 for r in past)
    assert uk.paths()[-1].startswith("/intensity/") and len(past) in (4, 5)


def test_regional_latest_and_forecast_unwrap_the_nesting(uk) -> None:
    reading = UKCarbonIntensity().latest(LONDON)
    assert reading is not None and reading.zone == "GB regionid 13"
    assert reading.g_per_kwh == 113.0 + reading.at.hour
    assert uk.paths() == ["/regional/regionid/13"]
    now = datetime.now(timezone.utc)
    readings = UKCarbonIntensity().forecast(LONDON, now)
    assert readings is not None and len(readings) == 96
    assert all(r.kind == "forecast" and r.signal == "average" for r in readings)
    path = uk.paths()[-1]
    assert path.startswith("/regional/intensity/") and path.endswith("/fw48h/regionid/13")
    assert readings[0].at <= now < readings[0].at + timedelta(minutes=30)


def test_national_forecast_when_asked_for(uk) -> None:
    readings = UKCarbonIntensity(national=True).forecast(LONDON, datetime.now(timezone.utc))
    assert readings is not None and len(readings) == 96
    assert uk.paths()[-1].endswith("/fw48h") and uk.paths()[-1].startswith("/intensity/")


def test_the_services_error_body_is_reported(uk) -> None:
    uk.script(400, {"error": {"code": "400 Bad Request", "message": "Please enter a valid "
                              "date"}})
    with pytest.raises(greenml.CarbonSourceError, match="HTTP 400.*Please enter a valid date"):
        UKCarbonIntensity().latest(LONDON)


@pytest.mark.parametrize(("period", "why"), [
    ({"from": "2026-01-01T00:00Z", "to": "2026-01-01T01:00Z",
      "intensity": {"forecast": 100, "index": "low"}}, "not half an hour"),
    ({"from": "2026-01-01T00:00Z", "to": "2026-01-01T00:30Z",
      "intensity": {"forecast": None, "index": "low"}}, "forecast is null"),
    ({"from": "2026-01-01T00:00Z", "to": "2026-01-01T00:30Z",
      "intensity": {"forecast": 100, "index": "purple"}}, "index 'purple'"),
    ({"from": "2026-01-01T00:00Z", "to": "2026-01-01T00:30Z"}, "intensity is NoneType"),
])
def test_malformed_periods_are_rejected(uk, period, why) -> None:
    uk.script(200, {"data": [period]})
    with rejected(why):
        UKCarbonIntensity().latest(ELSEWHERE_GB)


def test_a_regional_answer_for_another_region_is_rejected(uk) -> None:
    uk.script(200, {"data": [{"regionid": 3, "shortname": "North West England", "data": []}]})
    with rejected("regionid 3, not 13"):
        UKCarbonIntensity().latest(LONDON)
