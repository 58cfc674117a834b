"""Launch when, not only where (issue 14, 6): ``launch`` takes every planning flag ``plan``
has, and a plan that asked for live data and fell back says so first, with each source's
reason, in the table, the JSON and ``plan.notes``; a window that saves nothing says why."""

from __future__ import annotations

import json

import pytest
from carbon_fakes import ElectricityMapsFake, isolate, live_catalog

import greenml
from greenml.carbon.electricitymaps import ElectricityMaps
from greenml.cli import build_parser, main

TOKEN = "em-SECRET-token-launchflags"
JOB = greenml.Job(accelerator="A100", count=8, hours=10)
#: What plan shows or writes about a plan (not how it plans): launch has no use for them.
SHOWING = {"--top", "--explain", "--save", "--json", "-h", "--help", "--statement", "--chart",
           "--export", "--run"}


def flags(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "==SUPPRESS==" or a.choices)
    return {s for a in sub.choices[command]._actions for s in a.option_strings}


def test_launch_takes_every_planning_flag_of_plan() -> None:
    planning = flags("plan") - SHOWING
    assert {"--start-after", "--finish-by", "--interruptible", "--carbon-source",
            "--carbon-data", "--carbon-deadline"} <= planning
    assert planning <= flags("launch"), sorted(planning - flags("launch"))


@pytest.fixture
def slept(monkeypatch, tmp_path):
    return isolate(monkeypatch, tmp_path / "cache")


def test_an_unconfigured_source_is_said_in_the_notes_json_and_first_line(slept, capsys
                                                                        ) -> None:
    plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources="electricitymaps,embedded")
    assert plan.notes == (
        "live carbon data fell back in 4 of 4 region(s) (each option's notes say what it "
        "used): electricitymaps skipped: not configured: set ELECTRICITYMAPS_API_TOKEN",)
    assert json.loads(plan.to_json(top=1))["notes"] == list(plan.notes)
    saved = greenml.Plan.from_json(plan.to_json())  # launched later, it still says so
    assert saved.notes == plan.notes and saved.table() == plan.table()
    assert plan.table().splitlines()[0].endswith(
        "(average grid intensity); live carbon data fell back in 4 of 4 region(s) (each "
        "option's notes say what it used): electricitymaps skipped: not configured: set "
        "ELECTRICITYMAPS_API_TOKEN")


def test_an_http_error_is_named_with_its_status(slept, monkeypatch) -> None:
    fake = ElectricityMapsFake(TOKEN, lambda zone, when: 100.0, zones=("DE", "FR"))
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    try:
        fake.script(500, {"error": "internal"}, times=3)
        plan = greenml.plan(JOB, catalog=live_catalog(),
                            carbon_sources=[ElectricityMaps(), "embedded"])
    finally:
        fake.close()
    [note] = plan.notes
    assert note.startswith("live carbon data fell back in 4 of 4 region(s)")
    assert "electricitymaps failed (HTTP 500: internal" in note
    assert TOKEN not in note


def test_a_plan_whose_live_source_answered_has_no_notes(slept, monkeypatch) -> None:
    fake = ElectricityMapsFake(TOKEN, lambda zone, when: 100.0,
                               zones=("DE", "FR", "US-CAL-CISO", "GB"))
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    try:
        plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources="electricitymaps")
    finally:
        fake.close()
    assert plan.notes == ()
    assert "fell back" not in plan.table().splitlines()[0]


def test_embedded_data_alone_has_no_notes() -> None:
    plan = greenml.plan(JOB, catalog=live_catalog())
    assert plan.notes == () and json.loads(plan.to_json(top=1))["notes"] == []


def test_a_window_without_forecasts_says_why_nothing_is_saved(slept) -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
    job = greenml.Job(accelerator="A100", count=8, hours=10, earliest_start=now,
                      deadline=now + timedelta(days=2))
    plan = greenml.plan(job, catalog=live_catalog(), now=now)
    assert plan.notes == (
        "time shifting can save nothing in 4 of 4 region(s): no forecasting source was asked "
        "(the embedded figures are annual averages; ask one with --carbon-source, e.g. "
        "electricitymaps,embedded); every start there is alike, so those options start at "
        "once",)
    table = plan.table()
    assert "time shifting can save nothing" in table.splitlines()[0]
    rows = table.splitlines()[6:10]
    assert all(r.endswith("none: no forecast") for r in rows), rows
    [when] = [line for line in table.splitlines() if line.startswith("when: ")]
    assert when.endswith("no forecast for this region, so every start is alike and nothing "
                         "is saved by waiting (see the first line)")


def test_cli_launch_plans_when_and_says_the_fallback(greenml_memory_provider, slept,
                                                    monkeypatch, capsys) -> None:
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    args = ["launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
            "--provider", "memory", "--name", "when", "--run", "true",
            "--carbon-source", "electricitymaps,embedded", "--carbon-deadline", "5",
            "--start-after", "now", "--finish-by", "+1d"]
    assert main([*args, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("dry run: launch 'when' would create 1 x mem.a100x8")
    assert err.splitlines() == [
        "greenml: note: live carbon data fell back in 2 of 2 region(s) (each option's notes "
        "say what it used): electricitymaps skipped: not configured: set "
        "ELECTRICITYMAPS_API_TOKEN",
        "greenml: note: time shifting can save nothing in 2 of 2 region(s): no live source "
        "gave a forecast for them; every start there is alike, so those options start at once"]

    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["option"]["provider"] == "memory"


def test_cli_launch_interruptible_is_planned_and_refused_with_the_reason(
        greenml_memory_provider, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    code = main(["launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
                 "--provider", "memory", "--name", "pause", "--run", "true",
                 "--interruptible", "--finish-by", "+1d", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err  # one slot: no forecast, so nothing to pause for
    assert "dry run" in out


def test_a_saved_plan_refuses_the_planning_flags(tmp_path, greenml_memory_provider,
                                                 monkeypatch, capsys) -> None:
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    saved = tmp_path / "plan.json"
    assert main(["plan", "--accelerator", "A100", "--count", "8", "--hours", "1",
                 "--save", str(saved), "--json"]) == 0
    capsys.readouterr()
    code = main(["launch", "--plan", str(saved), "--name", "saved", "--run", "true",
                 "--start-after", "+1h", "--carbon-source", "embedded"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--carbon-source, --start-after" in err
