"""The rows of a plugin's ``regions.csv``: one per region of the provider in ``cloud_regions.csv``.

Every provider's regions are made by the same rules, so that a region of one provider and a
region of another are comparable:

* Location, ISO country and coordinates as in ``cloud_regions.csv`` (its first row of the
  region). No intensity: a region's grid intensity comes from its ``grid_zone`` in the chosen
  dataset, the same figure for every provider's regions in one zone.
* PUE: the most specific figure in ``pue.csv``. A ``site`` row naming the region beats the
  provider's fleet figure, the newest ``fleet`` row whose PUE is an exact number and is not a
  design target (the builder states the figure it expects, so a new row in the source is
  noticed). ``same`` sources and year-less periods inherit from the row they refer to.
* ``grid_zone``: the plugin's mapping of each region's location to an Electricity Maps zone
  id; empty only where the location is unknown. ``zones``: the plugin's availability zones
  per region, where it has a source for them.
* A region without a country is dropped (and logged): residency cannot be checked there.
"""

from __future__ import annotations

from collections import defaultdict

from catalog_build.common import BuildLog, Sources, fmt_num, newest_year, to_float, years_in

COLUMNS = (
    "region", "location", "country", "latitude", "longitude", "grid_zone",
    "grid_zone_source", "zones", "pue", "pue_source", "pue_year",
)
GRID_ZONE_SOURCE = "greenml mapping of region location to Electricity Maps zone ids (2026)"


def region_groups(src: Sources, provider: str) -> dict[str, list[dict[str, str]]]:
    """cloud_regions.csv rows of one provider, grouped by region (file order kept)."""
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in src.cloud_regions:
        if row["provider"] == provider:
            groups[row["region"]].append(row)
    return groups


def resolve_pue_rows(src: Sources) -> list[dict[str, str]]:
    """pue.csv rows with 'same' sources and year-less periods taken from the row referred to."""
    resolved: list[dict[str, str]] = []
    previous: dict[str, str] | None = None
    for row in src.pue:
        row = dict(row)
        if row["source"] == "same":
            assert previous is not None, "first pue.csv row cannot say 'same'"
            row["source"] = previous["source"]
            if not years_in(row["period"]) and row["period"].rstrip(")") in previous["period"]:
                row["period"] = previous["period"]
        else:
            previous = row
        resolved.append(row)
    return resolved


def fleet_pue(pue_rows: list[dict[str, str]], provider: str, expected: float) -> dict[str, str]:
    """Newest exact, non-design fleet PUE of a provider; it must be the figure expected."""
    fleet = [
        r for r in pue_rows
        if r["scope"] == "fleet" and r["provider"] == provider and to_float(r["pue"])
        and "design" not in r["pue_type"]
    ]
    chosen = max(fleet, key=lambda r: newest_year(r["period"]))
    assert to_float(chosen["pue"]) == expected, chosen
    return chosen


def region_pue(
    pue_rows: list[dict[str, str]], provider: str, region: str, fleet: dict[str, str]
) -> dict[str, str]:
    """The site PUE row naming the region, else ``fleet``, the provider's fleet row."""
    sites = [
        r for r in pue_rows
        if r["scope"] == "site" and r["provider"] == provider and r["region_or_site"] == region
    ]
    assert len(sites) <= 1, f"several site PUE rows for {region}"
    return sites[0] if sites else fleet


def region_row(
    rows: list[dict[str, str]], grid_zone: str, pue: dict[str, str], zones: str
) -> dict[str, str]:
    """One row of a provider's regions.csv."""
    first = rows[0]
    return {
        "region": first["region"], "location": first["location"],
        "country": first["country_iso"],
        "latitude": fmt_num(first["latitude"]), "longitude": fmt_num(first["longitude"]),
        "grid_zone": grid_zone, "grid_zone_source": GRID_ZONE_SOURCE,
        "zones": zones, "pue": fmt_num(pue["pue"]), "pue_source": pue["source"],
        "pue_year": pue["period"],
    }


def build_regions(
    src: Sources, provider: str, grid_zones: dict[str, str], expected_fleet_pue: float,
    zones: dict[str, str],
) -> list[dict[str, str]]:
    """All regions of a provider, sorted by region id."""
    pue_rows = resolve_pue_rows(src)
    groups = region_groups(src, provider)
    assert set(groups) == set(grid_zones), f"{provider}: grid zones out of step with regions"
    fleet = fleet_pue(pue_rows, provider, expected_fleet_pue)
    return [
        region_row(groups[r], grid_zones[r], region_pue(pue_rows, provider, r, fleet),
                   zones.get(r, ""))
        for r in sorted(groups)
    ]


def keep_located(
    provider: str, regions: list[dict[str, str]], log: BuildLog
) -> list[dict[str, str]]:
    """Drop (and report) regions with no country: data residency cannot be checked there."""
    kept = [r for r in regions if r["country"]]
    for row in regions:
        if not row["country"]:
            log.skipped.append(f"{provider} region {row['region']}: no location or country in "
                               "the source, so residency constraints could not be applied")
    return kept


def check_regions(
    provider: str, regions: list[dict[str, str]], expected: int, zones: set[str]
) -> None:
    """Region count, pue with source and year, and a grid zone the default dataset has."""
    assert len(regions) == expected, (provider, len(regions))
    for row in regions:
        for column in ("pue", "pue_source"):
            assert row[column], (provider, row["region"], column)
        assert years_in(row["pue_year"]), (provider, row["region"], row["pue_year"])
        assert row["grid_zone"] in zones, (provider, row["region"], row["grid_zone"])
