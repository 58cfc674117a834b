"""Is the winner still the winner in another year? The ranking replayed on each year's figures.

Annual grid figures swing from year to year (one clean region's Google figure went from
2.73 to 19.39 g/kWh between two years), so a plan that ranks on one year says, for every
year of the same methodology, which option would have won and what its own winner would
have emitted. Energy and cost do not depend on the year, so each replay is one array pass
over the feasible options, already in rank order: the first minimum is the year's winner,
ties going to the cheaper, then faster option as in the plan itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from .catalog import Catalog
    from .datasets import Dataset


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


@frozen
class Robustness:
    """How the plan's best option fares under every year of its dataset's methodology.

    ``holds`` is true when it is the winner in every year; ``co2e_range_kg`` is the least and
    the most it would emit over those years; ``alternatives`` are the ranks of the options
    that win in some other year.
    """

    family: str
    years: tuple[YearCheck, ...]

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

    g_per_kwh = catalog.intensity_matrix(tuple(d.name for d in family))
    co2 = kwh[ranked] * g_per_kwh[:, catalog.columns.offer_region[ranked]] / 1000.0
    winners = np.argmin(np.where(np.isnan(co2), np.inf, co2), axis=1) if ranked.size else []
    years = []
    for d, row, w in zip(family, co2, winners, strict=True):
        found = bool(np.isfinite(row[w]))
        years.append(YearCheck(
            dataset=d.name, year=d.year, winner_rank=int(w) + 1 if found else None,
            winner_co2e_kg=float(row[w]) if found else None,
            best_co2e_kg=None if np.isnan(row[0]) else float(row[0]),
        ))
    return Robustness(family[0].family if family else "", tuple(years))
