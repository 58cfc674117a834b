"""plan(job): gather candidates, estimate each, drop the infeasible with a reason, rank.

The work is done on the catalog's numpy columns, once: every offer's hours, kWh, kg CO2e,
cost and intensity are computed in a handful of array passes and kept on the Plan, which
ranks only as far as it is read (``ranking``); an Option is a view of one row of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from greenml import energy
from greenml.accelerator import Accelerator
from greenml.arrays import distinct
from greenml.carbon import CarbonSource
from greenml.carbon.deadline import checked_deadline_s
from greenml.carbon.embedded import EmbeddedAnnual
from greenml.carbon.resolve import resolve
from greenml.catalog import Catalog
from greenml.errors import InputError, NoFeasibleOption
from greenml.estimator import runtime_hours
from greenml.figure import Figure
from greenml.job import Job
from greenml.model import Exclusion, Intensity
from greenml.plan.filters import (
    check_coverage,
    exclude_offers,
    exclude_regions,
    exclude_too_large,
    exclude_without_intensity,
    nothing_fits,
    region_filter,
    usd,
    wanted_accelerators,
)
from greenml.plan.ranking import HEAD_ROWS, rank
from greenml.plan.result import OfferFigures, Plan
from greenml.plan.savings import baseline_estimate
from greenml.registry import Registry
from greenml.registry import default as default_registry

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np

    from greenml.plan.timeshift import TimeShift


def compute(
    job: Job,
    *,
    catalog: Catalog | None = None,
    carbon_sources: Sequence[str | CarbonSource] | str | None = None,
    carbon_deadline_s: float | None = None,
    carbon_data: str | None = None,
    notify: bool = True,
    now: datetime | None = None,
    registry: Registry | None = None,
) -> Plan:
    """The work behind ``greenml.plan`` (which documents it): arrays once, then rank."""
    import numpy as np

    if not isinstance(job, Job):
        raise InputError("job", f"expected a greenml.Job, got {type(job).__name__}")
    _check_arguments(catalog, carbon_sources, carbon_data, notify, now)
    if registry is not None and not isinstance(registry, Registry):
        raise InputError("registry", "expected a greenml.registry.Registry, got "
                         f"{type(registry).__name__}")
    carbon_deadline_s = checked_deadline_s(carbon_deadline_s)
    registry = registry if registry is not None else default_registry()
    catalog = catalog if catalog is not None else registry.catalog
    if carbon_data is not None:
        catalog = catalog.with_dataset(carbon_data)
    cols = catalog.columns
    excluded: list[Exclusion] = list(catalog.problems)

    wanted = wanted_accelerators(job, catalog)
    region_ok, region_why = region_filter(job, catalog)
    candidate = wanted[cols.offer_accelerator]
    exclude_regions(excluded, catalog, candidate, region_ok, region_why)
    candidate &= region_ok[cols.offer_region]

    reference = catalog.reference_for(job)  # once per plan
    hours_by_acc, acc_why, runtimes = _hours_by_accelerator(job, catalog, wanted, reference)
    acc_ok = np.array([not w for w in acc_why], dtype=bool)
    exclude_offers(excluded, catalog, candidate & ~acc_ok[cols.offer_accelerator],
                   lambda r, a: acc_why[a], "accelerator")
    candidate &= acc_ok[cols.offer_accelerator]

    asked = region_ok & (np.bincount(cols.offer_region[candidate],
                                     minlength=len(catalog.regions)) > 0)
    shift: TimeShift | None = None
    readings: Sequence[Intensity | None] = ()
    on_dataset = False
    sources = pick_sources(catalog, carbon_sources, registry)
    if job.shifts_in_time:
        from greenml.plan import timeshift

        shift = timeshift.shift(job, catalog, asked, hours_by_acc, sources, now,
                                carbon_deadline_s)
        intensity_notes = [shift.note(i) for i in range(len(catalog.regions))]
        offer_intensity = shift.mean[cols.offer_region, cols.offer_accelerator]
    else:
        intensity, intensity_notes, readings = _intensities(catalog, asked, sources,
                                                            carbon_deadline_s)
        offer_intensity = intensity[cols.offer_region]
        on_dataset = not readings
        if on_dataset:
            check_coverage(catalog, candidate, offer_intensity)
    candidate = exclude_without_intensity(excluded, job, catalog, candidate, offer_intensity,
                                          intensity_notes, hours_by_acc, shift,
                                          "carbon_data" if on_dataset else "carbon_sources")
    instances = np.ceil(job.count / cols.per_instance)
    candidate = exclude_too_large(excluded, job, catalog, candidate, instances)
    provisioned = instances * cols.per_instance
    hours = hours_by_acc[cols.offer_accelerator]
    kwh = energy.energy_kwh(hours, provisioned, cols.accelerator_power_w[cols.offer_accelerator],
                            cols.region_pue[cols.offer_region])
    co2 = energy.co2e_kg(kwh, offer_intensity)
    price = cols.spot_usd if job.spot else cols.ondemand_usd
    cost = price * instances * hours

    if job.spot:
        no_spot = candidate & np.isnan(price)
        exclude_offers(excluded, catalog, no_spot, lambda r, a: "no spot price published", "spot")
        candidate &= ~no_spot
    if job.max_cost_usd is not None:
        over = candidate & ~(cost <= job.max_cost_usd)
        exclude_offers(
            excluded, catalog, over,
            lambda r, a: f"over max_cost_usd {usd(job.max_cost_usd or 0)}", "max_cost_usd",
            cost=cost)
        candidate &= ~over

    feasible = np.flatnonzero(candidate)
    if feasible.size == 0:
        raise NoFeasibleOption(nothing_fits(job, excluded), excluded)
    levels = None  # past the first rows: each runtime's place among the distinct runtimes
    if feasible.size > HEAD_ROWS:
        _, level_of_acc, _ = distinct(np.where(np.isnan(hours_by_acc), np.inf, hours_by_acc))
        levels = level_of_acc.reshape(-1)[cols.offer_accelerator]
    ranking = rank(feasible, co2, np.where(np.isnan(cost), np.inf, cost), hours, levels)
    best = int(cols.offer_accelerator[ranking.row(0)])
    checked = None
    if on_dataset and catalog.carbon_data is not None:
        from greenml import datasets
        from greenml.plan import robustness

        chosen = datasets.get(catalog.carbon_data)  # replays every row: needs the whole order
        checked = robustness.check(catalog, datasets.family(chosen), ranking.order, kwh)
    baseline_hours = runtimes[best]
    assert baseline_hours is not None, "the best option's accelerator has a runtime"
    result = Plan(
        job=job,
        catalog=catalog,
        ranking=ranking,
        figures=OfferFigures(
            hours=hours, energy_kwh=kwh, co2e_kg=co2, cost_usd=cost, instances=instances,
            intensity_g_per_kwh=offer_intensity, runtimes=tuple(runtimes),
            intensities=tuple(_used(catalog, readings))),
        intensity_notes=intensity_notes,
        excluded=tuple(excluded),
        baseline=baseline_estimate(job, catalog.accelerators[best], baseline_hours),
        readings=tuple(readings),
        timeshift=shift,
        robustness=checked,
        reference=reference,
        carbon_sources=tuple(s.name for s in sources),
        notes=tuple(plan_notes(sources, intensity_notes, asked, shift)),
    )
    if notify:
        registry.notify("greenml_plan_made", plan=result)
    return result


def plan_notes(sources: Sequence[CarbonSource], region_notes: Sequence[str],
               asked: np.ndarray, shift: TimeShift | None) -> list[str]:
    """What a plan could not do as asked, said once for the whole plan (each option's notes
    say it for that option): live carbon data that fell back, with each source's reason
    (no key, an HTTP status, a timeout), and time shifting that could save nothing because
    no forecast was had."""
    import numpy as np

    positions = np.flatnonzero(asked).tolist()
    live = [s.name for s in sources if not isinstance(s, EmbeddedAnnual)]
    notes = _fallback_notes(live, [region_notes[i] for i in positions if i < len(region_notes)])
    if shift is not None and positions:
        rows = [int(shift.row_of_region[i]) for i in positions]
        blind = sum(1 for row in rows if row < 0 or not shift.forecasts.sources[row])
        if blind:
            why = ("no live source gave a forecast for them" if live else
                   "no forecasting source was asked (the embedded figures are annual averages"
                   "; ask one with --carbon-source, e.g. electricitymaps,embedded)")
            notes.append(f"time shifting can save nothing in {blind} of {len(rows)} "
                         f"region(s): {why}; every start there is alike, so those options "
                         "start at once")
    return notes


def _fallback_notes(live: Sequence[str], region_notes: Sequence[str]) -> list[str]:
    """Read the per-region notes of ``resolve``: how many regions did not get the first
    live source's answer, and each live source's reasons, once: one note."""
    if not live:
        return []
    reasons: dict[str, dict[str, None]] = {name: {} for name in live}
    no_data = dict.fromkeys(live, 0)
    fell = 0
    for note in region_notes:
        missed = False
        for part in (note.split("; ") if note else ()):
            for name in live:
                if part.startswith(f"{name} "):
                    reasons[name].setdefault(part[len(name) + 1:])
                    missed = True
                elif part == f"no data from {name}":
                    no_data[name] += 1
                    missed = True
        fell += missed
    if not fell:
        return []
    said = []
    for name in live:
        why = list(reasons[name])
        if why:
            more = f" (and {len(why) - 1} other reason(s))" if len(why) > 1 else ""
            said.append(f"{name} {why[0]}{more}")
        if no_data[name]:
            said.append(f"{name} had no data for {no_data[name]} region(s)")
    return [f"live carbon data fell back in {fell} of {len(region_notes)} region(s) (each "
            f"option's notes say what it used): {'; '.join(said)}"]


def replan(saved: Plan, *, now: datetime | None = None) -> Plan:
    """The job of ``saved`` planned again on the installed catalog, with the dataset (where
    this greenml still has it) and the carbon sources it was planned with."""
    from greenml import datasets

    name = saved.saved.carbon_data if saved.saved is not None else saved.catalog.carbon_data
    return compute(saved.job, carbon_data=name if name in datasets.datasets() else None,
                   carbon_sources=list(saved.carbon_sources), now=now)


def _used(catalog: Catalog, readings: Sequence[Intensity | None]) -> list[Intensity | None]:
    """Per region, the intensity a plan ranks on: the live reading, else the dataset's."""
    if not readings:
        return [r.intensity for r in catalog.regions]
    return [reading or r.intensity for reading, r in zip(readings, catalog.regions, strict=True)]


def _hours_by_accelerator(
    job: Job, catalog: Catalog, wanted: np.ndarray, reference: Accelerator | None
) -> tuple[np.ndarray, list[str], list[Figure | None]]:
    """Runtime per accelerator (nan where it cannot be known), why not, and the runtime's
    Figure (its note says what it assumes), per accelerator."""
    import numpy as np

    hours = np.full(len(catalog.accelerators), np.nan)
    why = [""] * len(catalog.accelerators)
    figures: list[Figure | None] = [None] * len(catalog.accelerators)
    for i, acc in enumerate(catalog.accelerators):
        if not wanted[i]:
            continue
        if acc.power() is None:
            why[i] = f"no published power figure for {acc.name}" + (
                f" ({acc.system_power_source})" if acc.system_power_source else "")
            continue
        if job.min_memory_gb is not None and not (acc.memory_gb or 0) >= job.min_memory_gb:
            why[i] = (f"{acc.name} has {acc.memory_gb or 'unknown'} GB, "
                      f"below min_memory_gb {job.min_memory_gb:g}")
            continue
        try:
            runtime = runtime_hours(job, acc, reference)
        except InputError as exc:
            why[i] = str(exc).partition(": ")[2]
            continue
        figures[i], hours[i] = runtime, runtime.value
    return hours, why, figures


def pick_sources(catalog: Catalog, sources: Sequence[str | CarbonSource] | str | None,
                 registry: Registry) -> list[CarbonSource]:
    """The sources a plan asks, in order: names (or a comma-separated string) or instances.

    A name the catalog does not carry (a hand-built catalog) is looked up among the sources
    the installed plugins offer.
    """
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    by_name = {s.name: s for s in catalog.carbon_sources}
    names = [s for s in sources or () if isinstance(s, str)]
    if any(n not in by_name for n in names):  # the registry gathered them once
        for source in registry.catalog.carbon_sources:
            by_name.setdefault(source.name, source)
    chosen: list[CarbonSource] = []
    for s in sources or ["embedded"]:
        if isinstance(s, CarbonSource):
            chosen.append(s)
        elif s in by_name:
            chosen.append(by_name[s])
        elif s == "embedded":
            chosen.append(EmbeddedAnnual())
        else:
            from greenml.errors import closest

            raise InputError("carbon_sources", f"unknown carbon source {s!r}; installed: "
                             f"{', '.join(sorted(by_name)) or 'embedded'}", closest(s, by_name))
    if any(not isinstance(s, EmbeddedAnnual) for s in chosen):
        from greenml.carbon import settings

        settings.check()  # a malformed GREENML_CARBON_* number is the user's: exit 2
    return chosen


def _intensities(
    catalog: Catalog, asked: np.ndarray, chosen: Sequence[CarbonSource],
    deadline_s: float | None = None,
) -> tuple[np.ndarray, list[str], list[Intensity | None]]:
    """Per-region intensity in g/kWh from the chosen sources (the embedded figures alone:
    the catalog's), NaN where no source has a figure of the plan's signal; a note and the
    figure per region."""
    cols = catalog.columns
    if [s.name for s in chosen] == ["embedded"]:
        return cols.region_intensity, catalog.intensity_gaps, []
    import numpy as np

    positions = np.flatnonzero(asked)
    found, notes = resolve([catalog.regions[i] for i in positions], chosen, deadline_s)
    values = cols.region_intensity.copy()
    all_notes = [""] * len(catalog.regions)
    readings: list[Intensity | None] = [None] * len(catalog.regions)
    for i, reading, note in zip(positions, found, notes, strict=True):
        values[i] = np.nan if reading is None else reading.g_per_kwh
        all_notes[i] = note
        readings[i] = reading
    return values, all_notes, readings


def _check_arguments(catalog: object, carbon_sources: object, carbon_data: object,
                     notify: object, now: object) -> None:
    """plan()'s keyword arguments of the documented types, else InputError naming one."""
    from datetime import datetime

    if catalog is not None and not isinstance(catalog, Catalog):
        raise InputError("catalog", f"expected a greenml.Catalog or None, got {catalog!r}")
    sources_ok = carbon_sources is None or isinstance(carbon_sources, str) or (
        isinstance(carbon_sources, (list, tuple))
        and all(isinstance(s, (str, CarbonSource)) for s in carbon_sources))
    if not sources_ok:
        raise InputError("carbon_sources", "must be source names (comma-separated text or a "
                         f"list) or CarbonSource objects, got {carbon_sources!r}")
    if carbon_data is not None and not isinstance(carbon_data, str):
        raise InputError("carbon_data", f"must be a dataset name or None, got {carbon_data!r}")
    if not isinstance(notify, bool):
        raise InputError("notify", f"must be true or false, got {notify!r}")
    if now is not None and not (isinstance(now, datetime) and now.utcoffset() is not None):
        raise InputError("now", f"must be a timezone-aware datetime or None, got {now!r}")
