"""When to start: per (region, runtime), the start (or the slots) with the least CO2e.

Each region's forecast becomes one row of a matrix on a shared time grid (the finest period
among the forecasts); a cell no forecast covers holds the stated assumption, the zone's
average. A continuous run's mean intensity at every allowed start is a difference of
cumulative sums, computed for all regions at once, once per distinct runtime; an
interruptible run takes the lowest cells (forecast, or assumed past the horizon) until its
runtime is covered.
Starts are never chosen past a region's forecast horizon (there, only the assumption speaks).
Pure numpy; the only I/O is the sources' forecasts, gathered by ``gather``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from greenml.arrays import distinct
from greenml.carbon import CarbonSource, Reading
from greenml.carbon.resolve import check_signals, fallback, resolve_forecasts
from greenml.errors import InputError
from greenml.model import Intensity, Region, Schedule, utc_text

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np

    from greenml.catalog import Catalog
    from greenml.job import Job

#: The finest grid step: WattTime's 5-minute periods.
MIN_STEP_S = 300.0
DEFAULT_STEP_S = 3600.0
#: A window longer than this many cells is sampled on a coarser grid (a multiple of the step).
MAX_CELLS = 50_000
_TOL = 1e-9


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
    cells = max(1, math.ceil((end_s - origin) / step - _TOL))
    if cells > MAX_CELLS:
        step *= math.ceil(cells / MAX_CELLS)
        origin = math.floor(start_s / step) * step
        cells = max(1, math.ceil((end_s - origin) / step - _TOL))
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


def _interp(cum: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Piecewise-linear value of the row-wise cumulative sums ``cum`` at positions ``x``."""
    import numpy as np

    last = cum.shape[1] - 2
    i = np.clip(np.floor(x).astype(np.int64), 0, last)
    frac = x - i
    out: np.ndarray = cum[:, i] + frac * (cum[:, i + 1] - cum[:, i])
    return out


def choose(fc: Forecasts, runtime_h: np.ndarray, interruptible: bool
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row and runtime: (chosen mean g/kWh, mean when starting at once, start position).

    NaN marks a runtime that does not fit before the deadline (or a row with no usable data).
    """
    import numpy as np

    rows, n = fc.values.shape
    runs = runtime_h.size
    best = np.full((rows, runs), np.nan)
    at_once = np.full((rows, runs), np.nan)
    start_pos = np.full((rows, runs), np.nan)
    if rows == 0 or runs == 0:
        return best, at_once, start_pos
    cum = np.zeros((rows, n + 1))
    np.cumsum(fc.values, axis=1, out=cum[:, 1:])
    p0 = fc.position(fc.start_s)
    p_end = fc.position(fc.deadline.timestamp()) if fc.deadline is not None else float(n)
    p_horizon = (fc.horizon_s - fc.origin_s) / fc.step_s
    last_start = min(n, max(1, math.ceil(float(p_horizon.max()) - _TOL)))
    starts = np.concatenate(([p0], np.arange(1, last_start, dtype=np.float64)))
    start_ok = (starts[None, :] < p_horizon[:, None] - _TOL) | (starts[None, :] == p0)
    base = _interp(cum, starts)
    length = runtime_h * 3600.0 / fc.step_s
    if interruptible:
        _, sorted_values, cum_cap, cum_energy = _slots(fc.values, _capacity(fc, p0, p_end))
    for u, f in enumerate(length):
        if p0 + f > p_end + _TOL:
            continue
        ends = starts + f
        mean = (_interp(cum, ends) - base) / f
        at_once[:, u] = mean[:, 0]
        if interruptible:
            best[:, u] = _cheapest(sorted_values, cum_cap, cum_energy, f) / f
            start_pos[:, u] = p0
            continue
        masked = np.where(start_ok & (ends <= p_end + _TOL)[None, :], mean, np.inf)
        low = masked.min(axis=1)
        pick = np.argmax(masked <= low[:, None] * (1 + _TOL) + _TOL, axis=1)
        best[:, u] = low
        start_pos[:, u] = starts[pick]
    best[~fc.usable] = np.nan
    at_once[~fc.usable] = np.nan
    return best, at_once, start_pos


def _capacity(fc: Forecasts, p0: float, p_end: float) -> np.ndarray:
    """How much of each cell (0-1) lies inside the window."""
    import numpy as np

    j = np.arange(fc.cells, dtype=np.float64)
    share: np.ndarray = np.clip(np.minimum(j + 1, p_end) - np.maximum(j, p0), 0.0, 1.0)
    return share


def _slots(values: np.ndarray, cap: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cells in the order an interruptible run takes them, lowest intensity first (past the
    horizon at the assumed value; ties go to the earlier cell), with their values and
    cumulative capacity and energy. Cells outside the window come last, with no capacity."""
    import numpy as np

    key = values.copy()
    key[:, cap <= 0] = np.inf
    order = np.argsort(key, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    sorted_cap = cap[order]
    return order, sorted_values, np.cumsum(sorted_cap, axis=1), np.cumsum(
        sorted_values * sorted_cap, axis=1)


def _cheapest(sorted_values: np.ndarray, cum_cap: np.ndarray, cum_energy: np.ndarray,
              f: float) -> np.ndarray:
    """Per row, the energy-weighted intensity sum of the cheapest ``f`` cells (NaN: too few)."""
    import numpy as np

    rows, n = sorted_values.shape
    k = np.minimum((cum_cap < f - _TOL).sum(axis=1), n - 1)
    r = np.arange(rows)
    before_cap = np.where(k > 0, cum_cap[r, k - 1], 0.0)
    before_energy = np.where(k > 0, cum_energy[r, k - 1], 0.0)
    total = before_energy + (f - before_cap) * sorted_values[r, k]
    return np.where(cum_cap[:, -1] >= f - _TOL, total, np.nan)


@attrs.define(eq=False)
class TimeShift:
    """The time-shifting part of a plan: per (region, accelerator) the chosen mean intensity,
    the mean when starting at once, and where the run starts; schedules are built on demand."""

    forecasts: Forecasts
    interruptible: bool
    row_of_region: np.ndarray
    runtime_h: np.ndarray
    mean: np.ndarray
    at_once: np.ndarray
    start_pos: np.ndarray

    @property
    def start(self) -> datetime:
        return self.forecasts.start

    @property
    def deadline(self) -> datetime | None:
        return self.forecasts.deadline

    def note(self, region_pos: int) -> str:
        row = int(self.row_of_region[region_pos])
        return self.forecasts.notes[row] if row >= 0 else ""

    def schedule(self, region_pos: int, acc_pos: int, hours: float, energy_kwh: float
                 ) -> tuple[Schedule, Intensity | None, list[str]]:
        """The option's schedule, the intensity figure it rests on, and notes that explain it."""
        fc = self.forecasts
        row = int(self.row_of_region[region_pos])
        mean = float(self.mean[region_pos, acc_pos])
        at_once = float(self.at_once[region_pos, acc_pos])
        f = hours * 3600.0 / fc.step_s
        if self.interruptible:
            pieces = self._pieces(row, f)
        else:
            p = float(self.start_pos[region_pos, acc_pos])
            pieces = [(p, p + f)]
        slots = _merge([(fc.when(a), fc.when(b)) for a, b in pieces])
        assumed_cells, gap_cells = self._assumed(row, pieces)
        has_forecast = bool(fc.sources[row])
        horizon = fc.when(fc.position(float(fc.horizon_s[row]))) if has_forecast else None
        schedule = Schedule(
            start=slots[0][0], end=slots[-1][1], slots=tuple(slots),
            interruptible=self.interruptible, earliest_start=fc.start, deadline=fc.deadline,
            co2e_kg=energy_kwh * mean / 1000.0, now_co2e_kg=energy_kwh * at_once / 1000.0,
            forecast_source=fc.sources[row],
            horizon_end=horizon, assumed_hours=(assumed_cells + gap_cells) * fc.step_s / 3600,
            assumed_g_per_kwh=float(fc.assumed[row]),
        )
        notes = [fc.notes[row]] if fc.notes[row] else []
        if not has_forecast:
            notes.append(f"no forecast for this region: assumed {fc.assumed_label[row]}, "
                         f"{fc.assumed[row]:g} g/kWh, over the whole window, so every start is "
                         "alike and the run starts at once")
            return schedule, None, notes
        if assumed_cells > _TOL:
            edge = utc_text(horizon) if horizon else "?"
            notes.append(f"past the forecast horizon ({edge}) assumed the zone "
                         f"average {fc.assumed[row]:g} g/kWh ({fc.assumed_label[row]}) for "
                         f"{assumed_cells * fc.step_s / 3600:,.1f} h of the run")
        if gap_cells > _TOL:
            notes.append(f"the forecast has gaps: {gap_cells * fc.step_s / 3600:,.1f} h of the "
                         f"run assumed at the zone average {fc.assumed[row]:g} g/kWh")
        how = "lowest-intensity slots" if self.interruptible else "run"
        intensity = Intensity(
            mean, f"{fc.sources[row]} forecast, mean over the {how} "
            f"{utc_text(schedule.start)} to {utc_text(schedule.end)}",
            schedule.start.strftime("%Y-%m-%d"), fc.signal, "forecast",
            dataset=f"{fc.sources[row]} forecast")
        return schedule, intensity, notes

    def _pieces(self, row: int, f: float) -> list[tuple[float, float]]:
        """The grid spans an interruptible run takes, in time order."""
        fc = self.forecasts
        p0 = fc.position(fc.start_s)
        p_end = fc.position(fc.deadline.timestamp()) if fc.deadline is not None else fc.cells
        cap = _capacity(fc, p0, p_end)
        order, _, _, _ = _slots(fc.values[row:row + 1], cap)
        pieces, left = [], f
        for cell in order[0]:
            if left <= _TOL:
                break
            take = min(float(cap[cell]), left)
            if take <= 0:
                continue
            begin = max(float(cell), p0)
            pieces.append((begin, begin + take))
            left -= take
        return sorted(pieces)

    def _assumed(self, row: int, pieces: list[tuple[float, float]]) -> tuple[float, float]:
        """Cells of the run past the horizon, and cells in gaps before it, both assumed."""
        import numpy as np

        fc = self.forecasts
        horizon = fc.position(float(fc.horizon_s[row]))
        past = gaps = 0.0
        for a, b in pieces:
            j = np.arange(math.floor(a), min(fc.cells, math.ceil(b - _TOL)))
            overlap = np.clip(np.minimum(j + 1, b) - np.maximum(j, a), 0, 1)
            missing = ~fc.covered[row, j]
            past += float(overlap[missing & (j >= horizon - _TOL)].sum())
            gaps += float(overlap[missing & (j < horizon - _TOL)].sum())
            if b > fc.cells:
                past += b - max(a, fc.cells)
        return past, gaps


def _merge(slots: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in slots:
        if merged and abs((a - merged[-1][1]).total_seconds()) < 1:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def window_start(job: Job, now: datetime | None) -> tuple[datetime, datetime]:
    """(now, the window's start: now or the job's earliest_start, whichever is later)."""
    from datetime import datetime, timezone

    if now is None:
        now = datetime.now(timezone.utc)
    elif now.utcoffset() is None:
        raise InputError("now", f"must be timezone-aware, got {now!r}")
    start = max(now, job.earliest_start) if job.earliest_start is not None else now
    if job.deadline is not None and job.deadline <= start:
        raise InputError("deadline", f"{utc_text(job.deadline)} is not after the window's "
                         f"start {utc_text(start)} (now, or earliest_start if later)")
    return now, start


def shift(job: Job, catalog: Catalog, asked: np.ndarray, hours_by_acc: np.ndarray,
          sources: Sequence[CarbonSource], now: datetime | None = None,
          carbon_deadline_s: float | None = None) -> TimeShift:
    """The best start per (region, accelerator) for the regions in ``asked``; each source has
    ``carbon_deadline_s`` to give its forecasts (default ``GREENML_CARBON_DEADLINE_S``)."""
    import numpy as np

    _, start = window_start(job, now)
    positions = np.flatnonzero(asked)
    regions = [catalog.regions[i] for i in positions]
    finite = np.isfinite(hours_by_acc)
    runtimes, inverse, _ = distinct(hours_by_acc[finite])
    longest = float(runtimes.max()) if runtimes.size else 0.0
    fc = gather(regions, sources, start, job.deadline, longest, carbon_deadline_s)
    best, at_once, start_pos = choose(fc, runtimes, job.interruptible)
    n_regions, n_acc = len(catalog.regions), len(catalog.accelerators)
    shape = (n_regions, n_acc)
    mean = np.full(shape, np.nan)
    now_mean = np.full(shape, np.nan)
    pos = np.full(shape, np.nan)
    acc_idx = np.flatnonzero(finite)
    if positions.size and acc_idx.size:
        grid = np.ix_(positions, acc_idx)
        mean[grid] = best[:, inverse]
        now_mean[grid] = at_once[:, inverse]
        pos[grid] = start_pos[:, inverse]
    row_of_region = np.full(n_regions, -1, dtype=np.int64)
    row_of_region[positions] = np.arange(positions.size)
    return TimeShift(fc, job.interruptible, row_of_region, hours_by_acc, mean, now_mean, pos)
