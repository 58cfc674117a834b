"""The package-data CSV readers: errors name the file and the line, whichever reader reads it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from greenml.errors import CatalogError
from greenml.packagedata import columns, rows


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable package ``greenml_csvs`` holding a few CSV files."""
    folder = tmp_path / "greenml_csvs"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "good.csv").write_text("zone,year,g_per_kwh\nSE,2024,30\n\nFR,2024,\n")
    (folder / "short.csv").write_text("zone,year,g_per_kwh\nSE,2024,30\nFR,2024\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "greenml_csvs", raising=False)
    return "greenml_csvs"


def test_columns_gives_the_named_columns_with_file_and_line(package: str) -> None:
    assert list(columns(package, "good.csv", "g_per_kwh", "zone")) == [
        ("greenml_csvs/good.csv", 2, ["30", "SE"]),
        ("greenml_csvs/good.csv", 4, ["", "FR"]),
    ]
    assert [(line, row["zone"]) for _, line, row in rows(package, "good.csv")] == [
        (2, "SE"), (4, "FR")]


def test_a_missing_file_column_or_field_is_named(package: str) -> None:
    for read in (columns, rows):
        with pytest.raises(FileNotFoundError, match="^greenml_csvs/absent.csv: no such file$"):
            list(read(package, "absent.csv"))
    with pytest.raises(CatalogError, match="^greenml_csvs/good.csv: missing column 'region'$"):
        list(columns(package, "good.csv", "zone", "region"))
    with pytest.raises(CatalogError, match="^greenml_csvs/short.csv, line 3: 2 columns, "
                                           "the header has 3$"):
        list(columns(package, "short.csv", "zone", "g_per_kwh"))
