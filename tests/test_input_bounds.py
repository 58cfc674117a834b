"""Edge-case sizes, times and environment numbers: each is refused with exit 2 and one line
naming the option (or variable) and what is accepted, never planned, never an internal error;
and every ``--json`` is strict JSON (no NaN or Infinity)."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import greenml
from greenml.datafiles import defaults
from greenml.render import json_text
from greenml.testing import run_cli

ROOT = Path(__file__).resolve().parents[1]
BOUNDS = ("max_accelerators", "max_hours", "max_flops", "max_power_w", "max_pue",
          "max_intensity", "max_usd_per_accelerator_hour")
PLAN = ("plan", "--accelerator", "A100")


def strict_json(text: str) -> object:
    """Parse as a strict JSON reader does: NaN, Infinity and -Infinity are errors."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def one_line_exit_2(*args: str, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == 2, (args, result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result.stderr


def test_every_bound_is_a_sourced_row_of_the_data_file() -> None:
    rows = defaults()
    for name in BOUNDS:
        bound = rows[name]
        assert bound.value > 0 and math.isfinite(bound.value), name
        assert bound.source.startswith("greenml bound:") and bound.year and bound.note, name


@pytest.mark.parametrize("name", BOUNDS)
def test_the_docs_state_each_bound_as_the_code_holds_it(name: str) -> None:
    """README and docs/cli.md print every bound with the value defaults.csv holds."""
    value = defaults()[name].value
    shown = {f"{value:,.0f}", f"{value:g}", f"{value:.1f}"}
    for page in (ROOT / "README.md", ROOT / "docs" / "cli.md"):
        line = next((x for x in page.read_text().splitlines() if x.startswith(f"| `{name}` |")),
                    "")
        assert line, f"{page.name} has no row for {name}"
        cell = line.split("|")[2].strip()
        assert cell.split()[0] in shown, f"{page.name}: {name} is {cell}, not one of {shown}"


# sizes (defect 9)


@pytest.mark.catalogs
@pytest.mark.parametrize(("args", "flag", "accepted"), [
    (["--count", "99999999999999999999", "--hours", "1"], "--count", "at most 1,000,000"),
    (["--count", "1000001", "--hours", "1"], "--count", "at most 1,000,000"),
    (["--hours", "1e308"], "--hours", "at most 87,600 h"),
    (["--hours", "87601"], "--hours", "at most 87,600 h"),
    (["--hours", "1e400"], "--hours", "must be a finite number"),
    (["--hours", "inf"], "--hours", "must be a finite number"),
    (["--hours", "nan"], "--hours", "must be a finite number"),
    (["--flops", "1e300"], "--flops", "at most 1e+30 FLOPs"),
    (["--flops", "1e400"], "--flops", "must be a finite number"),
    (["--hours", "1", "--max-cost", "nan"], "--max-cost", "must be a finite number"),
    (["--hours", "1", "--min-memory=-inf"], "--min-memory", "must be a finite number"),
])
def test_absurd_sizes_exit_2_naming_the_option(args: list[str], flag: str,
                                               accepted: str) -> None:
    line = one_line_exit_2(*PLAN, *args)
    assert line.startswith("greenml: error: ") and flag in line and accepted in line, line


@pytest.mark.catalogs
def test_sizes_at_the_bounds_plan_to_finite_strict_json() -> None:
    hours = defaults()["max_hours"].value
    count = defaults()["max_accelerators"].value
    result = run_cli(*PLAN, "--count", f"{count:.0f}", "--hours", f"{hours:g}", "--json",
                     "--top", "3")
    assert result.returncode == 0, result.stderr
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    best = data["best"]
    assert best["instances"] * best["accelerators_per_instance"] >= count
    assert best["hours"] >= hours
    assert all(math.isfinite(best[k]) for k in ("energy_kwh", "co2e_kg", "hours"))
    ranked = [o["co2e_kg"] for o in data["options"]]
    assert ranked == sorted(ranked)


@pytest.mark.catalogs
def test_an_accelerator_too_slow_for_the_flops_is_excluded_with_the_bound() -> None:
    """The largest flops on one accelerator would run for millennia: no option, exit 2,
    and the exclusion says which bound, instead of an infinite or absurd runtime."""
    line = one_line_exit_2(*PLAN, "--count", "1", "--flops", "1e30")
    assert "87,600 h bound" in line, line
    with pytest.raises(greenml.NoFeasibleOption) as info:
        greenml.plan(greenml.Job(accelerator="A100", count=1, flops=1e30))
    reasons = [e.reason for e in info.value.excluded]
    assert reasons and any("over the 87,600 h bound" in r for r in reasons)


def test_a_runtime_over_the_bound_is_refused_by_estimate() -> None:
    job = greenml.Job(accelerator="A100", count=1, flops=1e30)
    with pytest.raises(greenml.InputError, match=r"^flops: A100 would need .* h, over the "
                       r"87,600 h bound"):
        greenml.estimate(job, pue=1.1, intensity=100)


# times (defect 8)


@pytest.mark.catalogs
@pytest.mark.parametrize(("option", "value", "accepted"), [
    (option, value, accepted)
    for option in ("--start-after", "--finish-by")
    for value, accepted in [
        ("+1e400h", "is more than 87,600 h (10 years) from now"),
        ("+99999999d", "is more than 87,600 h (10 years) from now"),
        ("+1e15d", "is more than 87,600 h (10 years) from now"),
        ("+87601h", "is more than 87,600 h (10 years) from now"),
        ("+nanh", "expected +N followed by m, h or d"),
        ("9999-12-31T23:59Z", "must be at most 87,600 h (10 years) from now"),
        ("9999-12-31T23:59-05:00", "is out of range in UTC"),
        ("0001-01-01T00:00+05:00", "is out of range in UTC"),
    ]
])
def test_far_dates_exit_2_naming_the_option(option: str, value: str, accepted: str) -> None:
    line = one_line_exit_2(*PLAN, "--hours", "1", option, value)
    assert f"{option}: " in line and accepted in line, line


def test_a_job_window_beyond_the_bound_is_an_input_error() -> None:
    far = datetime.now(timezone.utc) + timedelta(hours=defaults()["max_hours"].value + 24)
    for field in ("earliest_start", "deadline"):
        with pytest.raises(greenml.InputError, match=f"^{field}: must be at most 87,600 h"):
            greenml.Job(accelerator="A100", hours=1, **{field: far})
        with pytest.raises(greenml.InputError, match=f"^{field}: is out of range in UTC"):
            greenml.Job(accelerator="A100", hours=1, **{field: "9999-12-31T23:00-05:00"})
    near = datetime.now(timezone.utc) + timedelta(days=365)
    assert greenml.Job(accelerator="A100", hours=1, deadline=near).deadline == near


# environment numbers (defect 8)


RETRY = ("launch", "--accelerator", "A100", "--hours", "1", "--name", "bounds",
         "--run", "true", "--dry-run")


@pytest.mark.catalogs
@pytest.mark.parametrize("value", ["abc", "nan", "inf", "1e400", "-1"])
def test_a_malformed_retry_delay_variable_exits_2_naming_it(value: str) -> None:
    line = one_line_exit_2(*RETRY, env={"GREENML_RETRY_BASE_DELAY_S": value})
    assert line == (f"greenml: error: GREENML_RETRY_BASE_DELAY_S: must be a number of seconds "
                    f">= 0, got '{value}'\n")


def test_the_retry_policy_reads_a_good_variable(monkeypatch) -> None:
    monkeypatch.setenv("GREENML_RETRY_BASE_DELAY_S", " 0.25 ")
    assert greenml.RetryPolicy().base_delay_s == 0.25
    monkeypatch.setenv("GREENML_RETRY_BASE_DELAY_S", "")
    assert greenml.RetryPolicy().base_delay_s == 1.0


@pytest.mark.catalogs
@pytest.mark.parametrize("variable", [
    "GREENML_CARBON_CACHE_TTL_S", "GREENML_CARBON_CONNECT_TIMEOUT_S",
    "GREENML_CARBON_READ_TIMEOUT_S", "GREENML_CARBON_ATTEMPTS", "GREENML_CARBON_DEADLINE_S",
])
@pytest.mark.parametrize("value", ["abc", "1e400"])
def test_a_malformed_carbon_variable_stops_a_live_plan(variable: str, value: str,
                                                       tmp_path) -> None:
    """Not taken for the source's failure and fallen back from: the user's setting is wrong."""
    env = {variable: value, "GREENML_UK_CARBON_API_URL": "http://127.0.0.1:9",
           "GREENML_CACHE_DIR": str(tmp_path)}
    line = one_line_exit_2(*PLAN, "--hours", "1", "--carbon-source", "uk-carbon-intensity",
                           env=env)
    assert line.startswith(f"greenml: error: {variable}: must be a ") and repr(value) in line


@pytest.mark.catalogs
@pytest.mark.parametrize("variable", ["GREENML_AZURE_POLL_INTERVAL_S",
                                      "GREENML_AZURE_SDK_RETRIES"])
@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1"])
def test_a_malformed_azure_variable_names_itself(variable: str, value: str,
                                                 monkeypatch) -> None:
    arm = pytest.importorskip("greenml_azure.arm")  # its connection settings, no SDK call
    monkeypatch.setenv(variable, value)
    with pytest.raises(greenml.InputError, match=f"^{variable}: must be a number"):
        arm.connection()


def test_every_numeric_greenml_variable_is_covered() -> None:
    """The variables read as numbers in greenml and its plugins are the ones tested here, in
    the on-prem tests (GREENML_ONPREM_TIMEOUT_S) and the Azure tests (GREENML_AZURE_*)."""
    found: set[str] = set()
    for path in [*ROOT.glob("greenml/**/*.py"), *ROOT.glob("plugins/*/greenml_*/**/*.py")]:
        found |= set(re.findall(r'"(GREENML_\w+_(?:S|ATTEMPTS|RETRIES))"', path.read_text()))
    assert found == {
        "GREENML_RETRY_BASE_DELAY_S", "GREENML_CARBON_CACHE_TTL_S",
        "GREENML_CARBON_CONNECT_TIMEOUT_S", "GREENML_CARBON_READ_TIMEOUT_S",
        "GREENML_CARBON_ATTEMPTS", "GREENML_CARBON_DEADLINE_S", "GREENML_ONPREM_TIMEOUT_S",
        "GREENML_AZURE_POLL_INTERVAL_S", "GREENML_AZURE_SDK_RETRIES",
        "GREENML_PROGRESS_INTERVAL_S", "GREENML_LOGS_INTERVAL_S",
        # read on the node, not by greenml: the sampler falls back to 1 s on a value it
        # cannot use (tests/test_sampler.py), and the boot script's poll is a test hook
        "GREENML_SAMPLE_INTERVAL_S", "GREENML_RENDEZVOUS_POLL_S",
    }


# strict JSON (defect 9)


def test_json_text_writes_no_nan_or_infinity() -> None:
    data = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": (2, "x"),
            "d": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    assert strict_json(json_text(data)) == {"a": None, "b": [None, None, 1.5], "c": [2, "x"],
                                            "d": "2026-01-01 00:00:00+00:00"}


@pytest.mark.catalogs
@pytest.mark.parametrize("args", [
    (*PLAN, "--count", "8", "--hours", "72", "--json"),
    (*PLAN, "--flops", "1e28", "--count", "1000000", "--json", "--top", "2"),
    ("plan", "--accelerator", "any", "--count", "64", "--flops", "1e24", "--json", "--top",
     "400"),
    ("regions", "--json"),
    ("accelerators", "--json"),
    ("plugins", "--json"),
    ("launch", *PLAN[1:], "--hours", "1", "--name", "strict", "--run", "true", "--dry-run",
     "--json"),
])
def test_every_json_output_is_strict_json(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    strict_json(result.stdout)
