"""The forecasts a time-shifted plan asks for, laid on one time grid.

Why one grid: with every region's forecast a row of one matrix (the finest period among the
forecasts is the step), the start choice in ``greenml.plan.timeshift`` is numpy over whole
rows, for all regions at once, instead of a walk through each source's own periods. A cell no
forecast covers holds the stated assumption, the zone's average, flagged as not covered, so
what was assumed is always told. The only I/O is the sources' forecasts, asked in ``gather``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from greenml.carbon import CarbonSource, Reading
from greenml.carbon.resolve import check_signals, fallback, resolve_forecasts
from greenml.errors import InputError
from greenml.model import Region

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np

#: The finest grid step: WattTime's 5-minute periods.
MIN_STEP_S = 300.0
DEFAULT_STEP_S = 3600.0
#: A window longer than this many cells is sampled on a coarser grid (a multiple of the step).
MAX_CELLS = 50_000
#: Slack for comparing positions on the grid (sums of float steps).
TOL = 1e-9


@attrs.define(eq=False)
class Forecasts:
    """Forecast rows for the regions a plan asks about, on one grid; cells past a row's
    forecast hold ``assumed`` (the zone's average), flagged by ``covered`` False."""

    start: datetime
    deadline: datetime | None
    signal: str
    origin_s: float
    step_s: float
    values: np.ndarray
    covered: np.ndarray
    horizon_s: np.ndarray
    assumed: np.ndarray
    assumed_label: list[str]
    usable: np.ndarray
    sources: list[str]
    notes: list[str]

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def cells(self) -> int:
        return int(self.values.shape[1])

    def position(self, epoch_s: float) -> float:
        return (epoch_s - self.origin_s) / self.step_s

    def when(self, position: float) -> datetime:
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self.origin_s + position * self.step_s, timezone.utc)


def gather(regions: Sequence[Region], sources: Sequence[CarbonSource], start: datetime,
           deadline: datetime | None, longest_run_h: float,
           carbon_deadline_s: float | None = None) -> Forecasts:
    """Ask the sources for each region's forecast and lay the answers on one grid."""
    import numpy as np

    signal = check_signals(sources)
    answers = resolve_forecasts(regions, sources, start, deadline, carbon_deadline_s)
    series: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
    assumed = np.full(len(regions), np.nan)
    labels, notes, names = [], [], []
    usable = np.ones(len(regions), dtype=bool)
    for k, (region, (readings, name, note)) in enumerate(zip(regions, answers, strict=True)):
        arrays = _arrays(readings, signal) if readings else None
        series.append(arrays)
        names.append(name if arrays is not None else "")
        annual = region.intensity
        if annual is not None and annual.signal == signal:
            assumed[k] = annual.g_per_kwh
            labels.append(f"the embedded annual average, {annual.source} ({annual.year})")
        elif arrays is not None:
            assumed[k] = float(arrays[2].mean())
            labels.append(f"the mean of the {name} forecast ({signal})")
        else:
            usable[k] = False
            labels.append("")
            note = "; ".join(n for n in (note, fallback(region, signal)[1]) if n)
        notes.append(note)
    return _grid(start, deadline, signal, series, assumed, labels, usable, names, notes,
                 longest_run_h)


def _arrays(readings: Sequence[Reading], signal: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(start s, period s, g/kWh) of readings, sorted by time; mixing signals is refused."""
    import numpy as np

    kinds = {r.signal for r in readings}
    if kinds - {signal}:
        raise InputError("carbon_sources", f"a source returned {', '.join(sorted(kinds))} "
                         f"readings in a plan ranked by the {signal} signal; rank with one kind "
                         "only")
    at = np.array([r.at_s for r in readings], dtype=np.float64)
    period = np.array([r.period_s for r in readings], dtype=np.float64)
    g = np.array([r.g_per_kwh for r in readings], dtype=np.float64)
    order = np.argsort(at, kind="stable")
    return at[order], period[order], g[order]


def _grid(start: datetime, deadline: datetime | None, signal: str,
          series: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None], assumed: np.ndarray,
          labels: list[str], usable: np.ndarray, names: list[str], notes: list[str],
          longest_run_h: float) -> Forecasts:
    import numpy as np

    start_s = start.timestamp()
    periods = [float(s[1].min()) for s in series if s is not None and s[1].size]
    step = max(MIN_STEP_S, min(periods)) if periods else DEFAULT_STEP_S
    horizon = np.array([max(start_s, float((s[0] + s[1]).max())) if s is not None else start_s
                        for s in series], dtype=np.float64)
    if deadline is not None:
        end_s = deadline.timestamp()
    else:
        end_s = max(start_s, float(horizon.max()) if horizon.size else start_s)
        end_s += longest_run_h * 3600.0
    origin = math.floor(start_s / step) * step
    cells = max(1, math.ceil((end_s - origin) / step - TOL))
    if cells > MAX_CELLS:
        step *= math.ceil(cells / MAX_CELLS)
        origin = math.floor(start_s / step) * step
        cells = max(1, math.ceil((end_s - origin) / step - TOL))
    values = np.repeat(np.where(np.isnan(assumed), 0.0, assumed)[:, None], cells, axis=1)
    covered = np.zeros((len(series), cells), dtype=bool)
    cell_start = origin + step * np.arange(cells)
    for row, arrays in enumerate(series):
        if arrays is None:
            continue
        at, period, g = arrays
        idx = np.searchsorted(at, cell_start, side="right") - 1
        inside = idx >= 0
        inside[inside] &= cell_start[inside] < at[idx[inside]] + period[idx[inside]]
        values[row, inside] = g[idx[inside]]
        covered[row, inside] = True
    return Forecasts(start, deadline, signal, float(origin), float(step), values, covered,
                     horizon, assumed, labels, usable, names, notes)
