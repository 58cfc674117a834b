"""Is the winner still the winner in another year? The ranking replayed on each year's figures.

Annual grid figures swing from year to year (one clean region's Google figure went from
2.73 to 19.39 g/kWh between two years), so a plan that ranks on one year says, for every
year of the same methodology, which option would have won and what its own winner would
have emitted. Energy and cost do not depend on the year, so each replay is one array pass
over the feasible options, already in rank order: the first minimum is the year's winner,
ties going to the cheaper, then faster option as in the plan itself.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import attrs
from attrs import frozen

from greenml import energy

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from greenml.catalog import Catalog
    from greenml.datasets import Dataset


@frozen
class YearCheck:
    """One year of the methodology: its winner (a 1-based rank in the plan) and figures."""

    dataset: str
    year: int
    winner_rank: int | None
    winner_co2e_kg: float | None
    best_co2e_kg: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "year": self.year, "winner_rank": self.winner_rank,
                "winner_co2e_kg": self.winner_co2e_kg, "best_co2e_kg": self.best_co2e_kg}


@attrs.define(eq=False)
class Robustness:
    """How the plan's best option fares under every year of its dataset's methodology.

    ``holds`` is true when it is the winner in every year; ``co2e_range_kg`` is the least and
    the most it would emit over those years; ``alternatives`` are the ranks of the options
    that win in some other year. The replay is kept as arrays (every plan makes one) and
    ``years`` is built from them when read.
    """

    family: str
    #: The datasets replayed, oldest first: their names and years.
    names: tuple[str, ...]
    dataset_years: tuple[int, ...]
    #: Per year: the winner's position in the plan (-1: no figure that year), the winner's
    #: kg CO2e and the plan's best option's kg CO2e (NaN: no figure).
    winner_position: np.ndarray
    winner_co2e_kg: np.ndarray
    best_co2e_kg: np.ndarray

    @functools.cached_property
    def years(self) -> tuple[YearCheck, ...]:
        out = []
        for name, year, w, won, best in zip(
                self.names, self.dataset_years, self.winner_position.tolist(),
                self.winner_co2e_kg.tolist(), self.best_co2e_kg.tolist(), strict=True):
            out.append(YearCheck(dataset=name, year=year,
                                 winner_rank=w + 1 if w >= 0 else None,
                                 winner_co2e_kg=won if w >= 0 else None,
                                 best_co2e_kg=None if math.isnan(best) else best))
        return tuple(out)

    @classmethod
    def from_years(cls, family: str, years: Sequence[YearCheck]) -> Robustness:
        """The same replay from its years (a saved plan)."""
        import numpy as np

        def number(value: float | None) -> float:
            return float("nan") if value is None else value

        return cls(family, tuple(y.dataset for y in years), tuple(y.year for y in years),
                   np.array([(y.winner_rank or 0) - 1 for y in years], dtype=np.intp),
                   np.array([number(y.winner_co2e_kg) for y in years]),
                   np.array([number(y.best_co2e_kg) for y in years]))

    @property
    def holds(self) -> bool:
        return all(y.winner_rank == 1 for y in self.years)

    @property
    def co2e_range_kg(self) -> tuple[float, float] | None:
        values = [y.best_co2e_kg for y in self.years if y.best_co2e_kg is not None]
        return (min(values), max(values)) if values else None

    @property
    def alternatives(self) -> tuple[int, ...]:
        ranks = [y.winner_rank for y in self.years if y.winner_rank not in (None, 1)]
        return tuple(dict.fromkeys(r for r in ranks if r is not None))

    def to_dict(self) -> dict[str, Any]:
        span = self.co2e_range_kg
        return {"family": self.family, "holds": self.holds,
                "co2e_range_kg": list(span) if span else None,
                "alternatives": list(self.alternatives),
                "years": [y.to_dict() for y in self.years]}


def check(catalog: Catalog, family: Sequence[Dataset], ranked: np.ndarray, kwh: np.ndarray
          ) -> Robustness:
    """Replay the ranking of ``ranked`` offers (best first) on each dataset of ``family``."""
    import numpy as np

    names, years = tuple(d.name for d in family), tuple(d.year for d in family)
    g_per_kwh = catalog.intensity_matrix(names)
    co2 = energy.co2e_kg(kwh[ranked], g_per_kwh[:, catalog.columns.offer_region[ranked]])
    name = family[0].family if family else ""
    if not ranked.size:
        empty = np.full(len(family), np.nan)
        return Robustness(name, names, years,
                          np.full(len(family), -1), empty, empty)
    comparable = np.where(np.isnan(co2), np.inf, co2)
    winners = np.argmin(comparable, axis=1)
    rows = np.arange(len(family))
    won = co2[rows, winners]
    found = np.isfinite(comparable[rows, winners])
    return Robustness(name, names, years,
                      np.where(found, winners, -1), won, co2[:, 0])
