"""A report as a picture: what the plan said beside what the run used, and its power over time.

The top row has one panel per figure a reader checks (runtime in hours, energy including PUE
in kWh, emissions in kg CO2e), each with a planned and a measured bar and its value written
on it; a panel per figure because the three have different units, and each axis carries its
own. The bottom panel is the sampler's power trace (the total measured power of each node,
in W, against the time since the sampler started), with the power the plan assumed per node
as a dashed line. A report with no measurement draws the plan's bars alone and says why; a
measurement without a trace (CodeCarbon's) says that instead of drawing an empty curve.

The conventions are the plan chart's (``greenml.plan.charts``): matplotlib only when drawing,
no pyplot (a ``Figure``, no backend chosen), the same suffixes, the same extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from greenml.plan.charts import PALETTE, drawing, saved

PLANNED_LABEL = "planned"
MEASURED_LABEL = "measured"
PLANNED_POWER_LABEL = "planned power per node"
#: (key in ``planned``/``actual``, panel title, axis label).
FIGURES = (("hours", "Runtime", "hours (h)"),
           ("energy_kwh", "Energy incl. PUE", "energy (kWh)"),
           ("co2e_kg", "Emissions", "kg CO2e"))
_PLANNED_COLOUR, _MEASURED_COLOUR = "#9e9e9e", PALETTE[2]


def chart(facts: Mapping[str, Any], path: str | Path | None = None) -> Any:
    """The report's chart (a ``matplotlib.figure.Figure``); written to ``path`` when given,
    in the format its suffix names (.svg, .png, .pdf)."""
    target, Figure = drawing(path)  # noqa: N806 - a class
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    grid = figure.add_gridspec(2, len(FIGURES), height_ratios=(1, 1.1))
    actual: Mapping[str, Any] = facts.get("actual") or {}
    for column, (key, title, unit) in enumerate(FIGURES):
        _bars(figure.add_subplot(grid[0, column]), facts["planned"].get(key),
              actual.get(key), title, unit)
    _trace(figure.add_subplot(grid[1, :]), facts)
    hw = facts["hardware"]
    kind = "measured" if facts.get("measured") else (
        f"estimate: nothing measured ({facts.get('why_not_measured', 'no measurement')})")
    figure.suptitle(f"greenml report {facts['name']}: {hw['accelerators']} x "
                    f"{hw['accelerator']} in {facts['provider']} {facts['region']} ({kind})",
                    fontsize="medium")
    return saved(figure, target)


def _bars(ax: Any, planned: float | None, measured: float | None, title: str,
          unit: str) -> None:
    labels, values, colours = [PLANNED_LABEL], [float(planned or 0.0)], [_PLANNED_COLOUR]
    if measured is not None:
        labels.append(MEASURED_LABEL)
        values.append(float(measured))
        colours.append(_MEASURED_COLOUR)
    bars = ax.bar(labels, values, color=colours, width=0.6)
    for bar, label in zip(bars, labels, strict=True):
        bar.set_label(label)
    ax.bar_label(bars, labels=[_short(v) for v in values], padding=2, fontsize="small")
    if measured is None:
        ax.text(0.75, 0.5, "not\nmeasured", transform=ax.transAxes, ha="center",
                va="center", fontsize="small", color="dimgray")
        ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.margins(y=0.15)


def _trace(ax: Any, facts: Mapping[str, Any]) -> None:
    traces: Sequence[Sequence[Sequence[float]]] = [
        t for t in facts["measurement"].get("trace") or () if t]
    ax.set_title("Measured power over the run (GPU, CPU and DRAM where readable)")
    ax.set_ylabel("power (W)")
    if not traces:
        why = ("no power trace in this measurement" if facts.get("measured")
               else "nothing measured")
        ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center",
                color="dimgray")
        ax.set_xlabel("time since the run started")
        ax.set_yticks([])
        ax.set_xticks([])
        return
    longest_s = max(float(p[0]) for t in traces for p in t)
    scale, unit = time_unit(longest_s)
    for node, points in enumerate(traces):
        ax.plot([float(p[0]) / scale for p in points], [float(p[1]) for p in points],
                color=PALETTE[node % len(PALETTE)], linewidth=1.2,
                label=f"node {node}" if len(traces) > 1 else "measured power")
    highest_w = max(float(p[1]) for t in traces for p in t)
    power = facts["planned"].get("power_w")
    hw = facts["hardware"]
    if power is not None and hw.get("instances"):
        per_node = float(power) * int(hw["accelerators"]) / int(hw["instances"])
        highest_w = max(highest_w, per_node)
        ax.axhline(per_node, color="black", linestyle="--", linewidth=1,
                   label=f"{PLANNED_POWER_LABEL} ({per_node:,.0f} W, host share included)")
    ax.set_xlabel(f"time since the sampler started ({unit})")
    ax.set_ylim(0, highest_w * 1.15 or 1.0)
    ax.legend(fontsize="small", loc="lower right")


def time_unit(longest_s: float) -> tuple[float, str]:
    """(seconds per unit, unit) for a trace this long: s, min or h, whichever reads best."""
    if longest_s >= 2 * 3600:
        return 3600.0, "h"
    if longest_s >= 120:
        return 60.0, "min"
    return 1.0, "s"


def _short(value: float) -> str:
    from greenml.plan.statement import number

    return number(value)
