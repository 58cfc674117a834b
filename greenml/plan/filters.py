"""The exclusion rules of a plan: every offer a job cannot use is dropped here, in groups, each with
the field that excluded it and why, so a plan with nothing feasible can say what to relax."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from greenml.arrays import distinct
from greenml.catalog import Catalog
from greenml.errors import InputError
from greenml.job import Job
from greenml.model import Exclusion, utc_text

if TYPE_CHECKING:
    import numpy as np

    from greenml.plan.timeshift import TimeShift


def wanted_accelerators(job: Job, catalog: Catalog) -> np.ndarray:
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


def region_filter(job: Job, catalog: Catalog) -> tuple[np.ndarray, list[tuple[str, str]]]:
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


def exclude_without_intensity(
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
            exclude_offers(excluded, catalog, too_long,
                           lambda r, a: f"{catalog.accelerators[a].name} runs "
                           f"{hours_by_acc[a]:,.1f} h, longer than {window}", "deadline")
    if no_data.any():
        exclude_offers(excluded, catalog, no_data, lambda r, a: notes[r], field)
    kept: np.ndarray = candidate & ~missing
    return kept


def exclude_too_large(excluded: list[Exclusion], job: Job, catalog: Catalog,
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

    exclude_offers(excluded, catalog, too_large, reason, "count")
    return candidate & ~too_large


def exclude_regions(excluded: list[Exclusion], catalog: Catalog, candidate: np.ndarray,
                    region_ok: np.ndarray, why: list[tuple[str, str]]) -> None:
    import numpy as np

    cols = catalog.columns
    counts = np.bincount(cols.offer_region[candidate], minlength=len(catalog.regions))
    for i in np.flatnonzero((counts > 0) & ~region_ok):
        region = catalog.regions[i]
        field, reason = why[i]
        excluded.append(Exclusion(field, reason, region.provider, region.name, int(counts[i])))


def exclude_offers(excluded: list[Exclusion], catalog: Catalog, mask: np.ndarray,
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
            text = (f"{acc.name}: cheapest option costs {usd(cheapest[g])}, {text}"
                    if math.isfinite(cheapest[g]) else f"{acc.name}: no public price, {text}")
        excluded.append(Exclusion(field, text, region.provider, region.name, int(counts[g])))


def usd(value: float) -> str:
    return f"${value:,.0f}"


def nothing_fits(job: Job, excluded: Sequence[Exclusion]) -> str:
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


def check_coverage(catalog: Catalog, candidate: np.ndarray, offer_intensity: np.ndarray
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
