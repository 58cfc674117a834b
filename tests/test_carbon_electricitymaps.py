"""The Electricity Maps client against a local server speaking the v3 shapes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import ElectricityMapsFake, isolate, live_region, rejected

import greenml
from greenml.carbon.electricitymaps import ElectricityMaps

TOKEN = "em-token-7f3a91c2d4"
GERMANY = live_region("aws", "eu-central-1", "DE", 380.0, "DE", 50.11, 8.68)


@pytest.fixture
def em(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path / "cache")
    fake = ElectricityMapsFake(TOKEN, lambda zone, when: 100.0 + when.hour)
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    yield fake
    fake.close()


def test_latest_reading_is_average_and_measured(em) -> None:
    reading = ElectricityMaps().latest(GERMANY)
    now = datetime.now(timezone.utc)
    assert reading is not None
    assert (reading.source, reading.signal, reading.kind, reading.zone) == (
        "electricitymaps", "average", "measured", "DE")
    assert reading.g_per_kwh == 100.0 + reading.at.hour
    assert abs((reading.at - now).total_seconds()) < 3600
    request = em.requests[-1]
    assert request.path == "/v3/carbon-intensity/latest"
    assert request.query == {"zone": "DE", "emissionFactorType": "lifecycle"}
    assert request.headers["auth-token"] == TOKEN
    intensity = ElectricityMaps().intensity(GERMANY)
    assert intensity is not None and intensity.kind == "measured"


def test_direct_emission_factors_are_asked_for_and_checked(em, monkeypatch) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_EMISSION_FACTOR_TYPE", "direct")
    assert ElectricityMaps().latest(GERMANY) is not None
    assert em.requests[-1].query["emissionFactorType"] == "direct"
    bad = ElectricityMaps(emission_factor_type="marginal")
    assert bad.check_credentials() == (
        False, "ELECTRICITYMAPS_EMISSION_FACTOR_TYPE must be lifecycle or direct, got 'marginal'")


def test_history_skips_null_hours(em) -> None:
    em.intensity = lambda zone, when: None if when.hour % 2 else 200.0
    now = datetime.now(timezone.utc)
    readings = ElectricityMaps().history(GERMANY, now - timedelta(hours=24), now)
    assert readings and all(r.g_per_kwh == 200.0 and r.kind == "measured" for r in readings)
    assert 11 <= len(readings) <= 12
    assert em.paths() == ["/v3/carbon-intensity/history"]


def test_history_older_than_a_day_uses_past_range(em) -> None:
    start = datetime(2026, 1, 10, tzinfo=timezone.utc)
    readings = ElectricityMaps().history(GERMANY, start, start + timedelta(hours=6))
    assert readings is not None and [r.at.hour for r in readings] == [0, 1, 2, 3, 4, 5]
    assert em.requests[-1].path == "/v3/carbon-intensity/past-range"
    assert em.requests[-1].query["start"].startswith("2026-01-10T00:00:00")


def test_forecast_is_hourly_and_marked_forecast(em) -> None:
    now = datetime.now(timezone.utc)
    readings = ElectricityMaps().forecast(GERMANY, now)
    assert readings is not None and len(readings) == 24
    assert all(r.kind == "forecast" and r.period_s == 3600 for r in readings)
    assert [r.at for r in readings] == sorted(r.at for r in readings)
    assert readings[0].g_per_kwh == 100.0 + readings[0].at.hour


def test_a_region_without_a_zone_has_no_data(em) -> None:
    nowhere = live_region("aws", "x-1", "DE", 300.0, "")
    assert ElectricityMaps().latest(nowhere) is None
    assert em.requests == []


def test_not_configured_without_a_token(monkeypatch, tmp_path) -> None:
    isolate(monkeypatch, tmp_path)
    source = ElectricityMaps()
    assert source.check_credentials() == (False, "not configured: set ELECTRICITYMAPS_API_TOKEN")


def test_a_refused_token_fails_the_source_without_revealing_it(em) -> None:
    em.echo = True
    source = ElectricityMaps(token="wrong-token-123456789")
    with pytest.raises(greenml.CarbonSourceError) as info:
        source.latest(GERMANY)
    message = str(info.value)
    assert "HTTP 401" in message and "Invalid auth-token" in message
    assert "wrong-token-123456789" not in message and "***" in message
    assert info.value.scope == "source"


def test_an_unknown_zone_fails_only_that_region(em) -> None:
    faraway = live_region("aws", "x-1", "NZ", 100.0, "NZ")
    with pytest.raises(greenml.CarbonSourceError) as info:
        ElectricityMaps().latest(faraway)
    assert info.value.scope == "region" and "Zone 'NZ' does not exist" in str(info.value)


def test_a_null_latest_intensity_is_rejected_with_a_warning(em) -> None:
    em.intensity = lambda zone, when: None
    with rejected("carbonIntensity is null", "rejected"):
        ElectricityMaps().latest(GERMANY)


def test_a_forecast_with_a_null_hour_is_rejected(em) -> None:
    gap = (datetime.now(timezone.utc).hour + 3) % 24
    em.intensity = lambda zone, when: None if when.hour == gap else 150.0
    with rejected("forecast for DE"):
        ElectricityMaps().forecast(GERMANY, datetime.now(timezone.utc))


@pytest.mark.parametrize(("body", "why"), [
    ({"zone": "FR", "carbonIntensity": 50, "datetime": "2026-01-01T00:00:00.000Z"}, "zone"),
    ({"zone": "DE", "carbonIntensity": "high", "datetime": "2026-01-01T00:00:00.000Z"},
     "not a number"),
    ({"zone": "DE", "carbonIntensity": 302, "datetime": "yesterday"}, "ISO 8601"),
    ({"zone": "DE", "carbonIntensity": 302, "datetime": "2026-01-01T00:00:00"}, "time zone"),
    ({"zone": "DE", "carbonIntensity": 302000, "datetime": "2026-01-01T00:00:00.000Z"},
     "wrong units"),
    ({"zone": "DE", "datetime": "2026-01-01T00:00:00.000Z"}, "no carbonIntensity"),
    ({"zone": "DE", "carbonIntensity": 302, "datetime": "2026-01-01T00:00:00.000Z",
      "emissionFactorType": "direct"}, "emissionFactorType"),
    (["not", "an", "object"], "not an object"),
])
def test_malformed_latest_answers_are_rejected(em, body, why) -> None:
    em.script(200, body)
    with rejected(why):
        ElectricityMaps().latest(GERMANY)


def test_garbage_that_is_not_json_is_rejected(em) -> None:
    em.script(200, b"<html>Service Unavailable</html>")
    with rejected("not JSON") as info:
        ElectricityMaps().latest(GERMANY)
    assert info.value.scope == "source"
