"""Build greenml's named grid-intensity datasets from the shared reference data.

Called by ``build_catalogs.py``. Two methodologies are shipped, each as its own named
datasets, never mixed:

* ``electricitymaps-<year>`` (2021-2025): Electricity Maps yearly averages for every grid
  zone of the world (lifecycle emission factors, consumption-based, location-based), keyed
  by zone id. One methodology for every provider's regions and every on-prem site: the
  default. ODbL 1.0: attribute Electricity Maps, keep derived data under the ODbL.
* ``google-<year>`` (2022-2025): Google's own per-region grid intensity for GCP regions
  (operational, i.e. direct, emissions since 2021; Apache-2.0), keyed by GCP region.

Cloud Carbon Footprint's defaults are not shipped: inside one provider they already mix
EEA factors, whole eGRID NERC regions and national averages, so they are no one methodology.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

DATASET_COLUMNS = (
    "name", "family", "year", "keyed_by", "file", "signal", "scope", "basis", "source",
    "licence",
)
ZONE_COLUMNS = ("zone", "zone_name", "year", "g_per_kwh", "renewable_percent", "cfe_percent")
REGION_COLUMNS = ("provider", "region", "year", "g_per_kwh", "cfe_percent")

ZONE_FILE = "grid_intensity_electricitymaps.csv"
GOOGLE_FILE = "grid_intensity_google.csv"

EM_SOURCE = (
    "Electricity Maps yearly average carbon intensity (free yearly data, republished in "
    "thegreenwebfoundation/co2.js data/output/electricity-maps/yearly_{year}.json "
    "@27cbe83, 2026-02-06)"
)
EM_BASIS = "lifecycle emission factors, consumption-based (flow-traced), location-based"
EM_LICENCE = "ODbL-1.0 (Electricity Maps); derived data stays under the ODbL"
GOOGLE_SOURCE = (
    "Google region-carbon-info (GoogleCloudPlatform/region-carbon-info data/yearly/{year}.csv)"
)
GOOGLE_BASIS = "Google's per-region average grid intensity; operational emissions from 2021 on"
GOOGLE_LICENCE = "Apache-2.0 (Google)"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def electricitymaps_rows(shared: Path) -> list[dict[str, str]]:
    """One row per (zone, year), values unchanged; every row must be lifecycle."""
    out = []
    for row in _read(shared / "electricitymaps_yearly" / "electricitymaps_yearly_2021_2025.csv"):
        assert row["emission_factor"] == "lifecycle", row
        out.append({
            "zone": row["zone"], "zone_name": row["zone_name"], "year": row["year"],
            "g_per_kwh": row["carbon_intensity_g_per_kwh"],
            "renewable_percent": row["renewable_percent"], "cfe_percent": row["cfe_percent"],
        })
    return sorted(out, key=lambda r: (r["zone"], r["year"]))


def google_rows(shared: Path) -> list[dict[str, str]]:
    """One row per (GCP region, year) from Google's yearly files; CFE as a percentage."""
    out = []
    for path in sorted((shared / "gcp_region_carbon").glob("gcp_region_carbon_*.csv")):
        match = re.search(r"(\d{4})", path.name)
        assert match, path
        for row in _read(path):
            cfe = row["Google CFE"].strip()
            out.append({
                "provider": "gcp", "region": row["Google Cloud Region"], "year": match[1],
                "g_per_kwh": row["Grid carbon intensity (gCO2eq / kWh)"].strip(),
                "cfe_percent": f"{round(float(cfe) * 100, 2):g}" if cfe else "",
            })
    return sorted(out, key=lambda r: (r["region"], r["year"]))


def dataset_rows(zones: list[dict[str, str]], google: list[dict[str, str]]
                 ) -> list[dict[str, str]]:
    """The catalogue of named datasets: one per (family, year) present in the data."""
    out = []
    for year in sorted({r["year"] for r in zones}):
        out.append({
            "name": f"electricitymaps-{year}", "family": "electricitymaps", "year": year,
            "keyed_by": "zone", "file": ZONE_FILE, "signal": "average", "scope": "lifecycle",
            "basis": EM_BASIS, "source": EM_SOURCE.format(year=year), "licence": EM_LICENCE,
        })
    for year in sorted({r["year"] for r in google}):
        out.append({
            "name": f"google-{year}", "family": "google", "year": year, "keyed_by": "region",
            "file": GOOGLE_FILE, "signal": "average", "scope": "direct", "basis": GOOGLE_BASIS,
            "source": GOOGLE_SOURCE.format(year=year), "licence": GOOGLE_LICENCE,
        })
    return out


def zone_figures(zones: list[dict[str, str]], year: str) -> dict[str, float]:
    """zone -> g/kWh of one year (for checks and docs)."""
    return {r["zone"]: float(r["g_per_kwh"]) for r in zones if r["year"] == year and r["g_per_kwh"]}


#: Zones the docs use to show how far the other methodologies stray for the same grid.
EXAMPLE_ZONES = ("SE-SE3", "CA-QC", "US-NW-BPAT", "US-MIDA-PJM")


def _other_figures(cloud_regions: list[dict[str, str]], provider: str, region: str
                   ) -> list[str]:
    """The region's figures in ``cloud_regions.csv`` from other methodologies, newest first."""
    rows = [r for r in cloud_regions if r["provider"] == provider and r["region"] == region
            and r["source_type"] in ("provider_published", "tool_default", "derived_country")]
    rows.sort(key=lambda r: r["year"], reverse=True)
    return [f"{float(r['grid_gco2_per_kwh']):g} ({r['source_type']}, {r['year']})"
            for r in rows[:2]]


def docs_section(zones: list[dict[str, str]], google: list[dict[str, str]],
                 cloud_regions: list[dict[str, str]],
                 regions: dict[str, list[dict[str, str]]]) -> list[str]:
    """docs/data-sources.md: the methodology and, per example zone, what the others say."""
    years = sorted({r["year"] for r in zones})
    google_years = sorted({r["year"] for r in google})
    by_zone_year = {(r["zone"], r["year"]): r["g_per_kwh"] for r in zones}
    lines = [
        "## Grid intensity: one methodology, named datasets", "",
        "Every region of every provider, and every on-prem site, gets its default intensity "
        "from its grid zone (`grid_zone`) in **one** dataset: Electricity Maps' yearly "
        f"average for {years[-1]} (`electricitymaps-{years[-1]}`; lifecycle emission factors, "
        "consumption-based, location-based). The other years are their own datasets "
        f"(`electricitymaps-{years[0]}` .. `electricitymaps-{years[-2]}`), used by "
        "`plan.robustness`. Google's own per-region figures are a separate dataset per year "
        f"(`google-{google_years[0]}` .. `google-{google_years[-1]}`, GCP regions only). "
        "Choose one with "
        "`greenml plan --carbon-data NAME` or `greenml.plan(job, carbon_data=NAME)`; a "
        "dataset without a figure for a region excludes that region with the reason and is "
        "never filled from another dataset.", "",
        "Why one methodology: the published figures of the providers and tools differ in "
        "scope (direct vs lifecycle), year and geography (a city's grid vs a country vs a "
        "whole US interconnect), and for the same grid zone they disagree by factors of "
        "0.23-6.3 (as measured by the shared reference data's README), as "
        "much as the location effect greenml exists to find. Google's region-carbon-info "
        "figures are *operational* (direct) emissions from 2021 on, not lifecycle; Cloud "
        "Carbon Footprint's defaults mix EEA factors, whole eGRID NERC regions and national "
        "averages, so they are not shipped.", "",
        "Same grid zone, different figures (g CO2e/kWh):", "",
        "| zone | region | " + " | ".join(f"EM {y}" for y in years) + " | other methodologies |",
        "|---|---|" + "---|" * len(years) + "---|",
    ]
    for zone in EXAMPLE_ZONES:
        for provider in sorted(regions):
            for row in regions[provider]:
                if row["grid_zone"] != zone:
                    continue
                figures = " | ".join(by_zone_year.get((zone, y), "") for y in years)
                others = "; ".join(_other_figures(cloud_regions, provider, row["region"]))
                lines.append(f"| {zone} | {provider}/{row['region']} | {figures} | {others} |")
    lines += [
        "",
        "Licence: the Electricity Maps figures are Electricity Maps' data under the Open "
        "Database License (ODbL 1.0), republished by the Green Web Foundation (co2.js). "
        "Source: Electricity Maps (https://www.electricitymaps.com). The derived files "
        f"`greenml/data/{ZONE_FILE}` and `greenml/data/intensity_datasets.csv` are "
        "distributed under the ODbL as well. Google's figures are Apache-2.0.", "",
    ]
    return lines
