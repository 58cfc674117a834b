"""A report's facts as text, Markdown, LaTeX, JSON or HTML (Jupyter): one row per figure
(planned, measured, source) and the lines that explain the difference. The number style, the
LaTeX escaping and the citation of sources are the plan statement's
(``greenml.plan.statement``), so a paper that quotes both reads alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenml.plan.statement import latex_escape, number

_GROSS = "gross: no offsets or renewable-energy certificates subtracted"
_CLASSES = (("gpu", "GPU"), ("cpu", "CPU"), ("dram", "DRAM"))


def render(facts: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        from greenml.render import json_text

        return json_text(facts)
    rows = table_rows(facts)
    lead = _lead(facts)
    because = facts["explanation"]
    if fmt == "markdown":
        return _markdown(facts, lead, rows, because)
    if fmt == "latex":
        return _latex(facts, lead, rows, because)
    return _text(facts, lead, rows, because)


def _title(f: dict[str, Any]) -> str:
    return (f"Emissions report for {f['name']} "
            f"({'measured' if f['measured'] else 'estimate'})")


def _lead(f: dict[str, Any]) -> str:
    hw = f["hardware"]
    where = f"{hw['accelerators']} x {hw['accelerator']} in {f['provider']} {f['region']}"
    if not f["measured"]:
        return (f"Estimated with {f['tool']} before the run; nothing was measured "
                f"({f['why_not_measured']}). The run on {where} was planned to use "
                f"{number(f['planned']['energy_kwh'])} kWh and emit "
                f"{number(f['planned']['co2e_kg'])} kg CO2e (gross).")
    a = f["actual"]
    used = f.get("intensity_used") or {}
    grid = (f"PUE and the grid intensity {used['source']} gives for the hours the run ran"
            if used.get("basis") == "live" else "PUE and grid intensity")
    return (f"Measured by {f['measurement']['source']}; priced by {f['tool']} with the plan's "
            f"{grid}. The run on {where} took {number(a['hours'])} h, used "
            f"{number(a['energy_kwh'])} kWh including PUE and emitted {number(a['co2e_kg'])} "
            f"kg CO2e (gross); the plan said {number(f['planned']['co2e_kg'])} kg.")


def table_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(item, planned, measured, source) in the order a reader checks them."""
    p, s, hw = f["planned"], f["sources"], f["hardware"]
    a: dict[str, Any] = f.get("actual") or {}
    m = f["measurement"]
    none = "not measured"

    def measured(key: str, unit: str) -> str:
        value = a.get(key)
        return none if value is None else f"{number(value)} {unit}"

    by_class = ", ".join(f"{label} {number(a['kwh_by_class'][k])}" for k, label in _CLASSES
                         if k in a.get("kwh_by_class", {}))
    gpu = a.get("gpu_average_w")
    rows = [
        ("hardware", f"{hw['accelerators']} x {hw['accelerator']} ({hw['instances']} x "
                     f"{hw['instance_type']})",
         "not reported" if a.get("gpus") is None else f"{a['gpus']} GPU(s) read",
         "greenml catalog; " + (m.get("source") or "no measurement")),
        ("runtime", f"{number(p['hours'])} h", measured("hours", "h"),
         f"plan: {s['hours']}; measured: wall time"),
        ("power per accelerator",
         "" if p["power_w"] is None else f"{p['power_w']:g} W",
         none if not a else f"{a['power_per_accelerator_w']:.0f} W"
         + ("" if gpu is None else f" (GPU {gpu:.0f} W)"),
         f"plan: {s['power_w']}; measured: IT energy / (hours x accelerators)"),
        ("IT energy", f"{number(p['it_kwh'])} kWh",
         measured("it_kwh", "kWh") + (f" ({by_class})" if by_class else ""),
         "plan: hours x accelerators x power; measured: " + (", ".join(m.get("methods") or ())
                                                            or "none")),
        ("PUE", f"{f['pue']:g}", f"{f['pue']:g}" if a else none, s["pue"]),
        ("energy incl. PUE", f"{number(p['energy_kwh'])} kWh", measured("energy_kwh", "kWh"),
         "IT energy x PUE"),
        ("grid intensity", f"{f['intensity_g_per_kwh']:g} g CO2e/kWh ({f['intensity_signal']} "
                           "signal)", *_intensity_cells(f, s["intensity"])),
        ("emissions", f"{number(p['co2e_kg'])} kg CO2e", measured("co2e_kg", "kg CO2e"),
         f"energy incl. PUE x grid intensity; {_GROSS}"),
    ]
    if p.get("cost_usd") is not None:
        rows.append(("cost", f"{number(p['cost_usd'])} USD", measured("cost_usd", "USD"),
                     f"hours x instances x price: {s['price'] or 'plan'}"))
    if a.get("codecarbon_co2e_kg") is not None:
        rows.append(("CodeCarbon's own figure", "", f"{number(a['codecarbon_co2e_kg'])} kg "
                     "CO2e", "CodeCarbon (its own PUE and intensity)"))
    return rows


def _intensity_cells(f: dict[str, Any], planned_source: str) -> tuple[str, str]:
    """The measured column's grid intensity and the sources of both: the plan's figure, or
    a live source's over the measured hours (what it covered), or the plan's and why."""
    used = f.get("intensity_used")
    if not f["measured"] or not used:
        return "not measured", planned_source
    if used["basis"] != "live":
        if not used.get("why"):
            return f"{f['intensity_g_per_kwh']:g} g CO2e/kWh (the same)", planned_source
        return (f"{f['intensity_g_per_kwh']:g} g CO2e/kWh (the same)",
                f"plan: {planned_source}; measured: the plan's figure, since {used['why']}")
    kinds = " and ".join(used["kinds"])
    return (f"{number(used['g_per_kwh'])} g CO2e/kWh ({used['source']}, "
            f"{number(used['covered_hours'])} of {number(used['measured_hours'])} measured "
            f"hours, {used['signal']} signal)",
            f"plan: {planned_source}; measured: {used['source']} ({used['zone']}), "
            f"{used['signal']} readings ({kinds}) from {used['start']} to {used['end']}, "
            f"time-weighted over the measured hours ({used['coverage']:.0%} covered)")


def html_page(f: dict[str, Any], draw: Callable[[], Any]) -> str:
    """The report as HTML for a notebook: its table with sources, what explains the
    difference, then the chart drawn by ``draw`` (or how to install it)."""
    import html

    from greenml.plan.html import chart_or_hint, table

    page = table(("item", "planned", "measured", "source"), table_rows(f), _title(f))
    page += f"<p>{html.escape(_lead(f))}</p>"
    if f["explanation"]:
        page += "<ul>" + "".join(f"<li>{html.escape(b)}</li>" for b in f["explanation"]) + "</ul>"
    return page + chart_or_hint(draw)


def _text(f: dict[str, Any], lead: str, rows: list[tuple[str, str, str, str]],
          because: list[str]) -> str:
    head = ("item", "planned", "measured")
    width = [max(len(r[i]) for r in [head, *[r[:3] for r in rows]]) for i in range(3)]
    lines = [_title(f), "", lead, ""]
    lines += ["  ".join(x.ljust(w) for x, w in zip(head, width, strict=True)).rstrip()]
    lines += ["  ".join(x.ljust(w) for x, w in zip(r[:3], width, strict=True)).rstrip()
              for r in rows]
    lines += ["", "sources:"] + [f"  {r[0]}: {r[3]}" for r in rows]
    if because:
        lines += ["", "what explains the difference:"] + [f"  - {b}" for b in because]
    return "\n".join(lines)


def _markdown(f: dict[str, Any], lead: str, rows: list[tuple[str, str, str, str]],
              because: list[str]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"**{_title(f)}**", "", lead, "", "| item | planned | measured | source |",
             "|---|---|---|---|"]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    if because:
        lines += ["", "What explains the difference:", ""] + [f"- {b}" for b in because]
    return "\n".join(lines)


def _latex(f: dict[str, Any], lead: str, rows: list[tuple[str, str, str, str]],
           because: list[str]) -> str:
    lines = [f"% {latex_escape(_title(f))}, written by {latex_escape(f['tool'])}",
             r"\noindent\textbf{" + latex_escape(_title(f)) + r".} " + latex_escape(lead), "",
             r"\begin{tabular}{p{0.16\linewidth}p{0.2\linewidth}p{0.2\linewidth}"
             r"p{0.32\linewidth}}",
             r"\hline", r"item & planned & measured & source \\", r"\hline"]
    lines += [" & ".join(latex_escape(x) for x in r) + r" \\" for r in rows]
    lines += [r"\hline", r"\end{tabular}"]
    if because:
        lines += ["", r"\begin{itemize}"] + [r"\item " + latex_escape(b) for b in because]
        lines.append(r"\end{itemize}")
    return "\n".join(lines)
