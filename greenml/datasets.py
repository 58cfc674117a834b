"""Named grid-intensity datasets: one methodology each, never mixed inside one ranking.

A ranking is only as true as its inputs are comparable, so every region of every provider
takes its annual intensity from ONE dataset: by default Electricity Maps' yearly average of
the newest year for the region's grid zone (the same figure for every provider in a zone).
Other years and other methodologies (Google's own per-region figures) are separate named
datasets; a region a dataset has no figure for is left out of a plan with that reason,
never filled from another dataset. The files are package data written by
``plugins/build_catalogs.py``; ``intensity_datasets.csv`` says what each dataset is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from attrs import field, frozen

from greenml.errors import CatalogError, InputError

if TYPE_CHECKING:
    from greenml.model import Intensity, Region

#: The methodology every plan uses unless told otherwise; its newest year is the default.
DEFAULT_FAMILY = "electricitymaps"


@frozen
class Dataset:
    """One methodology for one year: where its figures come from and what they cover.

    ``keyed_by`` is ``zone`` (a grid zone id, the same for every provider's regions in it)
    or ``region`` (``provider/region``: a provider's own figures for its regions).
    """

    name: str
    family: str
    year: int
    keyed_by: str
    signal: str
    scope: str
    basis: str
    source: str
    licence: str
    figures: Mapping[str, float] = field(eq=False, repr=False)

    def key(self, region: Region) -> str:
        return region.grid_zone if self.keyed_by == "zone" else f"{region.provider}/{region.name}"

    def g_per_kwh(self, region: Region) -> float | None:
        key = self.key(region)
        return self.figures.get(key) if key and key != "/" else None

    def intensity(self, region: Region) -> Intensity | None:
        """The region's figure as an Intensity that names this dataset, or None."""
        from greenml.model import Intensity

        value = self.g_per_kwh(region)
        if value is None:
            return None
        return Intensity(value, self.source, str(self.year), signal=self.signal, kind="annual",
                         zone=region.grid_zone, dataset=self.name, scope=self.scope)

    def why_missing(self, region: Region) -> str:
        if self.keyed_by == "zone" and not region.grid_zone:
            return f"no grid zone, so no figure in {self.name}"
        what = f"grid zone {region.grid_zone}" if self.keyed_by == "zone" else "this region"
        return f"{self.name} has no figure for {what}"

    def to_dict(self) -> dict[str, object]:
        return {"dataset": self.name, "family": self.family, "year": self.year,
                "scope": self.scope, "signal": self.signal, "basis": self.basis,
                "source": self.source, "licence": self.licence}


@functools.cache
def datasets() -> dict[str, Dataset]:
    """Every shipped dataset by name, figures loaded once per process."""
    from greenml.packagedata import rows

    tables = {"grid_intensity_electricitymaps.csv": _figures(
        "grid_intensity_electricitymaps.csv", "zone"),
        "grid_intensity_google.csv": _figures("grid_intensity_google.csv", "provider", "region")}
    out = {}
    for _, _, row in rows("greenml.data", "intensity_datasets.csv"):
        out[row["name"]] = Dataset(
            name=row["name"], family=row["family"], year=int(row["year"]),
            keyed_by=row["keyed_by"], signal=row["signal"], scope=row["scope"],
            basis=row["basis"], source=row["source"], licence=row["licence"],
            figures=tables.get(row["file"], {}).get(row["year"], {}),
        )
    return out


def _figures(filename: str, *key: str) -> dict[str, dict[str, float]]:
    """year -> {key -> g CO2e/kWh} of one figures file, the key being the ``key`` columns
    joined by "/" (``zone``, or ``provider/region``); a row without a figure is skipped.
    Read column by column, as every plan reads the whole file."""
    from greenml.packagedata import columns, to_number

    out: dict[str, dict[str, float]] = {}
    for label, line, values in columns("greenml.data", filename, *key, "year", "g_per_kwh"):
        *names, year, text = values
        try:
            figure = to_number(text, "g_per_kwh")
        except ValueError as exc:
            raise CatalogError(f"{label}, line {line}: {exc}") from None
        if figure is not None:
            out.setdefault(year, {})["/".join(names)] = figure
    return out


def default_name() -> str:
    """The newest year of the default methodology, e.g. ``electricitymaps-2025``."""
    return max((d for d in datasets().values() if d.family == DEFAULT_FAMILY),
               key=lambda d: d.year).name


def get(name: str | None, field: str = "carbon_data") -> Dataset:
    """The dataset called ``name`` (a family alone means its newest year; None: the default).

    Unknown names, and years a family does not have, raise InputError listing what exists.
    """
    known = datasets()
    if name is None:
        return known[default_name()]
    if not isinstance(name, str):
        raise InputError(field, f"must be a dataset name, got {name!r}")
    wanted = name.strip().lower()
    if wanted in known:
        return known[wanted]
    family = [d for d in known.values() if d.family == wanted]
    if family:
        return max(family, key=lambda d: d.year)
    from greenml.errors import closest

    raise InputError(field, f"unknown dataset {name!r}; known: {', '.join(sorted(known))}",
                     closest(wanted, known))


def family(dataset: Dataset) -> list[Dataset]:
    """Every year of a dataset's methodology, oldest first."""
    return sorted((d for d in datasets().values() if d.family == dataset.family),
                  key=lambda d: d.year)


def zone_names() -> list[str]:
    """Every grid zone the default methodology has a figure for (any year)."""
    return sorted({z for d in datasets().values() if d.keyed_by == "zone" for z in d.figures})
