"""When to start: per (region, runtime), the start (or the slots) with the least CO2e.

On the forecast grid of ``greenml.plan.forecasts``, a continuous run's mean intensity at
every allowed start is a difference of cumulative sums, computed for all regions at once,
once per distinct runtime; an interruptible run takes the lowest cells (forecast, or assumed
past the horizon) until its runtime is covered. Starts are never chosen past a region's
forecast horizon (there, only the assumption speaks). ``shift`` is what the planner calls;
``TimeShift`` keeps the choice and builds an option's schedule, with notes that explain it,
only when the option is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from greenml import energy
from greenml.arrays import distinct
from greenml.carbon import CarbonSource
from greenml.errors import InputError
from greenml.model import Intensity, Schedule, utc_text
from greenml.plan.forecasts import TOL, Forecasts, gather

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np

    from greenml.catalog import Catalog
    from greenml.job import Job


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
    last_start = min(n, max(1, math.ceil(float(p_horizon.max()) - TOL)))
    starts = np.concatenate(([p0], np.arange(1, last_start, dtype=np.float64)))
    start_ok = (starts[None, :] < p_horizon[:, None] - TOL) | (starts[None, :] == p0)
    base = _interp(cum, starts)
    length = runtime_h * 3600.0 / fc.step_s
    if interruptible:
        _, sorted_values, cum_cap, cum_energy = _slots(fc.values, _capacity(fc, p0, p_end))
    for u, f in enumerate(length):
        if p0 + f > p_end + TOL:
            continue
        ends = starts + f
        mean = (_interp(cum, ends) - base) / f
        at_once[:, u] = mean[:, 0]
        if interruptible:
            best[:, u] = _cheapest(sorted_values, cum_cap, cum_energy, f) / f
            start_pos[:, u] = p0
            continue
        masked = np.where(start_ok & (ends <= p_end + TOL)[None, :], mean, np.inf)
        low = masked.min(axis=1)
        pick = np.argmax(masked <= low[:, None] * (1 + TOL) + TOL, axis=1)
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
    k = np.minimum((cum_cap < f - TOL).sum(axis=1), n - 1)
    r = np.arange(rows)
    before_cap = np.where(k > 0, cum_cap[r, k - 1], 0.0)
    before_energy = np.where(k > 0, cum_energy[r, k - 1], 0.0)
    total = before_energy + (f - before_cap) * sorted_values[r, k]
    return np.where(cum_cap[:, -1] >= f - TOL, total, np.nan)


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
            co2e_kg=energy.co2e_kg(energy_kwh, mean),
            now_co2e_kg=energy.co2e_kg(energy_kwh, at_once),
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
        if assumed_cells > TOL:
            edge = utc_text(horizon) if horizon else "?"
            notes.append(f"past the forecast horizon ({edge}) assumed the zone "
                         f"average {fc.assumed[row]:g} g/kWh ({fc.assumed_label[row]}) for "
                         f"{assumed_cells * fc.step_s / 3600:,.1f} h of the run")
        if gap_cells > TOL:
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
            if left <= TOL:
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
            j = np.arange(math.floor(a), min(fc.cells, math.ceil(b - TOL)))
            overlap = np.clip(np.minimum(j + 1, b) - np.maximum(j, a), 0, 1)
            missing = ~fc.covered[row, j]
            past += float(overlap[missing & (j >= horizon - TOL)].sum())
            gaps += float(overlap[missing & (j < horizon - TOL)].sum())
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
