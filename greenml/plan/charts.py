"""A plan as pictures: where, what it costs, and when.

Three panels a reader takes in at a glance: the best option's kg CO2e in each region (bars,
the lowest regions only), kg CO2e against USD for every priced option with the Pareto front
drawn through, and for a time-shifted plan the forecast grid intensity of the chosen region
with the chosen run shaded. Every axis carries its unit, providers have their own colour and
legend entry, and the chosen option is marked in each panel.

matplotlib is the optional ``greenml[charts]`` extra, imported only here and only when a
chart is drawn. The figure is built without pyplot (``matplotlib.figure.Figure``), so drawing
never selects or changes a backend: a script or server needs no display, and a notebook keeps
its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenml.errors import ExtraMissing, InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from greenml.model import Option
    from greenml.plan.result import Plan

#: Suffixes ``chart(path=...)`` writes, each in the format it names.
CHART_SUFFIXES = (".svg", ".png", ".pdf")
#: Provider colours (matplotlib's colour-blind-safe tab10 order); others take the next ones.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
CHOSEN_LABEL = "chosen (#1)"
PARETO_LABEL = "Pareto front"


def check_path(path: str | Path) -> Path:
    """``path`` if its suffix names a format a chart is written in (InputError otherwise)."""
    target = Path(path)
    if target.suffix.lower() not in CHART_SUFFIXES:
        raise InputError("chart", f"cannot tell the format of {str(path)!r}: accepted "
                         f"suffixes are {', '.join(CHART_SUFFIXES)}")
    return target


def drawing(path: str | Path | None, what: str = "a chart") -> tuple[Path | None, Any]:
    """What every chart checks before it draws (the CLI before it plans or reads a ledger):
    ``path``'s suffix (InputError) and matplotlib (ExtraMissing naming ``what``). Gives the
    path and matplotlib's ``Figure`` class."""
    target = None if path is None else check_path(path)
    try:  # the package first: a submodule already loaded would answer even without it
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise ExtraMissing(what, "charts") from None
    return target, Figure


def chart(plan: Plan, path: str | Path | None = None, top_regions: int = 12) -> Any:
    """The plan's chart (a ``matplotlib.figure.Figure``); written to ``path`` when given, in
    the format its suffix names (.svg, .png, .pdf)."""
    target, Figure = drawing(path)  # noqa: N806 - a class
    shifted = plan.timeshift is not None and plan.best.schedule is not None
    figure = Figure(figsize=(11, 9.5 if shifted else 6.5), layout="constrained")
    grid = figure.add_gridspec(2 if shifted else 1, 2)
    colours = _colours(plan)
    _regions(figure.add_subplot(grid[0, 0]), plan, colours, top_regions)
    _cost(figure.add_subplot(grid[0, 1]), plan, colours)
    if shifted:
        _forecast(figure.add_subplot(grid[1, :]), plan)
    job = plan.job
    figure.suptitle(f"greenml plan: {job.count} x {', '.join(job.accelerator)}, "
                    f"{len(plan)} options (estimates, {plan.signal} grid intensity)")
    return saved(figure, target)


def saved(figure: Figure, target: Path | None) -> Figure:
    """``figure``, written to ``target`` first when given (the format from its suffix)."""
    if target is not None:
        try:
            figure.savefig(target, format=target.suffix[1:].lower())
        except OSError as exc:
            raise InputError("chart", f"cannot write {target}: {exc.strerror or exc}") from None
    return figure


def _colours(plan: Plan) -> dict[str, str]:
    names = sorted({o.provider for o in plan.options})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def region_bests(plan: Plan, top: int) -> list[Option]:
    """Each region's first-ranked option, lowest kg CO2e first, at most ``top`` regions (the
    chosen option's region always among them)."""
    seen: dict[tuple[str, str], Option] = {}
    for option in plan.options:  # rank order: the first of a region is its best
        seen.setdefault((option.provider, option.region.name), option)
    return list(seen.values())[:top]


def _regions(ax: Any, plan: Plan, colours: dict[str, str], top: int) -> None:
    bests = region_bests(plan, top)
    labels = [f"{o.provider}/{o.region.name}" for o in bests]
    values = [o.estimate.co2e_kg for o in bests]
    bars = ax.barh(labels, values, color=[colours[o.provider] for o in bests])
    chosen = bars[0]
    chosen.set_edgecolor("black")
    chosen.set_linewidth(2)
    chosen.set_hatch("//")
    ax.invert_yaxis()  # the best region on top
    from matplotlib.patches import Patch

    handles = [Patch(color=colours[p], label=p) for p in dict.fromkeys(o.provider for o in bests)]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label=CHOSEN_LABEL))
    ax.legend(handles=handles, loc="best", fontsize="small")
    ax.set_xlabel("kg CO2e (best option in the region)")
    ax.set_title(f"Best option per region (lowest {len(bests)} of "
                 f"{len({(o.provider, o.region.name) for o in plan.options})})")
    ax.tick_params(axis="y", labelsize="small")


def _cost(ax: Any, plan: Plan, colours: dict[str, str]) -> None:
    priced = [o for o in plan.options if o.estimate.cost_usd is not None]
    for provider, colour in colours.items():
        mine = [o for o in priced if o.provider == provider]
        if mine:
            ax.scatter([o.estimate.cost_usd for o in mine], [o.estimate.co2e_kg for o in mine],
                       s=14, alpha=0.6, color=colour, label=provider)
    front = sorted((o for o in plan.pareto if o.estimate.cost_usd is not None),
                   key=lambda o: o.estimate.cost_usd or 0.0)
    ax.plot([o.estimate.cost_usd for o in front], [o.estimate.co2e_kg for o in front],
            color="black", linewidth=1, marker="o", markerfacecolor="none", markersize=7,
            label=PARETO_LABEL)
    best = plan.best
    if best.estimate.cost_usd is not None:
        ax.scatter([best.estimate.cost_usd], [best.estimate.co2e_kg], marker="*", s=220,
                   color="gold", edgecolor="black", zorder=5, label=CHOSEN_LABEL)
    unpriced = len(plan) - len(priced)
    ax.set_xlabel("cost (USD)")
    ax.set_ylabel("kg CO2e")
    ax.set_title("Every option: emissions against cost"
                 + (f" ({unpriced} without a price not shown)" if unpriced else ""))
    ax.legend(fontsize="small")


def _forecast(ax: Any, plan: Plan) -> None:
    ts, best = plan.timeshift, plan.best
    assert ts is not None and best.schedule is not None
    fc = ts.forecasts
    position = plan.catalog.region_index[(best.provider, best.region.name)]
    row = int(ts.row_of_region[position])
    times = [fc.when(i) for i in range(fc.cells + 1)]
    if row >= 0:
        covered = [bool(c) for c in fc.covered[row]]
        values = [float(v) for v in fc.values[row]]
        nan = float("nan")
        for inside, style, label in (
                (True, "-", f"{best.provider}/{best.region.name} forecast "
                            f"({best.schedule.forecast_source or 'none'})"),
                (False, ":", "assumed (zone average, no forecast)")):
            shown = [v if c == inside else nan for v, c in zip(values, covered, strict=True)]
            if any(c == inside for c in covered):
                ax.step(times, [*shown, shown[-1]], where="post", color="#1f77b4",
                        linestyle=style, label=label)
    for i, (start, end) in enumerate(best.schedule.slots):
        ax.axvspan(start, end, color="gold", alpha=0.4,
                   label="chosen run" if i == 0 else None)
    if fc.deadline is not None:
        ax.axvline(fc.deadline, color="black", linestyle="--", label="deadline")
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(f"g CO2e/kWh ({fc.signal})")
    ax.set_title(f"Grid intensity of the chosen region; {best.schedule.describe()}",
                 fontsize="small")
    ax.legend(fontsize="small")
