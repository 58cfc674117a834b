"""``greenml report NAME``: a launch's plan beside what its run measured, and why they differ.

The plan is the option the ledger stored when the launch began (its figures and their
sources); the measurement comes from the run's consoles (the sampler's ``greenml-measure=``
lines, read through ``greenml.logs``), or from a file the user names: a sampler record or
CodeCarbon's ``emissions.csv``. Measured kg CO2e is the measured kWh x the plan's PUE x a grid
intensity: a configured live source's figures for the hours the run ran, where there is one
of the plan's signal (``greenml.measure.live_intensity``), else the plan's own figure. The
difference in energy is split exactly into runtime (hours longer or shorter than planned, at
the power assumed) and power (the measured average per accelerator against the power
assumed, over the measured hours). With no measurement the report is the plan, labelled as
an estimate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import GreenmlError, InputError
from greenml.measure import REPORT_FORMATS, records
from greenml.plan.statement import cite

if TYPE_CHECKING:
    from greenml.launch.ledger import LaunchRecord, Ledger
    from greenml.provider.contract import LaunchingProvider as Provider

FORMATS = REPORT_FORMATS
#: A ratio of measured to planned within this of 1 is "as planned".
AS_PLANNED = 0.05


@attrs.frozen
class Report:
    """A launch's plan and its measurement side by side (``facts``, the JSON format), and
    their rendering: ``format("text" | "markdown" | "latex" | "json")``."""

    facts: dict[str, Any]

    @property
    def measured(self) -> bool:
        return bool(self.facts["measured"])

    def format(self, fmt: str = "text") -> str:  # noqa: A003 - the word users know
        from greenml.measure.report_text import render

        if fmt not in FORMATS:
            raise InputError("format", f"unknown format {fmt!r}: accepted are "
                                       f"{', '.join(FORMATS)}")
        return render(self.facts, fmt)

    def to_dict(self) -> dict[str, Any]:
        return self.facts

    def chart(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Planned against measured (hours, kWh, kg CO2e) and the power trace over time, as a
        ``matplotlib.figure.Figure`` (needs ``greenml[charts]``); also written to ``path``
        (.svg, .png or .pdf) when given."""
        from greenml.measure.report_chart import chart

        return chart(self.facts, None if path is None else os.fspath(path))

    def _repr_html_(self) -> str:
        """Jupyter: planned against measured with sources as a table, and the chart (or how
        to install it)."""
        from greenml.measure.report_text import html_page

        return html_page(self.facts, self.chart)

    def __str__(self) -> str:
        return self.format("text")

    def __repr__(self) -> str:
        kind = "measured" if self.measured else "estimate"
        return f"<Report {self.facts['name']!r} ({kind})>"


def report(name: str, *, measured: str | os.PathLike[str] | None = None,
           codecarbon: str | os.PathLike[str] | None = None,
           ledger: Ledger | str | os.PathLike[str] | None = None,
           providers: Mapping[str, Provider] | None = None, live: bool = True) -> Report:
    """The launch called ``name`` (its newest) planned against measured: from ``measured`` (a
    sampler record), ``codecarbon`` (CodeCarbon's emissions.csv), or else its consoles.

    With ``live`` (the default), a live carbon source configured for the launch's region, of
    the plan's signal, prices the measured energy with its figures for the hours the run ran;
    ``live=False`` keeps the plan's grid intensity. Raises InputError for an unknown name, a
    bad file or both files at once; a console that cannot be read, or a live source that
    fails, gives a report that says why, never an error.
    """
    from greenml.launch.ledger import Ledger

    if not (isinstance(name, str) and name.strip()):
        raise InputError("name", f"must be a launch name, got {name!r}")
    if measured is not None and codecarbon is not None:
        raise InputError("codecarbon", "give --measured or --codecarbon, not both")
    if ledger is not None and not isinstance(ledger, (Ledger, str, os.PathLike)):
        raise InputError("ledger", f"must be a Ledger or a path, got {ledger!r}")
    if not isinstance(live, bool):
        raise InputError("live", f"must be True or False, got {live!r}")
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    found = book.launches(name=name)
    if not found:
        from greenml.errors import closest

        raise InputError("name", f"no launch named {name!r}", closest(name, book.names()))
    launch = found[0]
    if measured is not None:
        measurement = records.read_measured(measured)
    elif codecarbon is not None:
        measurement = records.read_codecarbon(codecarbon)
    else:
        measurement = _from_consoles(launch, book, providers)
    option = option_json(book, launch)
    grid = None
    if is_measured(measurement):  # an estimate asks no source
        from greenml.measure import live_intensity

        grid = (live_intensity.used(option, measurement) if live else
                live_intensity.kept(option, "live figures were not asked for (live=False, "
                                            "--no-live)"))
    return Report(reconcile(name, option, measurement, grid))


def option_json(book: Ledger, launch: LaunchRecord) -> dict[str, Any]:
    """The option the ledger stored for ``launch`` (the plan's figures and sources)."""
    option = book.planned_option(launch.launch_id)
    if option is None or "hours" not in option:
        raise GreenmlError(f"{launch.name!r}: the ledger holds no plan for this launch")
    return option


def _from_consoles(launch: LaunchRecord, book: Ledger,
                   providers: Mapping[str, Provider] | None) -> dict[str, Any]:
    from greenml.launch.logs import logs

    try:
        found = logs(launch.name, ledger=book, providers=providers)
    except GreenmlError as exc:
        return records.nothing(f"the consoles could not be read: {exc}")
    per_node = records.last_per_node(log.text for log in found)
    if not per_node:
        why = ("no greenml-measure line on the console" +
               ("s" if len(found) > 1 else "") + " (still running, or launched before greenml "
               "measured runs)")
        return records.nothing(why, "console")
    if len(per_node) < len(found):
        per_node[0] = dict(per_node[0], unmeasured=[
            *per_node[0].get("unmeasured", ()),
            {"kind": "node", "why": f"{len(found) - len(per_node)} of {len(found)} nodes wrote "
                                    "no record"}])
    where = f"greenml sampler, from the console{'s' if len(found) > 1 else ''} of {launch.name}"
    return records.from_records(per_node, where)


def _input(option: Mapping[str, Any], name: str) -> dict[str, Any]:
    return next((f for f in option.get("inputs") or () if f.get("name") == name), {})


def is_measured(measurement: Mapping[str, Any]) -> bool:
    """Whether ``measurement`` holds a figure to report (hours and a total kWh)."""
    return bool(not measurement.get("nothing_measured") and measurement.get("hours")
                and "total" in (measurement.get("kwh") or {}))


def reconcile(name: str, option: Mapping[str, Any], measurement: Mapping[str, Any],
              grid: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report's facts: the plan's figures, the measured ones priced with the plan's PUE
    and ``grid`` (``live_intensity.used``; default the plan's figure), each with its
    source, and the lines that explain the difference."""
    from greenml import __version__
    from greenml.measure import live_intensity

    pue, intensity = _input(option, "pue"), _input(option, "intensity")
    power, price = _input(option, "power_w"), _input(option, "price_usd_per_hour")
    grid_planned = live_intensity.planned(option)
    g_per_kwh = grid_planned["g_per_kwh"]
    if pue.get("value") is None or (g_per_kwh is None and is_measured(measurement)):
        raise GreenmlError(f"{name!r}: the ledger's plan for this launch has no "
                           f"{'PUE' if pue.get('value') is None else 'grid intensity'}, so "
                           "its figures cannot be priced (greenml never makes one up)")
    pue_value = float(pue["value"])
    accelerators = int(option["instances"]) * int(option["accelerators_per_instance"])
    planned = {
        "hours": option["hours"], "accelerators": accelerators,
        "power_w": power.get("value"), "it_kwh": option["energy_kwh"] / pue_value,
        "energy_kwh": option["energy_kwh"], "co2e_kg": option["co2e_kg"],
        "cost_usd": option.get("cost_usd")}
    facts: dict[str, Any] = {
        "name": name, "tool": f"greenml {__version__}", "measured": False,
        "kind": "estimate", "provider": option["provider"], "region": option["region"],
        "location": option.get("location", ""),
        "hardware": {"accelerator": option["accelerator"], "accelerators": accelerators,
                     "instances": option["instances"],
                     "instance_type": option["instance_type"]},
        "planned": planned,
        "sources": {"power_w": cite(power), "pue": cite(pue), "hours": cite(
                        _input(option, "hours")),
                    "intensity": _intensity_source(option, intensity),
                    "price": cite(price)},
        "pue": pue_value, "intensity_g_per_kwh": g_per_kwh,
        "intensity_signal": option.get("signal", ""),
        "intensity_planned": grid_planned,
        "measurement": dict(measurement),
        "explanation": [],
    }
    if not is_measured(measurement):
        facts["why_not_measured"] = measurement.get("nothing_measured") or "no energy figure"
        return facts
    hours, kwh = float(measurement["hours"]), measurement["kwh"]
    used = dict(grid) if grid is not None else live_intensity.kept(option)
    facts["intensity_used"] = used
    it_kwh = float(kwh["total"])
    measured_power = it_kwh * 1000 / (hours * accelerators)
    facts.update(measured=True, kind="measured")
    facts["actual"] = {
        "hours": hours, "it_kwh": it_kwh, "kwh_by_class": {k: v for k, v in kwh.items()
                                                           if k != "total"},
        "energy_kwh": it_kwh * pue_value,
        "co2e_kg": it_kwh * pue_value * float(used["g_per_kwh"]) / 1000,
        "intensity_g_per_kwh": float(used["g_per_kwh"]),
        "cost_usd": (hours * float(price["value"]) * int(option["instances"])
                     if price.get("value") is not None else None),
        "power_per_accelerator_w": measured_power,
        "gpu_average_w": measurement.get("gpu_average_w"), "gpus": measurement.get("gpus"),
        "codecarbon_co2e_kg": measurement.get("codecarbon_co2e_kg")}
    facts["explanation"] = explain(planned, facts["actual"], measurement, accelerators,
                                   g_per_kwh, used)
    return facts


def explain(planned: Mapping[str, Any], actual: Mapping[str, Any],
            measurement: Mapping[str, Any], accelerators: int,
            planned_g_per_kwh: float | None = None,
            used: Mapping[str, Any] | None = None) -> list[str]:
    """Why measured and planned differ, largest cause first where both are figures; then the
    grid intensity that priced the measured energy, where it is not the plan's."""
    lines: list[tuple[float, str]] = []
    ph, mh = float(planned["hours"]), float(actual["hours"])
    assumed = planned.get("power_w")
    if assumed is not None:
        by_runtime = (mh - ph) * accelerators * float(assumed) / 1000
        by_power = mh * accelerators * (actual["power_per_accelerator_w"] - float(assumed)) / 1000
        ratio = mh / ph
        if abs(ratio - 1) <= AS_PLANNED:
            lines.append((abs(by_runtime), f"runtime as planned ({_n(mh)} h against {_n(ph)} h)"))
        else:
            word = "longer" if ratio > 1 else "shorter"
            lines.append((abs(by_runtime), f"runtime {word} than planned: {_n(mh)} h against "
                          f"{_n(ph)} h ({ratio:.2f}x), {_signed(by_runtime)} kWh at the power "
                          "assumed"))
        power_ratio = actual["power_per_accelerator_w"] / float(assumed)
        gpu = actual.get("gpu_average_w")
        gpu_part = f" (the GPU by itself {gpu:.0f} W)" if gpu is not None else ""
        if abs(power_ratio - 1) <= AS_PLANNED:
            what = "as assumed"
        elif power_ratio < 1:
            what = "lower than assumed: the accelerators were used less than the plan assumes"
        else:
            what = "higher than assumed: the accelerators ran harder than the plan assumes"
        lines.append((abs(by_power), f"average power per accelerator "
                      f"{actual['power_per_accelerator_w']:.0f} W measured{gpu_part} against "
                      f"{float(assumed):g} W assumed, {what}; {_signed(by_power)} kWh over the "
                      "measured hours"))
    gpus = actual.get("gpus")
    if gpus is not None and gpus != accelerators:
        lines.append((0.0, f"the sampler read {gpus} GPU(s); the plan has {accelerators} "
                           "accelerator(s)"))
    out = [text for _, text in sorted(lines, key=lambda x: -x[0])]
    if measurement.get("gap_s"):
        out.append(f"readings paused for {measurement['gap_s']:.0f} s in all (integrated "
                   "across)")
    out += [f"not measured: {why}" for why in measurement.get("unmeasured") or ()]
    live = used is not None and used.get("basis") == "live"
    if live and used is not None and planned_g_per_kwh is not None:
        g = float(used["g_per_kwh"])
        by_grid = float(actual["energy_kwh"]) * (g - planned_g_per_kwh) / 1000
        out.append(f"grid intensity over the run's hours {_n(g)} g CO2e/kWh ({used['source']},"
                   f" {used['coverage']:.0%} of the hours covered) against "
                   f"{planned_g_per_kwh:g} g planned: {_signed(by_grid)} kg CO2e on the "
                   "measured energy")
    elif used is not None and used.get("why"):
        out.append(f"the plan's grid intensity prices the measured energy: {used['why']}")
    out.append("the measurement covers GPU, CPU and DRAM where readable; the plan's power is "
               "the average system power per accelerator, host share included; "
               + ("the same PUE prices both columns, and the measured one the grid intensity "
                  "of the hours the run ran" if live else
                  "the same PUE and intensity price both columns"))
    return out


def _intensity_source(option: Mapping[str, Any], intensity: Mapping[str, Any]) -> str:
    grid = option.get("intensity") or {}
    cited = cite(grid) if grid else cite(intensity)
    return f"{grid['dataset']}: {cited}" if grid.get("dataset") else cited


def _n(value: float) -> str:
    from greenml.plan.statement import number

    return number(value)


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + _n(abs(value))
