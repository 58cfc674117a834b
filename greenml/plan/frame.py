"""A plan as a pandas DataFrame, and as HTML in a notebook.

The rows are the plan JSON's options flattened, so a DataFrame and a saved plan never
disagree: each option's figures (hours, kWh, kg CO2e, USD), its grid figure with dataset,
year, scope and signal, and every estimate input as ``<name>`` / ``<name>_source`` /
``<name>_year`` columns. pandas is the optional ``greenml[pandas]`` extra, imported here only
when a frame is asked; the HTML table needs nothing beyond the standard library.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from greenml.errors import ExtraMissing, install

if TYPE_CHECKING:
    from greenml.plan.result import Plan

PANDAS_INSTALL = install("pandas")


def option_row(option: dict[str, Any]) -> dict[str, Any]:
    """One option of the plan JSON as flat columns (every figure with its source)."""
    row = {k: v for k, v in option.items()
           if k not in ("intensity", "inputs", "notes", "schedule")}
    for key, value in (option.get("intensity") or {}).items():
        row[f"intensity_{key}"] = value
    for figure in option.get("inputs", ()):
        name = figure["name"]
        if name == "intensity":  # the intensity_* columns carry it, with its dataset
            continue
        row.setdefault(name, figure["value"])  # hours: the option's own column already
        for part in ("source", "year", "note"):
            row[f"{name}_{part}"] = figure[part]
    row["notes"] = "; ".join(option.get("notes", ()))
    return row


def rows(plan: Plan, top: int | None = None) -> list[dict[str, Any]]:
    """The plan's options (all, or the first ``top``) as flat rows, in rank order."""
    options = plan.options if top is None else plan.top(top)
    return [option_row(o.to_dict()) for o in options]


def to_pandas(plan: Plan) -> Any:
    """One row per option, in rank order, indexed by rank (``pandas.DataFrame``)."""
    try:
        import pandas as pd
    except ImportError:
        raise ExtraMissing("plan.to_pandas()", PANDAS_INSTALL) from None
    frame = pd.DataFrame(rows(plan))
    return frame.set_index("rank", drop=False)


_HTML_COLUMNS = (("rank", "#"), ("provider", "provider"), ("region", "region"),
                 ("instances", "instances"), ("instance_type", "instance type"),
                 ("accelerator", "accelerator"), ("hours", "hours"), ("energy_kwh", "kWh"),
                 ("co2e_kg", "kg CO2e"), ("cost_usd", "USD"),
                 ("intensity_g_per_kwh", "g CO2e/kWh"), ("pue", "PUE"))


def plan_html(plan: Plan, top: int = 10, chart: bool = True) -> str:
    """The plan's first ``top`` options as an HTML table (Pareto options starred), with the
    chart as inline SVG below when matplotlib is installed."""
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in _HTML_COLUMNS)
    body = []
    for o in plan.top(top):
        e = o.estimate
        values = {"rank": f"{o.rank}{'*' if o.pareto else ''}", "provider": o.provider,
                  "region": o.region.name, "instances": o.instances,
                  "instance_type": o.offer.instance_type, "accelerator": o.accelerator.name,
                  "hours": f"{e.hours:,.1f}", "energy_kwh": f"{e.energy_kwh:,.1f}",
                  "co2e_kg": f"{e.co2e_kg:,.2f}",
                  "cost_usd": "" if e.cost_usd is None else f"{e.cost_usd:,.0f}",
                  "intensity_g_per_kwh": f"{e.intensity_g_per_kwh:g}", "pue": f"{e.pue:g}"}
        body.append("<tr>" + "".join(f"<td>{html.escape(str(values[k]))}</td>"
                                     for k, _ in _HTML_COLUMNS) + "</tr>")
    caption = html.escape(f"greenml plan: {len(plan)} options ranked by kg CO2e "
                          f"({plan.signal} grid intensity); * on the Pareto front")
    text = (f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
    if chart:
        text += _svg(plan)
    return text


def _svg(plan: Plan) -> str:
    """The plan's chart as inline SVG, or "" without matplotlib."""
    import io

    from greenml.plan.charts import chart

    buffer = io.StringIO()
    try:
        figure = chart(plan)
    except ExtraMissing:
        return ""
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.find("<svg"):]  # inline: no XML prolog or doctype
