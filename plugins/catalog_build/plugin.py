"""A plugin's catalog builder as data, and the one way every plugin's files are built and written.

A plugin's ``build_catalog.py`` declares a ``ProviderBuilder`` named ``BUILDER``: its
provider, the regions it expects, its grid zones and fleet PUE, its accelerator variant
rules, and the function that makes its offers from the shared data. ``build`` turns that
into rows (filtered, sorted and checked the same way for every plugin), ``write`` writes
``regions.csv``, ``offers.csv`` and the compiled ``offers.columns.json`` into one folder.

The plugin's builder needs two things from greenml's core data: the canonical accelerator
names (and aliases) and the grid zones of the Electricity Maps datasets. ``build_catalogs.py``
hands over what it has just built; a builder run alone reads them from this checkout's
``greenml/data``, so run ``plugins/build_catalogs.py`` when the core data changes.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import build_intensity

from catalog_build import offers as offer_rows
from catalog_build import regions as region_rows
from catalog_build.common import (
    REPO,
    BuildLog,
    Sources,
    argument_parser,
    load_sources,
    read_csv,
    write_csv,
)

CORE_DATA = REPO / "greenml" / "data"
OffersFunction = Callable[[Sources, offer_rows.AcceleratorNames, BuildLog], list[dict[str, str]]]


def no_zones(src: Sources) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class ProviderBuilder:
    """How one plugin's catalog is built from the shared data."""

    provider: str  # as in cloud_regions.csv and instance_types.csv
    label: str  # how the docs name the provider
    data: Path  # the plugin's package data folder
    expected_regions: int  # after the regions without a location are dropped
    expected_fleet_pue: float
    grid_zones: dict[str, str]  # region -> Electricity Maps zone id
    offers: OffersFunction  # every candidate offer; filtering and sorting are common
    rules: tuple[offer_rows.Rule, ...] = ()
    rule_required: frozenset[str] = frozenset()
    region_zones: Callable[[Sources], dict[str, str]] = no_zones  # region -> "a;b;c"


@dataclass(frozen=True)
class Core:
    """What a plugin's builder takes from greenml's core data."""

    lookup: dict[str, str]  # lower-cased accelerator name or alias -> canonical name
    zones: set[str]  # zone ids of the Electricity Maps datasets


def core_from_package(folder: Path = CORE_DATA) -> Core:
    """The core data as this checkout ships it (for a plugin's builder run alone)."""
    accelerators = read_csv(folder / "accelerators.csv")
    zones = {r["zone"] for r in read_csv(folder / build_intensity.ZONE_FILE)}
    return Core(offer_rows.accelerator_lookup(accelerators), zones)


@dataclass
class Built:
    """One plugin's rows, ready to write, and what was skipped or noticed on the way."""

    builder: ProviderBuilder
    regions: list[dict[str, str]]
    offers: list[dict[str, str]]
    log: BuildLog = field(default_factory=BuildLog)


def build(builder: ProviderBuilder, src: Sources, core: Core) -> Built:
    """The plugin's regions and offers, filtered, sorted and checked."""
    provider, log = builder.provider, BuildLog()
    regions = region_rows.build_regions(src, provider, builder.grid_zones,
                                        builder.expected_fleet_pue, builder.region_zones(src))
    regions = region_rows.keep_located(provider, regions, log)
    region_rows.check_regions(provider, regions, builder.expected_regions, core.zones)
    region_ids = {r["region"] for r in regions}
    names = offer_rows.AcceleratorNames(provider, core.lookup, builder.rules,
                                        builder.rule_required)
    offers = offer_rows.shippable(provider, builder.offers(src, names, log), region_ids, log)
    offer_rows.check_offers(provider, offers, set(core.lookup.values()), region_ids)
    return Built(builder, regions, offers, log)


def combined_log(built: Sequence[Built]) -> BuildLog:
    """What every plugin's builder skipped or noticed, plugin by plugin."""
    return BuildLog([line for b in built for line in b.log.skipped],
                    [line for b in built for line in b.log.notes])


def write(built: Built, folder: Path | None = None) -> dict[Path, int]:
    """Write the plugin's files into ``folder`` (default: its package data); path -> rows."""
    folder = built.builder.data if folder is None else folder
    write_csv(folder / "regions.csv", region_rows.COLUMNS, built.regions)
    write_csv(folder / "offers.csv", offer_rows.COLUMNS, built.offers)
    write_compiled(folder, built.builder.provider)
    return {folder / "regions.csv": len(built.regions), folder / "offers.csv": len(built.offers)}


def write_compiled(folder: Path, provider: str) -> Path:
    """offers.columns.json beside ``folder``'s offers.csv: its offers as columns, which a plan
    loads without building an object per offer (``greenml.compiled``). Made by this checkout's
    greenml, whatever is installed, from the folder itself: the folder is lent to
    ``compiled.write`` as a package of its own, so a builder run into any folder compiles what
    it wrote there."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from greenml import compiled

    name = f"greenml_{provider}_catalog_build"
    package = types.ModuleType(name)
    package.__path__ = [str(folder)]
    sys.modules[name] = package
    try:
        return compiled.write(name, provider)
    finally:
        del sys.modules[name]


def shown(path: Path) -> Path:
    """A path relative to the repository where it is inside it."""
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def report(counts: dict[Path, int], log: BuildLog) -> None:
    """Print rows per file (offers also compiled), then what was skipped or noticed."""
    for path, count in counts.items():
        print(f"{shown(path)}: {count} rows")
        if path.name == "offers.csv":
            print(f"{shown(path.with_name('offers.columns.json'))}: {count} rows, compiled")
    for line in log.skipped:
        print(f"skipped: {line}")
    for line in log.notes:
        print(f"note: {line}")


def main(builder: ProviderBuilder, doc: str | None, argv: list[str] | None = None) -> int:
    """A plugin's builder run alone: its files only, from the shared data and the core data."""
    parser = argument_parser(doc)
    parser.add_argument("--data", type=Path, default=builder.data,
                        help=f"folder to write into (default: {shown(builder.data)})")
    args = parser.parse_args(argv)
    built = build(builder, load_sources(args.shared.resolve()), core_from_package())
    report(write(built, args.data.resolve()), built.log)
    return 0
