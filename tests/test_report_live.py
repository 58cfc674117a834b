"""``greenml report`` prices the measured energy with a live source's figures for the hours
the run ran: the real Electricity Maps and WattTime clients over HTTP against the local fakes
(tests/carbon_fakes.py), a launch against a memory double, and a sampler record placing the
run in time. A source that covers too little, fails, or gives the other signal keeps the
plan's figure and says why; with none configured the report is what it always was."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from carbon_fakes import ElectricityMapsFake, WattTimeFake, hour, iso_z, isolate

import greenml
from greenml import registry
from greenml.carbon.settings import DEFAULT_ATTEMPTS
from greenml.cli import main
from greenml.testing import MemoryProvider, ProviderPlugin, offer, region

TOKEN = "em-token-live-5b1e"
FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01, jitter=False)
IT_KWH = 8 * 0.5  # the record's eight GPUs


class Frankfurt(MemoryProvider):
    """A memory double with one region WattTime's region table knows by name (aws
    eu-central-1, zone DE), so that every live source covers it."""

    name = "aws"

    def regions(self):
        return (region(self.name, "eu-central-1", "DE", 380.0, 1.2),)

    def offers(self):
        return (offer(self.name, "eu-central-1", "p4d.24xlarge", "A100", 8, 32.0),)


def by_hour(zone: str, when: datetime) -> float:
    """Three neighbouring hours differ (100, 200, 300), so weighting by time matters."""
    return 100.0 + 100.0 * (when.hour % 3)


@pytest.fixture
def launched(greenml_fresh_plugins, greenml_ledger, monkeypatch, tmp_path):
    """No carbon variables set; the memory double launched as ``bert`` (2 h planned)."""
    isolate(monkeypatch, tmp_path / "cache")
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")

    def launch() -> greenml.Option:
        registry.default().manager.register(ProviderPlugin(Frankfurt()), name="frankfurt")
        plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=2, providers="aws"))
        greenml.launch(plan, name="bert", run="python train.py", retry=FAST)
        return plan.best

    return launch


@pytest.fixture
def em(monkeypatch):
    fake = ElectricityMapsFake(TOKEN, by_hour, zones=("DE",))
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    yield fake
    fake.close()


def record(tmp_path, start: datetime, hours: float = 2.0) -> str:
    """A sampler record of eight GPUs, 0.5 kWh each, over ``hours`` from ``start``."""
    data = {"greenml_measure": 1, "started_at": iso_z(start, millis=False),
            "ended_at": iso_z(start + timedelta(hours=hours), millis=False), "hours": hours,
            "kwh": {"gpu": IT_KWH, "total": IT_KWH},
            "devices": [{"id": f"gpu{i}", "kind": "gpu", "name": "A100",
                         "method": "nvml-energy-counter", "kwh": 0.5, "hours": hours,
                         "samples": 7200, "gap_s": 0} for i in range(8)],
            "unmeasured": []}
    path = tmp_path / "run.measure.json"
    path.write_text(json.dumps(data) + "\n")
    return str(path)


def run_start() -> datetime:
    """Twenty past the hour, three hours ago: a 2 h run spans 40, 60 and 20 minutes of
    three hourly readings."""
    return hour(datetime.now(timezone.utc)) - timedelta(hours=3) + timedelta(minutes=20)


def expected_mean(value, start: datetime, end: datetime) -> tuple[float, float]:
    """The hourly values served, weighted by the seconds of each hour the run spans; and
    the seconds that have a value."""
    weighted = covered = 0.0
    at = hour(start)
    while at < end:
        seconds = (min(at + timedelta(hours=1), end) - max(at, start)).total_seconds()
        g = value("DE", at)
        if g is not None:
            weighted, covered = weighted + g * seconds, covered + seconds
        at += timedelta(hours=1)
    return weighted / covered, covered


def test_the_live_figure_for_the_run_s_hours_prices_the_measured_energy(
        launched, em, tmp_path, capsys) -> None:
    launched()
    start = run_start()
    path = record(tmp_path, start)
    facts = greenml.report("bert", measured=path).to_dict()
    mean, covered_s = expected_mean(by_hour, start, start + timedelta(hours=2))
    assert covered_s == 7200
    used, planned = facts["intensity_used"], facts["intensity_planned"]
    assert used["basis"] == "live" and used["source"] == "electricitymaps"
    assert used["g_per_kwh"] == pytest.approx(mean)
    unweighted = sum(by_hour("DE", hour(start) + timedelta(hours=i)) for i in range(3)) / 3
    assert used["g_per_kwh"] != pytest.approx(unweighted)  # weighted by time, not by reading
    assert (used["measured_hours"], used["covered_hours"], used["coverage"]) == (2.0, 2.0, 1.0)
    assert used["readings"] == 3 and used["kinds"] == ["measured"] and used["zone"] == "DE"
    assert used["start"] == iso_z(start, millis=False) and used["signal"] == "average"
    # the plan's own figure stays beside it, with where it came from
    assert planned["g_per_kwh"] == facts["intensity_g_per_kwh"] != used["g_per_kwh"]
    assert planned["dataset"] and planned["year"] and planned["signal"] == "average"
    a = facts["actual"]
    assert a["co2e_kg"] == pytest.approx(IT_KWH * facts["pue"] * mean / 1000)
    assert a["intensity_g_per_kwh"] == used["g_per_kwh"]
    assert [r.path for r in em.requests] == ["/v3/carbon-intensity/history"]
    assert em.requests[0].query["zone"] == "DE"
    shift = [x for x in facts["explanation"] if x.startswith("grid intensity over the run's")]
    assert len(shift) == 1 and "(electricitymaps, 100% of the hours covered)" in shift[0]

    assert main(["report", "bert", "--measured", path]) == 0
    out = capsys.readouterr().out
    [row] = [x for x in out.splitlines() if x.startswith("grid intensity ")]
    assert f"{planned['g_per_kwh']:g} g CO2e/kWh (average signal)" in row
    assert "(electricitymaps, 2.00 of 2.00 measured hours, average signal)" in row
    [source] = [x for x in out.splitlines() if x.startswith("  grid intensity: ")]
    assert f"plan: {planned['dataset']}" in source
    assert "measured: electricitymaps (DE), average readings (measured) from " in source
    assert "time-weighted over the measured hours (100% covered)" in source
    assert "grid intensity electricitymaps gives for the hours the run ran" in out


def test_no_live_keeps_the_plan_s_figure(launched, em, tmp_path, capsys) -> None:
    launched()
    path = record(tmp_path, run_start())
    assert main(["report", "bert", "--measured", path, "--no-live", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    used = facts["intensity_used"]
    assert used["basis"] == "plan" and "--no-live" in used["why"]
    assert used["g_per_kwh"] == facts["intensity_g_per_kwh"]
    assert facts["actual"]["co2e_kg"] == pytest.approx(
        IT_KWH * facts["pue"] * facts["intensity_g_per_kwh"] / 1000)
    assert em.requests == []


def test_readings_covering_too_little_of_the_run_keep_the_plan_s_figure(
        launched, em, tmp_path, capsys) -> None:
    launched()
    start = run_start()
    first = hour(start)
    em.intensity = lambda zone, when: by_hour(zone, when) if when == first else None
    path = record(tmp_path, start)
    facts = greenml.report("bert", measured=path).to_dict()
    used = facts["intensity_used"]
    assert used["basis"] == "plan" and used["g_per_kwh"] == facts["intensity_g_per_kwh"]
    assert used["coverage"] == pytest.approx(40 / 120)  # the first hour's 40 minutes
    assert used["why"] == ("the readings of electricitymaps cover 33% of the run's hours, "
                           "0.67 of 2.00 h, and at least 80% is needed")
    assert facts["actual"]["co2e_kg"] == pytest.approx(
        IT_KWH * facts["pue"] * facts["intensity_g_per_kwh"] / 1000)
    assert f"the plan's grid intensity prices the measured energy: {used['why']}" in \
        facts["explanation"]
    assert main(["report", "bert", "--measured", path]) == 0
    out = capsys.readouterr().out
    assert "(the same)" in out and f"measured: the plan's figure, since {used['why']}" in out


def test_a_failing_source_keeps_the_plan_s_figure_and_says_why(launched, em,
                                                                tmp_path) -> None:
    launched()
    em.script(503, {"error": "maintenance"}, times=10)
    facts = greenml.report("bert", measured=record(tmp_path, run_start())).to_dict()
    used = facts["intensity_used"]
    assert used["basis"] == "plan" and used["asked"] == ["electricitymaps"]
    assert used["why"].startswith("no live figures for the run's hours: electricitymaps "
                                  "failed (")
    assert "503" in used["why"] and TOKEN not in json.dumps(facts)
    assert len(em.requests) == DEFAULT_ATTEMPTS  # GREENML_CARBON_ATTEMPTS' default
    assert facts["actual"]["co2e_kg"] == pytest.approx(
        IT_KWH * facts["pue"] * facts["intensity_g_per_kwh"] / 1000)


def test_a_marginal_source_never_prices_an_average_plan(launched, monkeypatch,
                                                        tmp_path) -> None:
    wt = WattTimeFake("ada", "s3cret-pw", lambda code, when: 900.0)
    try:
        monkeypatch.setenv("WATTTIME_USERNAME", "ada")
        monkeypatch.setenv("WATTTIME_PASSWORD", "s3cret-pw")
        monkeypatch.setenv("WATTTIME_API_URL", wt.url)
        launched()
        facts = greenml.report("bert", measured=record(tmp_path, run_start())).to_dict()
        assert wt.requests == []  # refused before asking
    finally:
        wt.close()
    used = facts["intensity_used"]
    assert facts["intensity_planned"]["signal"] == "average"
    assert used["basis"] == "plan" and used["asked"] == ["watttime"]
    assert used["why"] == ("watttime gives marginal figures and the plan ranked on average "
                           "ones; the two are never mixed")
    assert facts["actual"]["co2e_kg"] == pytest.approx(
        IT_KWH * facts["pue"] * facts["intensity_g_per_kwh"] / 1000)


def test_codecarbon_s_local_time_cannot_be_placed(launched, em, tmp_path) -> None:
    launched()
    path = tmp_path / "emissions.csv"
    path.write_text("timestamp,project_name,run_id,duration,emissions,energy_consumed\n"
                    "2026-05-02T10:00:00,bert,2,7200,0.9,4.0\n")
    used = greenml.report("bert", codecarbon=path).to_dict()["intensity_used"]
    assert used["basis"] == "plan" and "has no time zone" in used["why"]
    assert em.requests == []


def test_with_no_live_source_configured_the_report_is_unchanged(launched, tmp_path,
                                                                 capsys) -> None:
    launched()
    path = record(tmp_path, run_start())
    facts = greenml.report("bert", measured=path).to_dict()
    used = facts["intensity_used"]
    assert used["basis"] == "plan" and used["why"] == "" and used["asked"] == []
    assert used["g_per_kwh"] == facts["intensity_g_per_kwh"]
    assert facts["actual"]["co2e_kg"] == pytest.approx(
        IT_KWH * facts["pue"] * facts["intensity_g_per_kwh"] / 1000)
    assert not any("grid intensity over" in x or "prices the measured" in x
                   for x in facts["explanation"])
    assert facts["explanation"][-1].endswith("the same PUE and intensity price both columns")
    assert main(["report", "bert", "--measured", path]) == 0
    out = capsys.readouterr().out
    [row] = [x for x in out.splitlines() if x.startswith("grid intensity ")]
    assert row.endswith(f"{facts['intensity_g_per_kwh']:g} g CO2e/kWh (the same)")
    assert "measured: the plan's figure" not in out
