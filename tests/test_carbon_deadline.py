"""One deadline per source per plan (issue 17, defect 4).

A per-read timeout does not bound a server that drips its answer a byte at a time, nor one
that answers late on every retry. Each source gets one deadline per plan, covering connecting,
every read, retries and their waits; past it the source is unavailable, the plan falls back
and the options say so. Timings are printed (``pytest -s``) and asserted only loosely: the
deadline plus a generous 10 s.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from carbon_fakes import (
    ElectricityMapsFake,
    UKGridFake,
    isolate,
    live_catalog,
    live_region,
    tls_service,
)

import greenml
from greenml.carbon.electricitymaps import ElectricityMaps
from greenml.testing import run_cli

TOKEN = "em-token-deadline-5d1e"
JOB = greenml.Job(accelerator="A100", count=8, hours=10)
GERMANY = live_region("aws", "eu-central-1", "DE", 380.0, "DE", 50.11, 8.68)
SLACK_S = 10.0  # what a test allows beyond the deadline: planning, a loaded machine


@pytest.fixture
def slept(monkeypatch, tmp_path):
    return isolate(monkeypatch, tmp_path / "cache")


@pytest.fixture
def em(slept, monkeypatch):
    fake = ElectricityMapsFake(TOKEN, lambda zone, when: {"DE": 300.0}.get(zone, 99.0),
                               zones=("DE", "FR", "US-CAL-CISO", "GB"))
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    yield fake
    fake.close()


def timed(what: str, call, *args, **kwargs):
    started = time.monotonic()
    result = call(*args, **kwargs)
    took = time.monotonic() - started
    print(f"\n{what}: {took:.2f} s")
    return result, took


def fell_back_for_the_deadline(plan: greenml.Plan, source: str, deadline_s: float) -> None:
    for option in plan.options:
        note = next(n for n in option.notes if n.startswith(source))
        assert f"within its {deadline_s:g} s deadline (GREENML_CARBON_DEADLINE_S" in note, note
        assert "used" in note
        if option.region.intensity is not None:
            assert option.estimate.intensity_g_per_kwh == option.region.intensity.g_per_kwh


def test_a_dripping_server_costs_the_plan_its_deadline_and_no_more(em) -> None:
    em.drip_s = 0.05  # a byte every 50 ms: each read is quick, the answer takes ~20 s
    plan, took = timed("dripping server, 1.5 s deadline", greenml.plan, JOB,
                       catalog=live_catalog(), carbon_sources="electricitymaps,embedded",
                       carbon_deadline_s=1.5)
    assert took < 1.5 + SLACK_S
    fell_back_for_the_deadline(plan, "electricitymaps", 1.5)
    assert len(em.requests) == 1, "a source out of time is not asked for the other regions"


def test_a_late_server_costs_the_deadline_not_every_attempt(em, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_CARBON_READ_TIMEOUT_S", "20")
    monkeypatch.setenv("GREENML_CARBON_DEADLINE_S", "1.5")
    em.delay_s = 60.0
    plan, took = timed("late server, 1.5 s deadline from the environment", greenml.plan, JOB,
                       catalog=live_catalog(), carbon_sources="electricitymaps,embedded")
    assert took < 1.5 + SLACK_S
    fell_back_for_the_deadline(plan, "electricitymaps", 1.5)
    note = plan.best.notes[0]
    assert "no answer from /carbon-intensity/latest" in note and "stopped while reading" in note


def test_the_deadline_covers_a_time_shifted_plan_too(em) -> None:
    em.drip_s = 0.05
    window = greenml.Job(accelerator="A100", count=8, hours=2, interruptible=True)
    plan, took = timed("dripping server, forecasts, 1 s deadline", greenml.plan, window,
                       catalog=live_catalog(), carbon_sources="electricitymaps,embedded",
                       carbon_deadline_s=1)
    assert took < 1 + SLACK_S
    assert all(any("within its 1 s deadline" in n for n in o.notes) for o in plan.options)
    assert em.paths() == ["/v3/carbon-intensity/forecast"]


def test_every_live_source_dead_takes_at_most_one_deadline_each(em, monkeypatch) -> None:
    uk = UKGridFake(lambda rid, when: 150.0)
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", uk.url)
    em.delay_s = 60.0
    uk.drip_s = 0.05
    try:
        plan, took = timed("two dead sources, 1 s deadline each", greenml.plan, JOB,
                           catalog=live_catalog(),
                           carbon_sources="uk-carbon-intensity,electricitymaps,embedded",
                           carbon_deadline_s=1)
    finally:
        uk.close()
    assert took < 2 * 1 + SLACK_S
    london = next(o for o in plan.options if o.region.name == "eu-west-2")
    assert "uk-carbon-intensity failed (no answer from /regional/regionid/13 within its 1 s " \
           "deadline" in london.notes[0]
    assert all(any("electricitymaps failed" in n and "1 s deadline" in n for n in o.notes)
               for o in plan.options)


def test_a_retry_after_past_the_deadline_is_not_waited_for(em, slept, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_CARBON_DEADLINE_S", "2")
    em.script(503, {"message": "busy"}, {"Retry-After": "5"})
    with pytest.raises(greenml.CarbonSourceError) as error:
        ElectricityMaps().latest(GERMANY)
    assert slept == [] and len(em.requests) == 1
    assert "a retry in 5.0 s would pass the deadline" in str(error.value)


def test_a_retry_after_past_the_deadline_falls_back_in_a_plan(em, slept) -> None:
    em.script(503, {"message": "busy"}, {"Retry-After": "5"})
    plan = greenml.plan(JOB, catalog=live_catalog(), carbon_sources="electricitymaps,embedded",
                        carbon_deadline_s=2)
    assert slept == [] and len(em.requests) == 1
    assert all("HTTP 503: busy; a retry in 5.0 s would pass the deadline" in o.notes[0]
               for o in plan.options)


def test_backoff_waits_stay_inside_the_deadline(em, slept, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_CARBON_DEADLINE_S", "0.9")
    em.script(503, {"error": "upstream"}, times=3)
    with pytest.raises(greenml.CarbonSourceError, match="a retry in 1.0 s would pass"):
        ElectricityMaps().latest(GERMANY)
    assert slept == [0.5], "the first backoff fits, the second would pass the deadline"


def test_a_source_called_outside_a_plan_is_bounded_too(em, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_CARBON_DEADLINE_S", "1")
    em.drip_s = 0.05
    started = time.monotonic()
    with pytest.raises(greenml.CarbonSourceError, match="within its 1 s deadline"):
        ElectricityMaps().latest(GERMANY)
    assert time.monotonic() - started < 1 + SLACK_S


def test_a_dripping_server_over_tls_is_cut_too(em, monkeypatch, tmp_path) -> None:
    pytest.importorskip("cryptography")
    monkeypatch.setenv("SSL_CERT_FILE", tls_service(em, tmp_path))
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL",
                       f"https://127.0.0.1:{em.server.server_address[1]}/v3")
    assert ElectricityMaps().latest(GERMANY) is not None, "TLS works when the server is quick"
    em.drip_s = 0.05
    monkeypatch.setenv("GREENML_CARBON_DEADLINE_S", "1")
    region = live_region("aws", "eu-west-3", "FR", 60.0, "FR")  # not cached yet
    started = time.monotonic()
    with pytest.raises(greenml.CarbonSourceError, match="within its 1 s deadline"):
        ElectricityMaps().latest(region)
    assert time.monotonic() - started < 1 + SLACK_S


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "30", True])
def test_a_bad_deadline_is_refused_naming_it(slept, bad) -> None:
    with pytest.raises(greenml.InputError) as error:
        greenml.plan(JOB, catalog=live_catalog(), carbon_deadline_s=bad)
    assert error.value.field == "carbon_deadline_s"


def test_a_bad_deadline_setting_is_refused_naming_it(em, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_CARBON_DEADLINE_S", "soon")
    with pytest.raises(greenml.InputError) as error:
        greenml.plan(JOB, catalog=live_catalog(), carbon_sources="electricitymaps")
    assert error.value.field == "GREENML_CARBON_DEADLINE_S"


def greenml_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=300)


@pytest.mark.catalogs
def test_the_cli_plan_takes_a_deadline_and_says_why_it_fell_back(em) -> None:
    em.drip_s = 0.05
    done, took = timed("greenml plan --carbon-deadline 2 against a dripping server",
                       greenml_cli, "plan", "--accelerator", "A100", "--count", "8", "--hours",
                       "72", "--carbon-source", "electricitymaps,embedded",
                       "--carbon-deadline", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert took < 2 + SLACK_S + 5  # and a Python start-up
    options = json.loads(done.stdout)["options"]
    assert options and all(any("within its 2 s deadline" in n for n in o["notes"])
                           for o in options)
    refused = greenml_cli("plan", "--accelerator", "A100", "--hours", "1",
                          "--carbon-deadline", "0")
    assert refused.returncode == 2
    assert refused.stderr.startswith("greenml: error: --carbon-deadline: must be a number of "
                                     "seconds above 0") and len(refused.stderr.splitlines()) == 1
