"""The grid intensity that prices a report's measured column: a live source's figures for the
hours the run actually ran, where one is configured for the launch's region, else the plan's.

A plan prices a run it has not started with a dataset figure (an annual average, or the
latest reading when it was made); once the run has happened, its hours are known, and a
configured live source (Electricity Maps, WattTime, the UK API, a plugin's) can say what the
grid emitted in those very hours. Their time-weighted mean prices the measured energy.

The same rules as planning: average and marginal figures are never mixed (a source whose
signal is not the plan's is not asked), a source that fails hands over to the next, and each
source has the planning deadline (``GREENML_CARBON_DEADLINE_S``). Readings that cover less
than ``MIN_COVERAGE`` of the run, a failing source, or a measurement with no placeable start
keep the plan's figure, with the reason in one line: the report itself never fails here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenml.carbon import CarbonSource, Reading
    from greenml.model import Region
    from greenml.registry import Registry

#: Readings must cover at least this share of the run's hours to price it; below it the mean
#: would be of the hours the source happened to have, not of the run.
MIN_COVERAGE = 0.8


def planned(option: Mapping[str, Any]) -> dict[str, Any]:
    """The plan's grid figure, with where it came from (the dataset or source, its year,
    signal and kind)."""
    grid: Mapping[str, Any] = option.get("intensity") or {}
    given: Mapping[str, Any] = next(
        (f for f in option.get("inputs") or () if f.get("name") == "intensity"), {})
    value = grid.get("g_per_kwh", given.get("value"))
    return {"g_per_kwh": None if value is None else float(value),
            "signal": grid.get("signal") or option.get("signal", ""),
            "kind": grid.get("kind", ""), "dataset": grid.get("dataset", ""),
            "source": grid.get("source") or given.get("source", ""),
            "year": grid.get("year") or given.get("year", "")}


def kept(option: Mapping[str, Any], why: str = "", asked: Sequence[str] = (),
         **found: Any) -> dict[str, Any]:
    """The plan's figure as the one that prices the measured column, and ``why`` ("" when no
    live source is configured for the region: nothing to explain)."""
    plan = planned(option)
    return {"basis": "plan", "g_per_kwh": plan["g_per_kwh"], "signal": plan["signal"],
            "source": plan["dataset"] or plan["source"], "why": why, "asked": list(asked),
            **found}


def used(option: Mapping[str, Any], measurement: Mapping[str, Any],
         registry: Registry | None = None, deadline_s: float | None = None) -> dict[str, Any]:
    """The intensity for the measured column (``basis`` "live" or "plan"), with its source,
    the span it covers and, for the plan's figure, why no live one (never raises)."""
    from greenml.registry import default

    registry = registry if registry is not None else default()
    try:
        ready = configured(registry.catalog.carbon_sources)
    except Exception as exc:  # a broken plugin or catalog must not cost the report
        return kept(option, f"the live carbon sources could not be listed ({exc})")
    if not ready:
        return kept(option)
    try:
        region = registry.catalog.region(option["provider"], option["region"])
    except Exception:
        return kept(option, f"{option['provider']} {option['region']} is not in the installed "
                            "catalog, so no live source can be asked for it")
    sources = [s for s in ready if _knows(s, region)]
    if not sources:
        return kept(option)
    plan = planned(option)
    signal = plan["signal"]
    wanted = [s for s in sources if s.signal == signal]
    first = plan["dataset"]  # the source the plan itself ranked on, asked first
    wanted.sort(key=lambda s: s.name != first)
    names = [s.name for s in sources]
    if not wanted:
        other = sorted({s.signal for s in sources})
        return kept(option, f"{', '.join(names)} give{'s' if len(names) == 1 else ''} "
                            f"{' and '.join(other)} figures and the plan ranked on {signal} "
                            "ones; the two are never mixed", names)
    span = run_span(measurement)
    if isinstance(span, str):
        return kept(option, span, names)
    return from_history(option, region, wanted, span, names, deadline_s)


def configured(sources: Sequence[CarbonSource]) -> list[CarbonSource]:
    """The live sources that are set up (their credentials, where they need any)."""
    from greenml.carbon.embedded import EmbeddedAnnual

    return [s for s in sources if not isinstance(s, EmbeddedAnnual) and _ready(s)]


def _ready(source: CarbonSource) -> bool:
    try:
        return bool(source.check_credentials()[0])
    except Exception:  # a plugin source that cannot say is not configured
        return False


def _knows(source: CarbonSource, region: Region) -> bool:
    """Whether ``source`` covers ``region`` (has a grid zone for it)."""
    try:
        return bool(source.zone(region))
    except Exception:
        return False


def run_span(measurement: Mapping[str, Any]) -> tuple[datetime, datetime] | str:
    """When the run ran (UTC), from its start (or end) time and its measured hours; or why
    it cannot be placed in time."""
    hours = float(measurement.get("hours") or 0.0)
    text, is_start = measurement.get("started_at") or "", True
    if not text:
        text, is_start = measurement.get("ended_at") or "", False
    if not text:
        return "the measurement has no start time, so its hours cannot be placed"
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return f"the measurement's time {text!r} is not a date and time"
    if at.utcoffset() is None:
        return (f"the measurement's time {text} has no time zone (CodeCarbon writes the "
                "machine's local time), so its hours cannot be placed")
    at = at.astimezone(timezone.utc)
    length = timedelta(hours=hours)
    return (at, at + length) if is_start else (at - length, at)


def from_history(option: Mapping[str, Any], region: Region, sources: Sequence[CarbonSource],
                 span: tuple[datetime, datetime], names: Sequence[str],
                 deadline_s: float | None) -> dict[str, Any]:
    """The first source's history over ``span``, time-weighted, if it covers enough."""
    from greenml.carbon.deadline import Budgets
    from greenml.carbon.resolve import ask

    start, end = span

    def history(source: CarbonSource) -> Sequence[Reading] | None:
        return source.history(region, start, end)

    readings, source, misses = ask(region, sources, history, {}, Budgets(deadline_s))
    if source is None or not readings:
        return kept(option, "no live figures for the run's hours: " + "; ".join(misses), names)
    signal = planned(option)["signal"]
    mixed = sorted({r.signal for r in readings} - {signal})
    if mixed:
        return kept(option, f"{source.name} returned {', '.join(mixed)} readings and the plan "
                            f"ranked on {signal} ones; the two are never mixed", names)
    mean, covered_s, count, kinds = time_weighted(readings, start, end)
    run_s = (end - start).total_seconds()
    coverage = covered_s / run_s if run_s > 0 else 0.0
    found = {"live_source": source.name, "zone": source.zone(region),
             "start": _utc(start), "end": _utc(end), "measured_hours": run_s / 3600,
             "covered_hours": covered_s / 3600, "coverage": coverage, "readings": count,
             "kinds": kinds}
    if mean is None or coverage < MIN_COVERAGE:
        return kept(option, f"the readings of {source.name} cover {coverage:.0%} of the "
                            f"run's hours, {covered_s / 3600:.2f} of {run_s / 3600:.2f} h, "
                            f"and at least {MIN_COVERAGE:.0%} is needed", names, **found)
    return {"basis": "live", "g_per_kwh": mean, "signal": signal, "source": source.name,
            "why": "", "asked": list(names), **found,
            "note": "; ".join(misses)}  # sources that handed over before this one, and why


def time_weighted(readings: Sequence[Reading], start: datetime, end: datetime
                  ) -> tuple[float | None, float, int, list[str]]:
    """The mean g/kWh over the seconds of ``start`` to ``end`` the readings cover (each second
    counted once, by the earliest reading holding it), those seconds, how many readings
    counted and their kinds (measured, forecast)."""
    t0, t1 = start.timestamp(), end.timestamp()
    cursor, covered_s, weighted, count, kinds = t0, 0.0, 0.0, 0, set()
    for r in sorted(readings, key=lambda r: r.at_s):
        a, b = max(r.at_s, cursor), min(r.at_s + r.period_s, t1)
        if b <= a:
            continue
        covered_s += b - a
        weighted += r.g_per_kwh * (b - a)
        cursor, count = b, count + 1
        kinds.add(r.kind)
    return (weighted / covered_s if covered_s > 0 else None), covered_s, count, sorted(kinds)


def _utc(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
