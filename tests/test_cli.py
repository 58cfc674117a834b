"""The greenml command as a user runs it: tables, --json, one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest

from greenml.testing import run_cli

pytestmark = pytest.mark.catalogs


def test_plan_prints_a_ranked_table_across_clouds() -> None:
    result = run_cli("plan", "--accelerator", "A100", "--count", "8", "--hours", "72",
                     "--top", "40")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for word in ("kWh", "kg CO2e", "USD", "hours", "baseline", "saving"):
        assert word in out
    assert {"aws", "gcp", "azure"} <= set(out.split())


def test_plan_json_is_the_same_plan_as_data() -> None:
    result = run_cli("plan", "--accelerator", "A100", "--count", "8", "--hours", "72", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    best = data["best"]
    assert best == data["options"][0]
    assert {"provider", "region", "instance_type", "energy_kwh", "co2e_kg", "cost_usd",
            "hours", "inputs"} <= set(best)
    assert data["savings"]["saved_co2e_kg"] > 0
    co2 = [o["co2e_kg"] for o in data["options"]]
    assert co2 == sorted(co2)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--accelerator", "A1000", "--hours", "1"], "--accelerator: unknown accelerator"),
        (["--accelerator", "A100", "--count", "0", "--hours", "1"], "--count"),
        (["--accelerator", "A100", "--count", "x", "--hours", "1"], "--count"),
        (["--accelerator", "A100", "--hours", "-5"], "--hours"),
        (["--accelerator", "A100", "--hours", "nan"], "--hours"),
        (["--accelerator", "A100", "--flops", "1e22", "--utilization", "2"], "--utilization"),
        (["--accelerator", "A100", "--hours", "1", "--country", "ZZ"], "--country"),
        (["--accelerator", "A100", "--hours", "1", "--country", "FI", "--not-country", "FI"],
         "exclude every country"),
        (["--accelerator", "A100", "--hours", "10", "--max-cost", "1"], "max_cost_usd"),
        (["--accelerator", "A100", "--hours", "1", "--provider", "ibm"], "unknown provider"),
        (["--accelerator", "A100"], "hours"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    result = run_cli("plan", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("greenml: error: ") and needle in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_accelerator_suggests_the_closest() -> None:
    result = run_cli("plan", "--accelerator", "H10", "--hours", "1")
    assert result.returncode == 2 and "did you mean" in result.stderr and "H100" in result.stderr


@pytest.mark.parametrize("command", ["regions", "accelerators", "plugins"])
def test_listing_commands_have_tables_and_json(command: str) -> None:
    table = run_cli(command)
    assert table.returncode == 0, table.stderr
    data = json.loads(run_cli(command, "--json").stdout)
    assert isinstance(data, list) and data


def test_regions_filter_by_provider() -> None:
    data = json.loads(run_cli("regions", "--provider", "gcp", "--json").stdout)
    assert data and {r["provider"] for r in data} == {"gcp"}
    assert all(r["intensity"]["source"] and r["pue"]["source"] for r in data)
    bad = run_cli("regions", "--provider", "gpc")
    assert bad.returncode == 2 and "gcp" in bad.stderr
