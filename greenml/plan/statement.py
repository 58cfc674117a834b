"""The emissions statement a paper's appendix needs, from a plan, before anything runs.

Patterson et al. ask papers to report hardware, hours, energy, PUE, grid intensity with its
source and the CO2e; a reviewer reads every line as a claim. So the statement is assembled
only from figures the plan already carries (never recomputed or rounded before it is
written down), names each figure's source and year, and says it is an estimate: nothing was
measured. The comparison is the plan's baseline (the same job in the paper's reference US
datacenter); it says "the same accelerator" only when the baseline's power and hours are the
chosen option's, and gives both accelerator counts when they differ.

Three formats: Markdown (a table and a sentence), LaTeX (a ``tabular`` that needs only
standard LaTeX) and JSON (the same facts as data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from greenml.errors import InputError

if TYPE_CHECKING:
    from greenml.figure import Figure
    from greenml.model import Option
    from greenml.plan.result import Plan

FORMATS = ("markdown", "latex", "json")

_KINDS = {"annual": "annual average", "measured": "live reading",
          "forecast": "forecast mean over the run", "assumed": "assumed"}
_METHOD = ("energy = hours x accelerators x average system power x PUE; "
           "CO2e = energy x grid intensity (Patterson et al. 2021)")
_GROSS = "gross: no offsets or renewable-energy certificates subtracted"


def statement(plan: Plan, fmt: str = "markdown") -> str:
    """The plan's best option as an emissions statement in ``fmt`` (markdown, latex, json)."""
    if fmt not in FORMATS:
        raise InputError("statement", f"unknown format {fmt!r}: accepted are "
                         f"{', '.join(FORMATS)}")
    facts = statement_facts(plan)
    if fmt == "json":
        from greenml.render import json_text

        return json_text(facts)
    rows = _rows(facts)
    return _markdown(facts, rows) if fmt == "markdown" else _latex(facts, rows)


def statement_facts(plan: Plan) -> dict[str, Any]:
    """Every fact the statement states, with its source: the JSON format, and what the
    Markdown and LaTeX formats are written from."""
    from greenml import __version__
    from greenml.plan.savings import BASELINE_PLACE

    best = plan.best
    e, base, saving = best.estimate, plan.baseline, plan.savings
    power, pue = _input(best, "power_w"), _input(best, "pue")
    price = _input(best, "price_usd_per_hour")
    same = base.power_w == e.power_w and base.hours == e.hours
    intensity = best.intensity
    facts: dict[str, Any] = {
        "kind": "estimate",
        "measured": False,
        "tool": f"greenml {__version__}",
        "provider": best.provider,
        "region": best.region.name,
        "location": best.region.location,
        "hardware": {
            "accelerator": best.accelerator.name, "accelerators": e.accelerators,
            "requested": plan.job.count, "instance_type": best.offer.instance_type,
            "instances": best.instances,
            "accelerators_per_instance": best.offer.accelerators_per_instance,
            "power_w": e.power_w, **_sourced(power)},
        "hours": e.hours,
        "hours_source": _sourced(_input(best, "hours")),
        "energy_kwh": e.energy_kwh,
        "pue": {"value": e.pue, **_sourced(pue)},
        "intensity": {
            "g_per_kwh": e.intensity_g_per_kwh, "signal": e.signal,
            **({} if intensity is None else {
                "kind": intensity.kind, "dataset": intensity.dataset,
                "scope": intensity.scope, "zone": intensity.zone,
                "source": intensity.source, "year": intensity.year})},
        "co2e_kg": e.co2e_kg,
        "gross": True,
        "cost_usd": e.cost_usd,
        **({} if price is None else {"price": _sourced(price)}),
        "method": _METHOD,
        "baseline": {
            "description": f"the same job {BASELINE_PLACE}",
            "same_accelerator": same,
            "accelerator": best.accelerator.name if same else "",
            "accelerators": base.accelerators, "hours": base.hours, "power_w": base.power_w,
            "energy_kwh": base.energy_kwh, "co2e_kg": base.co2e_kg,
            "pue": {"value": base.pue, **_sourced(_figure(base.inputs, "pue"))},
            "intensity": {"g_per_kwh": base.intensity_g_per_kwh,
                          **_sourced(_figure(base.inputs, "intensity"))}},
        "saving": {"co2e_kg": saving.saved_co2e_kg, "percent": saving.percent,
                   "factor": saving.factor, "breakdown": saving.describe()},
    }
    if best.schedule is not None:
        s = best.schedule
        facts["schedule"] = {"start": s.to_dict()["start"], "end": s.to_dict()["end"],
                             "forecast_source": s.forecast_source,
                             "saving_vs_now_co2e_kg": s.saving_co2e_kg}
    return facts


def _input(option: Option, name: str) -> Figure | None:
    return _figure(option.estimate.inputs, name)


def _figure(inputs: tuple[Figure, ...], name: str) -> Figure | None:
    return next((f for f in inputs if f.name == name), None)


def _sourced(figure: Figure | None) -> dict[str, str]:
    if figure is None:
        return {"source": "", "year": ""}
    return {"source": figure.source, "year": figure.year,
            **({"note": figure.note} if figure.note else {})}


def number(value: float) -> str:
    """At least three significant figures, never in exponent form: ``3.49``, ``99.7``,
    ``1,234.5``; the statement's computed figures (kWh, kg), never its inputs (as given)."""
    size = abs(value)
    if size >= 10 or value == 0:
        return f"{value:,.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def cite(fact: Mapping[str, Any]) -> str:
    """A figure's source, with its year where it has one: how the statement and the report
    name where a figure came from."""
    source, year = fact.get("source", ""), fact.get("year", "")
    return f"{source} ({year})" if source and year else str(source)


def _rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, figure, source) rows, in the order a reader checks them."""
    hw, pue, grid, base = f["hardware"], f["pue"], f["intensity"], f["baseline"]
    hardware = f"{hw['accelerators']} x {hw['accelerator']}"
    shape = (f"{hw['instances']} x {hw['instance_type']}, {hw['accelerators_per_instance']} "
             f"accelerator(s) each")
    if hw["accelerators"] != hw["requested"]:
        shape += f"; {hw['requested']} requested"
    what = ", ".join(x for x in (_KINDS.get(grid.get("kind", ""), ""),
                                 f"{grid['signal']} signal",
                                 f"{grid['scope']} scope" if grid.get("scope") else "",
                                 f"zone {grid['zone']}" if grid.get("zone") else "") if x)
    grid_source = cite(grid)
    if grid.get("dataset"):
        grid_source = f"{grid['dataset']}: {grid_source}"
    rows = [
        ("hardware", f"{hardware} ({shape})", "greenml catalog"),
        ("power per accelerator", f"{hw['power_w']:g} W", cite(hw)),
        ("provider and region", f"{f['provider']} {f['region']} ({f['location']})",
         "greenml catalog"),
        ("runtime", f"{number(f['hours'])} h", cite(f["hours_source"])
         + (f"; {f['hours_source']['note']}" if f["hours_source"].get("note") else "")),
        ("energy", f"{number(f['energy_kwh'])} kWh", f"estimated: {f['method'].split(';')[0]}"),
        ("PUE", f"{pue['value']:g}", cite(pue)),
        ("grid intensity", f"{grid['g_per_kwh']:g} g CO2e/kWh ({what})", grid_source),
        ("emissions", f"{number(f['co2e_kg'])} kg CO2e", f"estimated; {_GROSS}"),
    ]
    if "schedule" in f:
        s = f["schedule"]
        rows.append(("start", f"{s['start']} to {s['end']}",
                     f"chosen on {s['forecast_source'] or 'no'} forecast; "
                     f"{number(s['saving_vs_now_co2e_kg'])} kg CO2e less than starting at once"))
    accelerators = (f"{base['accelerators']} x the same {base['accelerator']}"
                    if base["same_accelerator"]
                    else f"{base['accelerators']} accelerators at {base['power_w']:g} W")
    rows.append((
        "alternative not chosen",
        f"{number(base['co2e_kg'])} kg CO2e: {accelerators} for {number(base['hours'])} h in an "
        f"average US datacenter (PUE {base['pue']['value']:g}, "
        f"{base['intensity']['g_per_kwh']:g} g CO2e/kWh)",
        "; ".join(x for x in (cite(base["pue"]), cite(base["intensity"])) if x)))
    s = f["saving"]
    rows.append(("saving", f"{number(s['co2e_kg'])} kg CO2e ({s['percent']:.1f}% less, "
                           f"{s['factor']:.1f}x)", s["breakdown"]))
    return rows


def _lead(f: dict[str, Any]) -> str:
    hw = f["hardware"]
    return (f"Estimated with {f['tool']} before the run, from published figures; nothing was "
            f"measured. The run on {hw['accelerators']} x {hw['accelerator']} in "
            f"{f['provider']} {f['region']} for {number(f['hours'])} h is expected to use "
            f"{number(f['energy_kwh'])} kWh and emit {number(f['co2e_kg'])} kg CO2e (gross).")


def _markdown(f: dict[str, Any], rows: list[tuple[str, str, str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["**Emissions statement (estimate)**", "", _lead(f), "",
             "| item | figure | source |", "|---|---|---|"]
    lines += [f"| {cell(a)} | {cell(b)} | {cell(c)} |" for a, b, c in rows]
    return "\n".join(lines)


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                   "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                   "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """``text`` as LaTeX that prints it literally (sources carry ``_``, ``~`` and ``@``)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _latex(f: dict[str, Any], rows: list[tuple[str, str, str]]) -> str:
    lines = [r"% Emissions statement (estimate), written by " + latex_escape(f["tool"]),
             r"\noindent\textbf{Emissions statement (estimate).} " + latex_escape(_lead(f)),
             "", r"\begin{tabular}{p{0.2\linewidth}p{0.35\linewidth}p{0.37\linewidth}}",
             r"\hline", r"item & figure & source \\", r"\hline"]
    lines += [" & ".join(latex_escape(x) for x in row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)
