"""Plain-text tables for a terminal: no dependencies, nothing clever."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenml.plan.result import Plan


def table(headers: Sequence[str], rows: Sequence[Sequence[object]],
          right: frozenset[int] | set[int] = frozenset()) -> str:
    """Columns padded to their widest cell; ``right`` holds the indexes of numeric columns."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def number(value: float | None, digits: int = 1) -> str:
    """A figure for a table: fixed decimals, but small values keep three significant digits."""
    if value is None:
        return "?"
    if value != 0 and abs(value) < 10 ** -digits * 10:
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def plan_rows(plan: Plan, top: int = 10) -> tuple[list[str], list[list[str]]]:
    """The plan table's columns and its first ``top`` rows, as text (Pareto options
    starred); a time-shifted plan adds when each option starts and what that saves."""
    headers = ["#", "provider", "region", "location", "instances", "accelerators", "hours",
               "kWh", "kg CO2e", "USD", "g/kWh", "PUE"]
    if plan.window is not None:
        headers += ["start (UTC)", "kg saved vs now"]
    rows = []
    for o in plan.top(top):
        e = o.estimate
        rows.append([
            f"{o.rank}{'*' if o.pareto else ''}", o.provider, o.region.name,
            o.region.location[:28], f"{o.instances} x {o.offer.instance_type}",
            f"{e.accelerators} x {o.accelerator.name}", number(e.hours), number(e.energy_kwh, 0),
            number(e.co2e_kg), "?" if e.cost_usd is None else f"{e.cost_usd:,.0f}",
            f"{e.intensity_g_per_kwh:g}", f"{e.pue:g}",
        ])
        if o.schedule is not None:
            rows[-1] += [o.schedule.start.strftime("%Y-%m-%d %H:%MZ")
                         + ("+" if len(o.schedule.slots) > 1 else ""),
                         number(o.schedule.saving_co2e_kg) if o.schedule.forecast_source
                         else "none: no forecast"]
    return headers, rows


def plan_table(plan: Plan, top: int = 10) -> str:
    job = plan.job
    work = f"{job.hours:g} h" if job.hours is not None else f"{job.flops:.3g} FLOPs"
    wanted = ", ".join(job.accelerator) or "any accelerator"
    fell_back = "".join(f"; {note}" for note in plan.notes)  # said first, never buried
    head = (f"greenml plan: {job.count} x {wanted}, {work}; {len(plan)} feasible options, "
            f"ranked by kg CO2e ({plan.signal} grid intensity){fell_back}\n"
            f"{methodology_line(plan)}")
    headers, rows = plan_rows(plan, top)
    right = {6, 7, 8, 9, 10, 11} | ({13} if len(headers) > 12 else set())
    window = plan.window  # a saved plan has its window, not the forecasts behind it
    body = table(headers, rows, right=right)
    s, base = plan.savings, plan.baseline
    best = plan.best
    if window is not None:
        until = f" to {window['deadline']}" if window["deadline"] else " (no deadline)"
        head += (f"\nwindow: from {window['start']}{until}"
                 + (", interruptible" if window["interruptible"] else "")
                 + "; each option starts when its whole run emits the least")
    lines = [
        head, "", body, "",
        "* on the Pareto front (kg CO2e, USD, hours)"
        + ("; + runs in several slots" if window and window["interruptible"] else ""),
        f"best: {best.provider}/{best.region.name} {best.offer.instance_type}: "
        f"{best.estimate.co2e_kg:,.1f} kg CO2e, {s.factor:,.1f}x less than the baseline "
        f"({base.co2e_kg:,.1f} kg: same job on the same {best.accelerator.name} in an average "
        f"US datacenter, PUE {base.pue:g}, {base.intensity_g_per_kwh:g} g/kWh; Patterson et "
        "al. 2021)",
        f"saving: {s.saved_co2e_kg:,.1f} kg CO2e ({s.percent:.0f}%): {s.describe()}",
    ]
    if plan.robustness is not None:
        lines.append(robustness_line(plan))
    if best.schedule is not None:
        blind = "" if best.schedule.forecast_source else (
            "; no forecast for this region, so every start is alike and nothing is saved by "
            "waiting (see the first line)")
        lines.append(f"when: {best.schedule.describe()}{blind}")
    per_provider = plan.best_per_provider()
    if len(per_provider) > 1:
        lines.append("best per provider: " + "; ".join(
            f"{o.provider} #{o.rank} {o.region.name} {o.offer.instance_type} "
            f"{number(o.estimate.co2e_kg)} kg" for o in per_provider))
    if plan.excluded:
        lines.append(f"excluded: {len(plan.excluded)} group(s); see --json or plan.excluded")
    return "\n".join(lines)


def methodology_line(plan: Plan) -> str:
    """Which dataset (or live source) the options rest on; a mix is said, never hidden."""
    counts = plan.methodologies
    if len(counts) == 1:
        return f"grid intensity: {next(iter(counts))} for every option"
    return ("grid intensity MIXES methodologies: " + "; ".join(
        f"{label} for {n} option(s)" for label, n in counts.items()))


def robustness_line(plan: Plan) -> str:
    """Whether the winner stays the winner in every year of its methodology."""
    r = plan.robustness
    assert r is not None
    years = [y.year for y in r.years]
    span = r.co2e_range_kg
    where = f"{years[0]}-{years[-1]}" if years else "no year"
    spread = f"; its kg CO2e over those years: {span[0]:,.1f}-{span[1]:,.1f}" if span else ""
    if r.holds:
        return f"robustness: #1 stays best in every year of {r.family} {where}{spread}"
    other = []
    for y in r.years:
        if y.winner_rank not in (None, 1):
            o = plan.option(y.winner_rank or 1)
            other.append(f"{y.year}: #{o.rank} {o.provider}/{o.region.name} "
                         f"{o.offer.instance_type}")
    return (f"robustness: the winner changes with the year ({r.family} {where}): "
            + "; ".join(other) + spread)


def json_text(data: Any, indent: int | None = 2) -> str:
    """``data`` as strict JSON (RFC 8259), the one way greenml writes JSON for people and tools.

    A number that is not finite (an unknown figure computed as NaN) is written as null on
    purpose, never as ``NaN`` or ``Infinity``, which strict parsers reject; ``allow_nan=False``
    makes any that slipped through an error here rather than in the reader's parser.
    """
    import json

    return json.dumps(_finite(data), indent=indent, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
