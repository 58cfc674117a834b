"""plan(job): gather candidates, estimate each, drop the infeasible with a reason, rank.

The work is done on the catalog's numpy columns, once: every offer's hours, kWh, kg CO2e,
cost and intensity are computed in a handful of array passes and kept on the Plan, which
ranks only as far as it is read (``ranking``); an Option is a view of one row of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from greenml import energy, plugins
from greenml.arrays import distinct
from greenml.carbon import CarbonSource, utc_text
from greenml.carbon.deadline import checked_deadline_s
from greenml.carbon.embedded import EmbeddedAnnual
from greenml.carbon.resolve import resolve
from greenml.catalog import Catalog
from greenml.errors import InputError, NoFeasibleOption
from greenml.estimator import runtime_hours
from greenml.figure import Figure
from greenml.job import Job
from greenml.model import Accelerator, Exclusion, Intensity
from greenml.plan.ranking import HEAD_ROWS, rank
from greenml.plan.result import OfferFigures, Plan
from greenml.plan.savings import baseline_estimate
from greenml.registry import default_catalog

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
) -> Plan:
    """The work behind ``greenml.plan`` (which documents it): arrays once, then rank."""
    import numpy as np

    if not isinstance(job, Job):
        raise InputError("job", f"expected a greenml.Job, got {type(job).__name__}")
    _check_arguments(catalog, carbon_sources, carbon_data, notify, now)
    carbon_deadline_s = checked_deadline_s(carbon_deadline_s)
    catalog = catalog if catalog is not None else default_catalog()
    if carbon_data is not None:
        catalog = catalog.with_dataset(carbon_data)
    cols = catalog.columns
    excluded: list[Exclusion] = list(catalog.problems)

    wanted = _wanted_accelerators(job, catalog)
    region_ok, region_why = _region_filter(job, catalog)
    candidate = wanted[cols.offer_accelerator]
    _exclude_regions(excluded, catalog, candidate, region_ok, region_why)
    candidate &= region_ok[cols.offer_region]

    reference = catalog.reference_for(job)  # once per plan
    hours_by_acc, acc_why, runtimes = _hours_by_accelerator(job, catalog, wanted, reference)
    acc_ok = np.array([not w for w in acc_why], dtype=bool)
    _exclude_offers(excluded, catalog, candidate & ~acc_ok[cols.offer_accelerator],
                    lambda r, a: acc_why[a], "accelerator")
    candidate &= acc_ok[cols.offer_accelerator]

    asked = region_ok & (np.bincount(cols.offer_region[candidate],
                                     minlength=len(catalog.regions)) > 0)
    shift: TimeShift | None = None
    readings: Sequence[Intensity | None] = ()
    on_dataset = False
    sources = pick_sources(catalog, carbon_sources)
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
            _check_coverage(catalog, candidate, offer_intensity)
    candidate = _exclude_without_intensity(excluded, job, catalog, candidate, offer_intensity,
                                           intensity_notes, hours_by_acc, shift,
                                           "carbon_data" if on_dataset else "carbon_sources")
    instances = np.ceil(job.count / cols.per_instance)
    candidate = _exclude_too_large(excluded, job, catalog, candidate, instances)
    provisioned = instances * cols.per_instance
    hours = hours_by_acc[cols.offer_accelerator]
    kwh = energy.energy_kwh(hours, provisioned, cols.accelerator_power_w[cols.offer_accelerator],
                            cols.region_pue[cols.offer_region])
    co2 = energy.co2e_kg(kwh, offer_intensity)
    price = cols.spot_usd if job.spot else cols.ondemand_usd
    cost = price * instances * hours

    if job.spot:
        no_spot = candidate & np.isnan(price)
        _exclude_offers(excluded, catalog, no_spot, lambda r, a: "no spot price published", "spot")
        candidate &= ~no_spot
    if job.max_cost_usd is not None:
        over = candidate & ~(cost <= job.max_cost_usd)
        _exclude_offers(
            excluded, catalog, over,
            lambda r, a: f"over max_cost_usd {_usd(job.max_cost_usd or 0)}", "max_cost_usd",
            cost=cost)
        candidate &= ~over

    feasible = np.flatnonzero(candidate)
    if feasible.size == 0:
        raise NoFeasibleOption(_nothing_fits(job, excluded), excluded)
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
    )
    if notify:
        plugins.notify("greenml_plan_made", plan=result)
    return result


def replan(saved: Plan, *, now: datetime | None = None) -> Plan:
    """The job of ``saved`` planned again on the installed catalog, with the dataset (where
    this greenml still has it) and the carbon sources it was planned with."""
    from greenml import datasets

    name = saved.saved.carbon_data if saved.saved is not None else saved.catalog.carbon_data
    return compute(saved.job, carbon_data=name if name in datasets.datasets() else None,
                   carbon_sources=list(saved.carbon_sources), now=now)


def _wanted_accelerators(job: Job, catalog: Catalog) -> np.ndarray:
    """A mask over catalog.accelerators: what the job accepts, less what it refuses."""
    import numpy as np

    names = [a.name for a in catalog.accelerators]
    if job.accelerator:
        accepted = {a.name for n in job.accelerator for a in catalog.family_members(n)}
    else:
        accepted = set(names)
    for n in job.not_accelerators:
        accepted -= {a.name for a in catalog.family_members(n, "not_accelerators")}
    if job.hours_on:
        catalog.accelerator(job.hours_on, "hours_on")
    return np.array([n in accepted for n in names], dtype=bool)


def _region_filter(job: Job, catalog: Catalog) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Per region: allowed or not, and (field, reason) when not."""
    import numpy as np

    if not (job.providers or job.countries or job.not_countries or job.regions
            or job.not_regions):
        return catalog.every_region  # nothing to check: the common case, made once
    known_providers = set(catalog.provider_names())
    for p in job.providers:
        if p not in known_providers and p in catalog.providers:
            problems = [e.reason for e in catalog.problems if e.provider == p]
            raise InputError("providers", problems[0] if problems else
                             f"provider {p!r} has no regions to plan (is it configured?)")
        if p not in known_providers:
            raise InputError("providers", f"unknown provider {p!r}; installed: "
                             f"{', '.join(sorted(known_providers)) or 'none'}",
                             [c for c in sorted(known_providers) if c[:1] == p[:1]])
    region_names = {r.name for r in catalog.regions}
    for field, names in (("regions", job.regions), ("not_regions", job.not_regions)):
        for name in names:
            if name not in region_names and name.partition("/")[2] not in region_names:
                from greenml.errors import closest

                raise InputError(field, f"unknown region {name!r}", closest(name, region_names))
    why: list[tuple[str, str]] = []
    for r in catalog.regions:
        qualified = f"{r.provider}/{r.name}"
        if job.providers and r.provider not in job.providers:
            why.append(("providers", f"provider not in {', '.join(job.providers)}"))
        elif job.countries and r.country not in job.countries:
            why.append(("countries", f"country {r.country} not in allowed countries "
                        f"({', '.join(job.countries)})"))
        elif r.country in job.not_countries:
            why.append(("not_countries", f"country {r.country} is denied"))
        elif job.regions and r.name not in job.regions and qualified not in job.regions:
            why.append(("regions", "region not in allowed regions"))
        elif r.name in job.not_regions or qualified in job.not_regions:
            why.append(("not_regions", "region is denied"))
        else:
            why.append(("", ""))
    return np.array([not w[0] for w in why], dtype=bool), why


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


def pick_sources(catalog: Catalog, sources: Sequence[str | CarbonSource] | str | None
             ) -> list[CarbonSource]:
    """The sources a plan asks, in order: names (or a comma-separated string) or instances.

    A name the catalog does not carry (a hand-built catalog) is looked up among the sources
    the installed plugins offer.
    """
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    by_name = {s.name: s for s in catalog.carbon_sources}
    names = [s for s in sources or () if isinstance(s, str)]
    if any(n not in by_name for n in names):
        for _, result, error in plugins.call_each("greenml_carbon_sources"):
            for source in (result or ()) if error is None else ():
                if isinstance(source, CarbonSource):
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


def _exclude_without_intensity(
    excluded: list[Exclusion], job: Job, catalog: Catalog, candidate: np.ndarray,
    offer_intensity: np.ndarray, notes: Sequence[str], hours_by_acc: np.ndarray,
    shift: TimeShift | None, field: str = "carbon_sources",
) -> np.ndarray:
    """Drop offers with no intensity of the plan's signal, and runs too long for the window.

    A job whose every candidate run is longer than its window is an InputError on deadline.
    """
    import numpy as np

    cols = catalog.columns
    missing = candidate & np.isnan(offer_intensity)
    if not missing.any():
        return candidate
    no_data = missing
    if shift is not None:
        usable = np.ones(len(catalog.regions), dtype=bool)
        rows = shift.row_of_region
        usable[rows >= 0] = shift.forecasts.usable[rows[rows >= 0]]
        no_data = missing & ~usable[cols.offer_region]
        too_long = missing & ~no_data
        if too_long.any():
            window = (f"the window from {utc_text(shift.start)} to "
                      f"{utc_text(shift.deadline) if shift.deadline else 'the deadline'}")
            if not (candidate & ~too_long & ~no_data).any():
                hours = hours_by_acc[cols.offer_accelerator[too_long]]
                fastest = int(cols.offer_accelerator[too_long][int(np.argmin(hours))])
                span = ((shift.deadline - shift.start).total_seconds() / 3600
                        if shift.deadline else 0.0)
                raise InputError("deadline", f"the job runs at least {float(hours.min()):,.1f} h "
                                 f"(on {catalog.accelerators[fastest].name}) but {window} is "
                                 f"{span:,.1f} h: set a later deadline or an earlier start")
            _exclude_offers(excluded, catalog, too_long,
                            lambda r, a: f"{catalog.accelerators[a].name} runs "
                            f"{hours_by_acc[a]:,.1f} h, longer than {window}", "deadline")
    if no_data.any():
        _exclude_offers(excluded, catalog, no_data, lambda r, a: notes[r], field)
    kept: np.ndarray = candidate & ~missing
    return kept


def _exclude_too_large(excluded: list[Exclusion], job: Job, catalog: Catalog,
                       candidate: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """Drop offers the job needs more instances of than one launch can have (``max_instances``:
    a cluster partition's node count), saying how large the largest such offer is."""
    import numpy as np

    cols = catalog.columns
    too_large = candidate & (instances > cols.max_instances)
    if not too_large.any():
        return candidate
    capacity = cols.max_instances * cols.per_instance
    largest: dict[tuple[int, int], int] = {}
    for i in np.flatnonzero(too_large):
        key = (int(cols.offer_region[i]), int(cols.offer_accelerator[i]))
        if key not in largest or capacity[i] > capacity[largest[key]]:
            largest[key] = int(i)

    def reason(r: int, a: int) -> str:
        o = catalog.offers[largest[(r, a)]]
        return (f"{o.instance_type} has at most {o.max_instances} instance(s) x "
                f"{o.accelerators_per_instance} {o.accelerator}, the job needs {job.count}")

    _exclude_offers(excluded, catalog, too_large, reason, "count")
    return candidate & ~too_large


def _exclude_regions(excluded: list[Exclusion], catalog: Catalog, candidate: np.ndarray,
                     region_ok: np.ndarray, why: list[tuple[str, str]]) -> None:
    import numpy as np

    cols = catalog.columns
    counts = np.bincount(cols.offer_region[candidate], minlength=len(catalog.regions))
    for i in np.flatnonzero((counts > 0) & ~region_ok):
        region = catalog.regions[i]
        field, reason = why[i]
        excluded.append(Exclusion(field, reason, region.provider, region.name, int(counts[i])))


def _exclude_offers(excluded: list[Exclusion], catalog: Catalog, mask: np.ndarray,
                    reason: Callable[[int, int], str], field: str,
                    cost: np.ndarray | None = None) -> None:
    """One Exclusion per (region, accelerator) group of the offers in ``mask``."""
    import numpy as np

    if not mask.any():
        return
    cols = catalog.columns
    n_acc = len(catalog.accelerators)
    idx = np.flatnonzero(mask)
    keys = cols.offer_region[idx].astype(np.int64) * n_acc + cols.offer_accelerator[idx]
    unique, inverse, counts = distinct(keys)
    cheapest = None
    if cost is not None:
        cheapest = np.full(unique.size, np.inf)
        np.minimum.at(cheapest, inverse, np.where(np.isnan(cost[idx]), np.inf, cost[idx]))
    for g, key in enumerate(unique):
        r, a = divmod(int(key), n_acc)
        region, acc = catalog.regions[r], catalog.accelerators[a]
        text = reason(r, a)
        if cheapest is not None:
            text = (f"{acc.name}: cheapest option costs {_usd(cheapest[g])}, {text}"
                    if math.isfinite(cheapest[g]) else f"{acc.name}: no public price, {text}")
        excluded.append(Exclusion(field, text, region.provider, region.name, int(counts[g])))


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _nothing_fits(job: Job, excluded: Sequence[Exclusion]) -> str:
    """One line that says, field by field, why every candidate was excluded."""
    if not any(e.field != "plugin" for e in excluded):
        wanted = ", ".join(job.accelerator) or "any accelerator"
        return f"no offer in the catalog has {wanted}"
    by_field: dict[str, list[Exclusion]] = {}
    for e in excluded:
        by_field.setdefault(e.field, []).append(e)
    parts = []
    for field, group in by_field.items():
        if field == "plugin":
            continue
        regions = {(e.provider, e.region) for e in group}
        parts.append(f"{field}: {len(regions)} region(s), e.g. {group[0]}")
    return "no option fits the job; excluded by " + "; ".join(parts)


def _check_coverage(catalog: Catalog, candidate: np.ndarray, offer_intensity: np.ndarray
                    ) -> None:
    """A dataset with a figure for none of the candidate regions is the wrong dataset."""
    import numpy as np

    if not candidate.any() or (candidate & ~np.isnan(offer_intensity)).any():
        return
    from greenml import datasets

    name = catalog.carbon_data or "the catalog"
    covered = sorted({r.provider for r in catalog.regions if r.intensity is not None})
    raise InputError("carbon_data", f"{name} has no figure for any candidate region (it covers "
                     f"{', '.join(covered) or 'no'} regions); known datasets: "
                     f"{', '.join(sorted(datasets.datasets()))}")


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
