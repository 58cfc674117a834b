"""Like for like: one grid-intensity methodology for every provider, named datasets, robustness.

These run on the real embedded catalog (the cloud plugins' regions and offers).
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from carbon_fakes import ElectricityMapsFake, isolate

import greenml
from greenml import datasets
from greenml.registry import default_catalog
from greenml.testing import run_cli

pytestmark = pytest.mark.catalogs
ROOT = Path(__file__).resolve().parent.parent
A100_JOB = greenml.Job(accelerator="A100", count=8, hours=72)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=120)


def test_every_shipped_region_and_the_example_site_map_to_a_zone_of_every_year() -> None:
    zones_by_year = {d.year: set(d.figures) for d in datasets.datasets().values()
                     if d.family == "electricitymaps"}
    assert sorted(zones_by_year) == [2021, 2022, 2023, 2024, 2025]
    regions = [r for r in default_catalog().regions if r.provider in ("aws", "gcp", "azure")]
    assert len(regions) > 100
    for region in regions:
        for year, zones in zones_by_year.items():
            assert region.grid_zone in zones, (region.provider, region.name, year)
    inventory = pytest.importorskip("greenml_onprem.inventory")
    sites = inventory.load(ROOT / "docs/examples/onprem-inventory.toml").sites
    assert sites and all(site.grid_zone in zones_by_year[2025] for site in sites)


def test_regions_in_one_grid_zone_get_one_figure_whatever_the_provider() -> None:
    by_zone: dict[str, dict[str, set[float]]] = defaultdict(lambda: defaultdict(set))
    for region in default_catalog().regions:
        assert region.intensity is not None
        assert region.intensity.dataset == datasets.default_name() == "electricitymaps-2025"
        by_zone[region.grid_zone][region.provider].add(region.intensity.g_per_kwh)
    shared = {z: p for z, p in by_zone.items() if len(p) > 1}
    assert {"SE-SE3", "CA-QC", "US-NW-BPAT"} <= set(shared)
    for zone, providers in shared.items():
        figures = set().union(*providers.values())
        assert len(figures) == 1, (zone, dict(providers))
    table = datasets.get("electricitymaps-2025").figures
    for zone in shared:
        assert by_zone[zone][next(iter(by_zone[zone]))] == {table[zone]}


def test_json_names_one_dataset_and_year_for_every_option() -> None:
    done = cli("plan", "--accelerator", "A100", "--count", "8", "--hours", "72", "--json",
               "--top", "1000")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    used = {(o["intensity"]["dataset"], o["intensity"]["year"], o["intensity"]["scope"],
             o["intensity"]["signal"]) for o in data["options"]}
    assert used == {("electricitymaps-2025", "2025", "lifecycle", "average")}
    assert len(data["options"]) == data["count"]
    assert data["methodologies"] == {"electricitymaps-2025 (lifecycle, average)": data["count"]}
    assert data["carbon_data"]["licence"].startswith("ODbL")


def test_google_dataset_plans_over_gcp_alone_and_says_why_the_others_are_out() -> None:
    plan = greenml.plan(A100_JOB, carbon_data="google-2025")
    assert {o.provider for o in plan.options} == {"gcp"}
    assert {o.intensity.dataset for o in plan.options if o.intensity} == {"google-2025"}
    others = [e for e in plan.excluded if e.provider in ("aws", "azure")]
    assert others and all(e.field == "carbon_data" for e in others)
    assert all(e.reason == "google-2025 has no figure for this region" for e in others)
    table = plan.table()
    assert "grid intensity: google-2025 (direct, average) for every option" in table
    gcp_figure = datasets.get("google-2025").figures[f"gcp/{plan.best.region.name}"]
    assert plan.best.estimate.intensity_g_per_kwh == gcp_figure


@pytest.mark.parametrize(("value", "says"), [
    ("nope", "unknown dataset 'nope'; known: electricitymaps-2021"),
    ("electricitymaps-2019", "unknown dataset 'electricitymaps-2019'; known:"),
])
def test_unknown_dataset_or_year_exits_2_listing_the_known_ones(value: str, says: str) -> None:
    done = cli("plan", "--accelerator", "A100", "--hours", "1", "--carbon-data", value)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--carbon-data" in lines[0] and says in lines[0]
    assert "google-2025" in lines[0]


def test_a_dataset_covering_no_candidate_exits_2() -> None:
    done = cli("plan", "--accelerator", "A100", "--hours", "1", "--provider", "aws",
               "--carbon-data", "google-2025")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "greenml: error: --carbon-data: google-2025 has no figure for any candidate region (it "
        "covers gcp regions); known datasets: " + ", ".join(sorted(datasets.datasets())))


def test_a_family_name_alone_means_its_newest_year() -> None:
    assert datasets.get("electricitymaps").name == "electricitymaps-2025"
    assert datasets.get("google").name == "google-2025"


def test_robustness_replays_the_ranking_of_every_year() -> None:
    plan = greenml.plan(A100_JOB)
    checked = plan.robustness
    assert checked is not None and checked.family == "electricitymaps"
    assert [y.year for y in checked.years] == [2021, 2022, 2023, 2024, 2025]
    for year in checked.years:
        alone = greenml.plan(A100_JOB, carbon_data=year.dataset)
        winner = plan.option(year.winner_rank)
        assert (winner.offer, winner.instances) == (alone.best.offer, alone.best.instances)
        assert year.winner_co2e_kg == pytest.approx(alone.best.estimate.co2e_kg)
        same = next(o for o in alone.options if o.offer == plan.best.offer)
        assert year.best_co2e_kg == pytest.approx(same.estimate.co2e_kg)
    low, high = checked.co2e_range_kg
    assert low <= plan.best.estimate.co2e_kg <= high
    assert checked.holds == all(y.winner_rank == 1 for y in checked.years)
    assert "robustness: " in plan.table()
    assert plan.to_dict()["robustness"]["years"][0]["dataset"] == "electricitymaps-2021"


def test_a_winner_that_changes_with_the_year_names_the_alternatives() -> None:
    plan = greenml.plan(greenml.Job(accelerator="P4", count=1, hours=10, countries=["US"]))
    checked = plan.robustness
    assert checked is not None and not checked.holds and checked.alternatives
    line = next(x for x in plan.table().splitlines() if x.startswith("robustness:"))
    assert "the winner changes with the year" in line
    for rank in checked.alternatives:
        assert f"#{rank} {plan.option(rank).provider}/{plan.option(rank).region.name}" in line
    assert plan.to_dict()["robustness"]["holds"] is False


def test_savings_break_into_factors_against_the_same_accelerator() -> None:
    plan = greenml.plan(A100_JOB)
    s, best, base = plan.savings, plan.best, plan.baseline
    assert s.factor == pytest.approx(
        s.location_factor * s.datacenter_factor * s.provisioning_factor)
    assert base.power_w == best.estimate.power_w
    assert s.location_factor == pytest.approx(429 / best.estimate.intensity_g_per_kwh)
    assert s.datacenter_factor == pytest.approx(1.58 / best.estimate.pue)
    assert s.accelerator == best.accelerator.name
    assert f"same job on the same {best.accelerator.name} in an average US datacenter" in (
        plan.table())


def test_live_data_with_fallback_says_which_options_use_which_methodology(
        monkeypatch, tmp_path) -> None:
    isolate(monkeypatch, tmp_path / "cache")
    token = "em-token-datasets-1"
    fake = ElectricityMapsFake(token, lambda zone, when: 50.0 if zone == "FR" else None)
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", token)
    monkeypatch.setenv("ELECTRICITYMAPS_API_URL", fake.api_url)
    try:
        job = greenml.Job(accelerator="A100", count=8, hours=72, countries=["FR", "SE"])
        with pytest.warns(greenml.CarbonDataWarning, match="carbonIntensity is null"):
            plan = greenml.plan(job, carbon_sources=["electricitymaps", "embedded"])
    finally:
        fake.close()
    labels = plan.methodologies
    assert set(labels) == {"electricitymaps (lifecycle, average)",
                           "electricitymaps-2025 (lifecycle, average)"}
    assert sum(labels.values()) == len(plan)
    head = plan.table().splitlines()[1]
    assert head.startswith("grid intensity MIXES methodologies: ")
    by_country = {o.region.country: o.intensity.dataset for o in plan.options if o.intensity}
    assert by_country == {"FR": "electricitymaps", "SE": "electricitymaps-2025"}
    assert plan.robustness is None


def test_every_dataset_holds_exactly_the_figures_of_its_file_and_year() -> None:
    """The column-by-column reader against csv.DictReader over the same package files: one
    figure per key and year, rows without a figure left out, nothing else."""
    import csv

    data = Path(datasets.__file__).parent / "data"
    keys = {"zone": lambda row: row["zone"],
            "region": lambda row: f"{row['provider']}/{row['region']}"}
    with open(data / "intensity_datasets.csv", newline="") as listing:
        described = list(csv.DictReader(listing))
    assert {d["name"] for d in described} == set(datasets.datasets())
    for d in described:
        with open(data / d["file"], newline="") as figures:
            expected = {keys[d["keyed_by"]](row): float(row["g_per_kwh"])
                        for row in csv.DictReader(figures)
                        if row["year"] == d["year"] and row["g_per_kwh"].strip()}
        assert expected, d["name"]
        assert datasets.datasets()[d["name"]].figures == expected, d["name"]
