#!/usr/bin/env python3
"""Build greenml's embedded data catalogs from the shared reference data.

Usage::

    python plugins/build_catalogs.py [--shared PATH]

PATH defaults to ``../shared/data`` relative to the repository root. The script reads only
the files under PATH (no network, standard library only), builds greenml's core data, runs
every plugin's catalog builder, writes the docs pages, prints counts, runs the consistency
checks and exits non-zero when one fails. Output is deterministic (``catalog_build.common``):
a rebuild from unchanged sources changes no byte.

What is built where
===================

Core data (greenml/data), built here
    ``accelerators.csv`` (``catalog_build/accelerators.py``: which rows, which figures, in
    which order of preference), its system power columns and the factor row of
    ``defaults.csv`` (``build_accelerator_power.py``, which also writes
    ``docs/accelerator-power.md``), ``countries.csv`` (``catalog_build/countries.py``) and
    the named grid-intensity datasets (``build_intensity.py``).

Plugin catalogs (plugins/greenml-<p>/greenml_<p>/data), built by each plugin
    ``plugins/greenml-<p>/build_catalog.py`` owns its provider's choices: grid zones, fleet
    PUE, which catalogue rows become offers and how a price is composed, which variant a
    family name means. The rules every plugin shares (region rows, PUE, whole accelerators,
    the checks, the compiled ``offers.columns.json``) are in ``catalog_build``. A plugin's
    builder also runs alone (``python plugins/greenml-aws/build_catalog.py``), then reading
    the core data from ``greenml/data``; here it gets the core data just built.

docs/data-sources.md (``catalog_build/docs_page.py``)
    Row counts, selection rules, the plugins' variant rules, what was skipped, caveats.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import build_accelerator_power as power
import build_intensity as intensity
from catalog_build import accelerators as accelerator_rows
from catalog_build import countries as country_rows
from catalog_build import plugin
from catalog_build.common import REPO, argument_parser, load_sources, write_csv, write_text
from catalog_build.docs_page import render_docs
from catalog_build.offers import accelerator_lookup

CORE = REPO / "greenml" / "data"
OUTPUTS = {
    "accelerators": CORE / "accelerators.csv",
    "countries": CORE / "countries.csv",
    "datasets": CORE / "intensity_datasets.csv",
    "zone_intensity": CORE / intensity.ZONE_FILE,
    "google_intensity": CORE / intensity.GOOGLE_FILE,
}
DOCS = REPO / "docs" / "data-sources.md"
# The plugins whose catalogs ship as package data, in the order the docs list them (on-prem
# has no built data: its sites come from the user's inventory).
PLUGIN_BUILDERS = tuple(REPO / "plugins" / f"greenml-{p}" / "build_catalog.py"
                        for p in ("aws", "gcp", "azure"))


def load_builder(path: Path) -> plugin.ProviderBuilder:
    """A plugin's ``BUILDER``, loaded from its file (a plugin's folder is not a package)."""
    name = f"{path.parent.name.replace('-', '_')}_build_catalog"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    builder = module.BUILDER
    assert isinstance(builder, plugin.ProviderBuilder), path
    return builder


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__).parse_args(argv)
    shared = args.shared.resolve()
    src = load_sources(shared)

    accelerators = accelerator_rows.build_accelerators(src)
    power_points, power_factor = accelerator_rows.add_system_power(src, accelerators)
    accelerator_rows.check_accelerators(accelerators)
    power.check(accelerators, power_factor)
    lookup = accelerator_lookup(accelerators)
    accelerator_rows.check_instance_accelerators(src, lookup)
    write_csv(OUTPUTS["accelerators"], accelerator_rows.COLUMNS, accelerators)
    power.upsert_default(power.factor_row(power_points, power_factor))
    write_text(power.DOC_FILE, power.render_doc(accelerators, power_points, power_factor))

    countries = country_rows.build_countries()
    country_rows.check_countries(countries, src)
    write_csv(OUTPUTS["countries"], country_rows.COLUMNS, countries)

    zone_rows = intensity.electricitymaps_rows(shared)
    google_rows = intensity.google_rows(shared)
    datasets = intensity.dataset_rows(zone_rows, google_rows)
    write_csv(OUTPUTS["datasets"], intensity.DATASET_COLUMNS, datasets)
    write_csv(OUTPUTS["zone_intensity"], intensity.ZONE_COLUMNS, zone_rows)
    write_csv(OUTPUTS["google_intensity"], intensity.REGION_COLUMNS, google_rows)

    counts = {OUTPUTS["accelerators"]: len(accelerators), OUTPUTS["countries"]: len(countries),
              OUTPUTS["datasets"]: len(datasets), OUTPUTS["zone_intensity"]: len(zone_rows),
              OUTPUTS["google_intensity"]: len(google_rows)}
    core = plugin.Core(lookup, {r["zone"] for r in zone_rows})
    built = [plugin.build(load_builder(path), src, core) for path in PLUGIN_BUILDERS]
    for one in built:
        counts.update(plugin.write(one))

    regions = {b.builder.provider: b.regions for b in built}
    grid = intensity.docs_section(zone_rows, google_rows, src.cloud_regions, regions)
    write_text(DOCS, render_docs(accelerators, counts, built, grid, power_points))
    plugin.report(counts, plugin.combined_log(built))
    print(f"system power factor: {power_factor} (docs/accelerator-power.md)")
    print(f"no power figure: {', '.join(power.no_power(accelerators))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
