"""A plan or a report as HTML in a notebook (``_repr_html_``): its table, then its chart.

One small table writer serves both (every cell escaped: provider and region names come from
plugins and files), and the chart is the one ``chart()`` draws, inlined as SVG. Without
matplotlib (the optional ``greenml[charts]`` extra) the table comes alone, with one line
saying how to install it. Imported only when a notebook renders, so ``import greenml`` and
planning load nothing of it.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenml.plan.result import Plan

#: How many of a plan's options a notebook shows (the text table shows as many).
TOP = 10
CHOSEN = "(chosen)"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> str:
    """An HTML table of text cells, each escaped; ``caption`` (text) above it."""
    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(f"<{tag}>{html.escape('' if v is None else str(v))}</{tag}>"
                       for v in values)

    head = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return (f"<table>{head}<thead><tr>{cells('th', headers)}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def chart_or_hint(draw: Callable[[], Any]) -> str:
    """The figure ``draw`` returns as inline SVG; without matplotlib, one line saying how to
    install it; a chart that cannot be drawn says why, and the table above still shows."""
    import io

    from greenml.errors import ExtraMissing, install

    try:
        figure = draw()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    except ExtraMissing:
        return f"<p>{html.escape('For the chart: ' + install('charts'))}</p>"
    except Exception as exc:  # a notebook shows the table whatever the chart does
        return f"<p>{html.escape(f'The chart could not be drawn: {exc}')}</p>"
    svg = buffer.getvalue()
    return svg[svg.find("<svg"):]  # inline: no XML prolog or doctype


def plan_rows(plan: Plan, top: int = TOP) -> tuple[list[str], list[list[str]]]:
    """The text table's columns and rows (``greenml.render.plan_rows``) for the first
    ``top`` options, the chosen one (the best, first) marked."""
    from greenml.render import plan_rows as text_rows

    headers, rows = text_rows(plan, top)
    if rows:
        rows[0][0] += f" {CHOSEN}"
    return headers, rows


def plan_html(plan: Plan, top: int = TOP) -> str:
    """The plan's first ``top`` options as a table, then its chart (or how to install it)."""
    headers, rows = plan_rows(plan, top)
    shown = f"the first {len(rows)} of {len(plan)}" if len(plan) > len(rows) else \
        f"all {len(plan)}"
    caption = (f"greenml plan: {shown} options, ranked by kg CO2e ({plan.signal} grid "
               f"intensity); * on the Pareto front (kg CO2e, USD, hours); {CHOSEN}: the "
               "option greenml launches")
    return table(headers, rows, caption) + chart_or_hint(plan.chart)
