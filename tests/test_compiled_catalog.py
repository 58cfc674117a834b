"""The compiled offers (``offers.columns.json``) equal the CSVs they are made from, a stale
one is never used, and a catalog builds an ``Offer`` only for a row that is read."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import greenml
from greenml import Catalog, compiled, offer_table
from greenml.datafiles import offer_from_row, parse
from greenml.errors import CatalogError, PluginError
from greenml.offer_table import OfferTable
from greenml.testing import accelerator, offer, region

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
PROVIDERS = ("aws", "gcp", "azure")


def columns_of(catalog: Catalog) -> dict[str, np.ndarray]:
    cols = catalog.columns
    return {name: getattr(cols, name) for name in (
        "offer_accelerator", "offer_region", "per_instance", "max_instances", "ondemand_usd",
        "spot_usd")}


@pytest.mark.catalogs
@pytest.mark.parametrize("provider", PROVIDERS)
def test_compiled_offers_equal_the_parsed_csv(provider: str) -> None:
    package = f"greenml_{provider}.data"
    table = compiled.load(package, provider)
    assert table is not None, f"{package}/{compiled.FILE} is missing or stale: run " \
                              "python plugins/build_catalogs.py"
    parsed = parse(package, "offers.csv", offer_from_row(provider))
    assert len(table) == len(parsed) > 100
    assert list(table) == list(parsed)  # every field of every offer, in file order
    catalog = greenml.default_catalog()
    regions = [r for r in catalog.regions if r.provider == provider]
    from_table = Catalog(regions, compiled.load(package, provider), catalog.accelerators)
    from_objects = Catalog(regions, parsed, catalog.accelerators)
    assert from_table.offers.materialized == 0  # type: ignore[attr-defined]
    expected = columns_of(from_objects)
    for name, column in columns_of(from_table).items():
        np.testing.assert_array_equal(column, expected[name], err_msg=name)
    assert from_table.offers.materialized == 0  # type: ignore[attr-defined]


@pytest.mark.catalogs
def test_a_plan_builds_offers_only_for_the_options_read() -> None:
    script = """
import greenml
plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
shown = plan.top(10)
offers = plan.catalog.offers
print(type(offers).__name__, len(offers), offers.materialized, len(shown))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).parent)
    assert result.returncode == 0, result.stderr
    kind, total, built, shown = result.stdout.split()
    assert kind == "OfferTable" and int(total) > 3000
    assert int(shown) == 10 and int(built) <= int(shown)


def data_package(tmp_path: Path, name: str, provider: str = "aws",
                 files: tuple[str, ...] = ("offers.csv", "regions.csv", compiled.FILE)) -> str:
    """A copy of a plugin's data package, importable as ``name``."""
    source = PLUGINS / f"greenml-{provider}" / f"greenml_{provider}" / "data"
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        shutil.copy(source / file, folder / file)
    return name


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def provider_for(package: str, provider_name: str = "aws") -> greenml.provider.CatalogProvider:
    class Copy(greenml.provider.CatalogProvider):
        name = provider_name
        data_package = package

    return Copy()


def edit_first_price(csv_file: Path) -> float:
    """Double the first offer's on-demand price in place; the new price."""
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    new = round(float(rows[0]["ondemand_usd_per_hour"]) * 2, 4)
    rows[0]["ondemand_usd_per_hour"] = str(new)
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_file.write_text(out.getvalue(), encoding="utf-8")
    return new


@pytest.mark.catalogs
def test_a_fresh_copy_loads_from_the_compiled_file(on_path: Path) -> None:
    package = data_package(on_path, "compiled_fresh")
    offers = provider_for(package).offers()
    assert isinstance(offers, OfferTable) and offers.materialized == 0
    assert offers[0] == parse(package, "offers.csv", offer_from_row("aws"))[0]


@pytest.mark.catalogs
def test_a_stale_compiled_file_is_not_used(on_path: Path) -> None:
    package = data_package(on_path, "compiled_stale")
    new_price = edit_first_price(on_path / package / "offers.csv")
    assert compiled.load(package, "aws") is None
    offers = provider_for(package).offers()
    assert not isinstance(offers, OfferTable)  # parsed from the CSV
    assert offers[0].ondemand_usd_per_hour == new_price
    catalog = Catalog(provider_for(package).regions(), offers,
                      greenml.default_catalog().accelerators)
    assert catalog.columns.ondemand_usd[0] == new_price


@pytest.mark.catalogs
def test_rebuilding_the_compiled_file_makes_it_match_again(on_path: Path) -> None:
    package = data_package(on_path, "compiled_rebuilt")
    new_price = edit_first_price(on_path / package / "offers.csv")
    assert compiled.load(package, "aws") is None
    compiled.write(package, "aws")
    table = compiled.load(package, "aws")
    assert table is not None and table[0].ondemand_usd_per_hour == new_price
    assert list(table) == list(parse(package, "offers.csv", offer_from_row("aws")))


@pytest.mark.catalogs
def test_a_compiled_file_of_another_format_is_not_used(on_path: Path) -> None:
    package = data_package(on_path, "compiled_other_format")
    path = on_path / package / compiled.FILE
    data = json.loads(path.read_text())
    data["format"] = compiled.FORMAT + 1
    path.write_text(json.dumps(data))
    assert compiled.load(package, "aws") is None
    assert len(provider_for(package).offers()) == len(data["offers"]["instance_type"]["codes"])


@pytest.mark.catalogs
def test_a_damaged_compiled_file_says_to_rebuild_it(on_path: Path) -> None:
    package = data_package(on_path, "compiled_damaged")
    path = on_path / package / compiled.FILE
    data = json.loads(path.read_text())
    data["offers"]["accelerator"]["codes"][0] = 10_000
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogError, match=r"compiled_damaged/offers\.columns\.json.*accel"
                                           r"erator: a code is out of range.*build_catalogs"):
        compiled.load(package, "aws")
    path.write_text("{not json")
    with pytest.raises(CatalogError, match="not JSON"):
        compiled.load(package, "aws")


@pytest.mark.catalogs
def test_a_provider_without_a_compiled_file_parses_its_csv(on_path: Path) -> None:
    package = data_package(on_path, "third_party_data", files=("offers.csv", "regions.csv"))
    provider = provider_for(package, "thirdparty")
    offers = provider.offers()
    assert isinstance(offers, tuple) and all(o.provider == "thirdparty" for o in offers)
    accelerators = greenml.default_catalog().accelerators
    catalog = Catalog(provider.regions(), offers, accelerators).with_dataset(None)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10), catalog=catalog,
                        notify=False)
    assert plan.best.provider == "thirdparty"


def test_a_table_gives_back_the_offers_it_was_made_of(small_catalog: Catalog) -> None:
    offers = list(small_catalog.offers)
    table = OfferTable.from_offers(offers)
    assert len(table) == len(offers) and table.materialized == len(offers)
    assert all(a is b for a, b in zip(table, offers, strict=True))
    assert table[-1] is offers[-1] and table[1:3] == tuple(offers[1:3])
    with pytest.raises(IndexError):
        table[len(offers)]


def test_a_table_built_from_its_columns_equals_the_offers(small_catalog: Catalog) -> None:
    offers = list(small_catalog.offers)
    lazy = OfferTable(*_columns_only(OfferTable.from_offers(offers)))  # no object kept
    table = OfferTable.concat([lazy, OfferTable.from_offers([offers[0]])])
    assert table.materialized == 1
    assert list(table) == [*offers, offers[0]]
    assert table.column("provider") == [o.provider for o in [*offers, offers[0]]]


def test_columns_from_a_table_equal_columns_from_objects(small_catalog: Catalog) -> None:
    lazy = OfferTable(*_columns_only(OfferTable.from_offers(small_catalog.offers)))
    with_table = Catalog(small_catalog.regions, lazy, small_catalog.accelerators)
    expected = columns_of(small_catalog)
    for name, column in columns_of(with_table).items():
        np.testing.assert_array_equal(column, expected[name], err_msg=name)
    assert lazy.materialized == 0
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10), catalog=with_table,
                        notify=False)
    same = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10),
                        catalog=small_catalog, notify=False)
    assert [o.offer for o in plan.options] == [o.offer for o in same.options]
    assert [o.estimate for o in plan.options] == [o.estimate for o in same.options]


def _columns_only(table: OfferTable) -> tuple:
    return table.places, table.place, table.text, table.numbers


def test_a_table_of_unknown_regions_or_accelerators_is_refused() -> None:
    accs = {"A100"}
    table = OfferTable.from_offers([offer("p", "r1", "x8", "A100", 8, 10.0),
                                    offer("p", "r2", "y8", "A100", 8, 10.0)])
    lazy = OfferTable(*_columns_only(table))
    assert offer_table.checked("p", lazy, {"r1", "r2"}, accs) is lazy
    for offers in (lazy, list(table)):
        with pytest.raises(PluginError, match="offer y8 is in unknown region 'r2'"):
            offer_table.checked("p", offers, {"r1"}, accs)
        with pytest.raises(PluginError, match="offer x8 names unknown accelerator 'A100'"):
            offer_table.checked("p", offers, {"r1", "r2"}, {"H100"})
    with pytest.raises(PluginError, match="not an Offer of provider 'q'"):
        offer_table.checked("q", lazy, {"r1", "r2"}, accs)


def test_a_hand_built_catalog_keeps_its_tuple() -> None:
    catalog = Catalog([region("p", "r1", "SE", 20.0)], [offer("p", "r1", "x8", "A100", 8, 1.0)],
                      [accelerator("A100")])
    assert isinstance(catalog.offers, tuple)
