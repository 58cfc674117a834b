"""``greenml plan --start-after/--finish-by/--interruptible/--carbon-source`` and
``greenml intensity``, against local servers, as a user runs them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import ElectricityMapsFake, UKGridFake, isolate

from greenml.cli import main
from greenml.testing import run_cli

TOKEN = "em-cli-token-0d9e1f"


def dip_at(hours_ahead: int):
    """300 g/kWh everywhere, but 40 in the hour ``hours_ahead`` from now (and the next)."""
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    low = {now + timedelta(hours=hours_ahead), now + timedelta(hours=hours_ahead + 1)}
    return lambda zone, when: 40.0 if when in low else 300.0


@pytest.fixture
def em(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path / "cache")
    fake = ElectricityMapsFake(TOKEN, dip_at(5), zones=None)
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    yield fake
    fake.close()


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("args", "needle"), [
    (["--finish-by", "tomorrow"], "--finish-by: not an ISO 8601 time"),
    (["--finish-by", "2026-05-01T00:00"], "--finish-by: give a time zone"),
    (["--start-after", "+1d", "--finish-by", "+2h"], "--finish-by: must be after earliest_start"),
    (["--start-after", "+xh"], "--start-after: expected +N followed by m, h or d"),
    (["--carbon-source", "watttime,electricitymaps"], "--carbon-source: these sources mix"),
    (["--carbon-source", "electricitymap"], "--carbon-source: unknown carbon source"),
])
def test_bad_windows_and_sources_exit_2_with_one_line(capsys, monkeypatch, tmp_path, args,
                                                      needle) -> None:
    isolate(monkeypatch, tmp_path)
    code, out, err = run(capsys, "plan", "--accelerator", "A100", "--count", "8", "--hours",
                         "3", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("greenml: error: ") and needle in err


@pytest.mark.catalogs
def test_plan_with_a_window_shows_each_start_and_the_saving(capsys, em) -> None:
    code, out, err = run(capsys, "plan", "--accelerator", "A100", "--count", "8", "--hours",
                         "2", "--finish-by", "+20h", "--carbon-source", "electricitymaps",
                         "--country", "DE,FR", "--top", "3")
    assert code == 0, err
    assert "start (UTC)" in out and "kg saved vs now" in out and "window: from " in out
    start = (datetime.now(timezone.utc) + timedelta(hours=5)).strftime("%Y-%m-%d %H:00Z")
    assert start in out
    assert "when: starts " in out and "less than starting at" in out
    asked = {r.query["zone"] for r in em.requests}
    assert asked and asked <= {"DE", "FR"}, "only the regions the job may use are asked"
    code, out, _ = run(capsys, "plan", "--accelerator", "A100", "--count", "8", "--hours",
                       "2", "--finish-by", "+20h", "--carbon-source", "electricitymaps",
                       "--country", "FR", "--json", "--top", "1")
    data = json.loads(out)
    assert data["window"]["deadline"] and data["best"]["start"].endswith(":00Z")
    assert data["best"]["saving_vs_now_co2e_kg"] > 0


@pytest.mark.catalogs
def test_interruptible_plans_run_in_slots(capsys, em) -> None:
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    low = {now + timedelta(hours=h) for h in (3, 9)}
    em.intensity = lambda zone, when: 30.0 if when in low else 300.0
    code, out, err = run(capsys, "plan", "--accelerator", "A100", "--count", "8", "--hours",
                         "2", "--finish-by", "+20h", "--interruptible", "--carbon-source",
                         "electricitymaps", "--region", "aws/eu-central-1", "--json")
    assert code == 0, err
    best = json.loads(out)["best"]
    assert len(best["schedule"]["slots"]) == 2 and best["schedule"]["interruptible"]


@pytest.mark.catalogs
def test_intensity_lists_every_source_and_why_some_gave_nothing(capsys, em, monkeypatch) -> None:
    uk = UKGridFake(lambda rid, when: 180.0)
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", uk.url)
    try:
        code, out, err = run(capsys, "intensity", "aws/eu-west-2")
        assert code == 0, err
        assert "grid zone GB" in out
        lines = {line.split()[0]: line for line in out.splitlines()[3:]}
        assert "180" in lines["uk-carbon-intensity"] and "average" in lines["uk-carbon-intensity"]
        assert "300" in lines["electricitymaps"] and "measured" in lines["electricitymaps"]
        assert "not configured: set WATTTIME_USERNAME" in lines["watttime"]
        assert "annual" in lines["embedded"]
        code, out, err = run(capsys, "intensity", "eu-west-2", "--forecast", "--source",
                             "uk-carbon-intensity", "--json")
        assert code == 0, err
        data = json.loads(out)
        readings = data["sources"][0]["readings"]
        assert len(readings) == 96 and {r["kind"] for r in readings} == {"forecast"}
        assert data["sources"][0]["zone"] == "GB regionid 13"
    finally:
        uk.close()


@pytest.mark.catalogs
def test_intensity_of_an_unknown_region_suggests_the_closest(capsys, monkeypatch,
                                                             tmp_path) -> None:
    isolate(monkeypatch, tmp_path)
    code, out, err = run(capsys, "intensity", "eu-west-22")
    assert code == 2 and out == ""
    assert err.strip() == "greenml: error: REGION: unknown region 'eu-west-22' (did you mean " \
                          "'eu-west-2'?)"


@pytest.mark.catalogs
def test_intensity_from_a_failing_source_exits_2(capsys, em) -> None:
    em.script(500, {"error": "down"}, times=3)
    code, out, err = run(capsys, "intensity", "eu-central-1", "--source", "electricitymaps")
    assert code == 2 and out == ""
    assert "electricitymaps: failed: HTTP 500: down" in err and err.count("\n") == 1


@pytest.mark.catalogs
def test_the_installed_command_end_to_end(em, tmp_path) -> None:
    env = {"GREENML_CACHE_DIR": str(tmp_path / "cli-cache"),
           "ELECTRICITYMAPS_API_TOKEN": TOKEN, "ELECTRICITYMAPS_API_URL": em.api_url}
    result = run_cli("plan", "--accelerator", "A100", "--count", "8", "--hours", "2",
                     "--start-after", "now", "--finish-by", "+12h", "--carbon-source",
                     "electricitymaps,embedded", "--country", "DE", "--explain", env=env)
    assert result.returncode == 0, result.stderr
    assert "kg saved vs now" in result.stdout and "when: starts" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    plugins = run_cli("plugins", env=env)
    assert "electricitymaps (average): ready" in plugins.stdout
