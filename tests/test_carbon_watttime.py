"""The WattTime client against a local server speaking the v3 shapes: login, re-login,
forecast, historical, region-from-loc, units."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import WattTimeFake, isolate, live_region, rejected

import greenml
from greenml.carbon.watttime import G_PER_KWH_PER_LB_PER_MWH, WattTime, region_codes

USER, PASSWORD = "grace", "pw-5b8e0c6a1d"
CALIFORNIA = live_region("aws", "us-west-1", "US", 250.0, "US-CAL-CISO", 37.78, -122.42)
NEVADA = live_region("other", "vegas-1", "US", 400.0, "US-NW-NEVP", 36.17, -115.14)


@pytest.fixture
def wt(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path / "cache")
    fake = WattTimeFake(USER, PASSWORD, lambda code, when: 1000.0 + when.minute,
                        regions_by_loc={(36.17, -115.14): "NEVP"})
    monkeypatch.setenv("WATTTIME_USERNAME", USER)
    monkeypatch.setenv("WATTTIME_PASSWORD", PASSWORD)
    monkeypatch.setenv("WATTTIME_API_URL", fake.url)
    yield fake
    fake.close()


def test_the_mapping_is_package_data_with_a_source() -> None:
    from greenml.datafiles import rows

    data = list(rows("greenml.data", "watttime_regions.csv"))
    assert data and all(row["source"] and row["watttime_region"] for _, _, row in data)
    assert region_codes()[("aws", "us-west-1")] == "CAISO_NORTH"
    assert region_codes()[("azure", "westus2")] == "GCPD"


def test_login_then_forecast_in_g_per_kwh_marginal(wt) -> None:
    source = WattTime()
    assert source.signal == "marginal"
    readings = source.forecast(CALIFORNIA, datetime.now(timezone.utc))
    assert readings is not None and len(readings) == 24 * 12
    first = readings[0]
    assert (first.signal, first.kind, first.zone, first.period_s) == (
        "marginal", "forecast", "CAISO_NORTH", 300)
    assert first.g_per_kwh == pytest.approx((1000.0 + first.at.minute) * 0.453592)
    assert G_PER_KWH_PER_LB_PER_MWH == 0.453592
    assert wt.paths() == ["/login", "/v3/forecast"]
    assert wt.requests[0].headers["authorization"].startswith("Basic ")
    assert wt.requests[1].headers["authorization"].startswith("Bearer wt-token-1")
    assert wt.requests[1].query["region"] == "CAISO_NORTH"
    assert wt.requests[1].query["signal_type"] == "co2_moer"


def test_the_horizon_asked_follows_the_deadline(wt) -> None:
    now = datetime.now(timezone.utc)
    WattTime().forecast(CALIFORNIA, now, now + timedelta(hours=6, minutes=10))
    assert wt.requests[-1].query["horizon_hours"] == "7"


def test_an_expired_token_logs_in_again_once(wt) -> None:
    source = WattTime()
    now = datetime.now(timezone.utc)
    assert source.history(CALIFORNIA, now - timedelta(hours=2), now - timedelta(hours=1))
    wt.expire_tokens()
    readings = source.history(CALIFORNIA, now - timedelta(hours=4), now - timedelta(hours=3))
    assert readings and all(r.kind == "measured" for r in readings)
    assert wt.paths() == ["/login", "/v3/historical", "/v3/historical", "/login",
                          "/v3/historical"]
    assert wt.logins == 2


def test_refused_credentials_fail_the_source_and_hide_the_password(wt, monkeypatch) -> None:
    monkeypatch.setenv("WATTTIME_PASSWORD", "not-the-password-9c1")
    with pytest.raises(greenml.CarbonSourceError) as info:
        WattTime().forecast(CALIFORNIA, datetime.now(timezone.utc))
    assert "login refused (HTTP 403)" in str(info.value)
    assert "not-the-password-9c1" not in str(info.value) and info.value.scope == "source"


def test_latest_is_the_last_historical_point(wt) -> None:
    reading = WattTime().latest(CALIFORNIA)
    assert reading is not None and reading.kind == "measured"
    assert datetime.now(timezone.utc) - reading.at < timedelta(minutes=11)


def test_unmapped_regions_are_found_by_coordinates_once(wt) -> None:
    source = WattTime()
    assert source.zone(NEVADA) == ""
    assert source.forecast(NEVADA, datetime.now(timezone.utc))[0].zone == "NEVP"
    assert wt.paths() == ["/login", "/v3/region-from-loc", "/v3/forecast"]
    query = wt.requests[1].query
    assert (query["latitude"], query["longitude"], query["signal_type"]) == (
        "36.17", "-115.14", "co2_moer")
    WattTime().forecast(NEVADA, datetime.now(timezone.utc))
    assert wt.paths().count("/v3/region-from-loc") == 1


def test_coordinates_outside_every_region_mean_no_data(wt) -> None:
    lost = live_region("other", "sea-1", "US", 100.0, "", 0.0, -140.0)
    assert WattTime().forecast(lost, datetime.now(timezone.utc)) is None
    assert WattTime().forecast(live_region("other", "nowhere", "US", 1.0, ""),
                               datetime.now(timezone.utc)) is None


def test_wrong_units_are_rejected(wt) -> None:
    wt.units = "g_co2_per_kwh"
    with rejected("units are 'g_co2_per_kwh'", "rejected the forecast"):
        WattTime().forecast(CALIFORNIA, datetime.now(timezone.utc))


def test_a_forecast_for_another_region_or_signal_is_rejected(wt) -> None:
    wt.script(200, {"token": "x"})
    body = wt.series("PJM_DC", "co2_moer", datetime.now(timezone.utc), 3)
    wt.script(200, body)
    with rejected("not 'CAISO_NORTH'"):
        WattTime().forecast(CALIFORNIA, datetime.now(timezone.utc))


def test_a_null_value_is_rejected(wt) -> None:
    wt.lbs = lambda code, when: None  # type: ignore[assignment,return-value]
    with rejected("value is null"):
        WattTime().forecast(CALIFORNIA, datetime.now(timezone.utc))


def test_average_signal_type_makes_an_average_source(wt, monkeypatch) -> None:
    monkeypatch.setenv("WATTTIME_SIGNAL_TYPE", "co2_aoer")
    source = WattTime()
    assert source.signal == "average"
    readings = source.forecast(CALIFORNIA, datetime.now(timezone.utc))
    assert readings and readings[0].signal == "average"
    assert wt.requests[-1].query["signal_type"] == "co2_aoer"
    assert WattTime(signal_type="co2").check_credentials()[0] is False


def test_not_configured_without_credentials(monkeypatch, tmp_path) -> None:
    isolate(monkeypatch, tmp_path)
    assert WattTime().check_credentials() == (
        False, "not configured: set WATTTIME_USERNAME and WATTTIME_PASSWORD")
    with pytest.raises(greenml.CarbonSourceError, match="not configured"):
        WattTime().forecast(CALIFORNIA, datetime.now(timezone.utc))
