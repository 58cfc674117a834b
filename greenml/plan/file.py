"""A plan saved to a file, to be launched later or by someone else, exactly as reviewed.

The file is the plan's JSON report of every option, versioned (``format``), plus what a
launch needs and a report leaves out: each option's full offer, its schedule to the
second, and the regions and accelerators the options name. Provider objects are never
saved: a launch takes them from the plugins installed then, and only after checking that
the catalog (a digest of its regions, offers and accelerators) and the intensity dataset
(its name and a digest of its figures) are still the ones the plan was made on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

from greenml import datasets
from greenml.accelerator import Accelerator
from greenml.catalog import Catalog
from greenml.errors import InputError
from greenml.figure import Figure
from greenml.job import Job
from greenml.model import PUE, Estimate, Exclusion, Intensity, Offer, Option, Region, Schedule
from greenml.plan.json_reader import Reader, join, kind
from greenml.plan.robustness import Robustness, YearCheck

if TYPE_CHECKING:
    from greenml.plan.result import Plan
    from greenml.provider import Provider

#: The saved-plan format this greenml writes and reads.
FORMAT = "greenml.plan/1"
ESTIMATE_EXTRAS = ("accelerators", "power_w", "pue", "intensity_g_per_kwh")


@attrs.frozen
class SavedFrom:
    """Where a plan read back came from, and what it was made on."""

    source: str
    fingerprint: str
    carbon_data: str | None
    carbon_data_version: str | None
    window: dict[str, Any] | None = None


@attrs.frozen
class Saved:
    """A saved plan's parts, checked; ``Plan.from_json`` makes the plan of them."""

    job: Job
    catalog: Catalog
    options: tuple[Option, ...]
    excluded: tuple[Exclusion, ...]
    baseline: Estimate
    robustness: Robustness | None
    reference: Accelerator | None
    carbon_sources: tuple[str, ...]
    origin: SavedFrom
    #: The plan's own notes (live carbon data that fell back, a window that saves nothing).
    notes: tuple[str, ...] = ()


def fingerprint(catalog: Catalog) -> str:
    """A digest of the catalog's regions (less their intensity: the dataset is checked on its
    own), offers and accelerators, in order: equal exactly when a plan would see the same."""
    digest = hashlib.sha256()
    for region in catalog.regions:
        digest.update(repr(attrs.astuple(attrs.evolve(region, intensity=None))).encode())
    digest.update(b"\0offers")
    for offer in catalog.offers:
        digest.update(repr(attrs.astuple(offer, recurse=False)).encode())
    digest.update(b"\0accelerators")
    for acc in catalog.accelerators:
        digest.update(repr(attrs.astuple(acc, recurse=False)).encode())
    return f"sha256:{digest.hexdigest()}"


def dataset_version(name: str) -> str:
    """A digest of dataset ``name``'s description and every figure it holds."""
    chosen = datasets.get(name)
    text = repr((chosen.to_dict(), sorted(chosen.figures.items())))
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def document(plan: Plan) -> dict[str, Any]:
    """The saved form of ``plan``: its report of every option, with what a launch needs."""
    report = plan.to_dict()
    regions: dict[tuple[str, str], Region] = {}
    for entry, option in zip(report["options"], plan.options, strict=True):
        regions.setdefault((option.provider, option.region.name), option.region)
        entry["saved"] = {
            "offer": _plain(attrs.asdict(option.offer)),
            "estimate": {k: getattr(option.estimate, k) for k in ESTIMATE_EXTRAS},
            "schedule": None if option.schedule is None else _plain(
                attrs.asdict(option.schedule, recurse=False)),
        }
    origin = plan.saved
    name = origin.carbon_data if origin else plan.catalog.carbon_data
    version = (origin.carbon_data_version if origin else
               dataset_version(name) if name else None)
    return {
        "format": FORMAT,
        **report,
        "catalog": {
            "fingerprint": origin.fingerprint if origin else fingerprint(plan.catalog),
            "carbon_data": {"name": name, "version": version} if name else None,
            "carbon_sources": list(plan.carbon_sources),
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "regions": [_plain(attrs.asdict(r)) for r in regions.values()],
        "accelerators": [_plain(attrs.asdict(a)) for a in plan.catalog.accelerators],
    }


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 to the microsecond, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def stale(origin: SavedFrom) -> str:
    """Why a saved plan no longer matches the installed catalog or dataset ("" if it does)."""
    from greenml.registry import default_catalog

    where = origin.source
    if origin.carbon_data is not None:
        if origin.carbon_data not in datasets.datasets():
            return (f"{where} was made with the dataset {origin.carbon_data}, which this "
                    f"greenml does not have ({', '.join(sorted(datasets.datasets()))})")
        now = dataset_version(origin.carbon_data)
        if now != origin.carbon_data_version:
            return (f"{where} was made with another version of the dataset "
                    f"{origin.carbon_data} ({_short(origin.carbon_data_version)} then, "
                    f"{_short(now)} now)")
    now = fingerprint(default_catalog())
    if now != origin.fingerprint:
        return (f"{where} was made on another catalog than the installed one (fingerprint "
                f"{_short(origin.fingerprint)} then, {_short(now)} now): a plugin, region, "
                "offer or price changed since")
    return ""


def installed_providers(origin: SavedFrom) -> dict[str, Provider]:
    """The installed providers, for a saved plan that still matches what is installed."""
    from greenml.registry import default_catalog

    why = stale(origin)
    if why:
        raise InputError("plan", f"{why}; plan its job again (greenml launch --plan "
                         f"{origin.source} --replan, or greenml.plan(plan.job))")
    return default_catalog().providers


def _short(digest: str | None) -> str:
    return (digest or "none").removeprefix("sha256:")[:12]


def read(text: str, source: str = "saved plan") -> Saved:
    """The parts of a saved plan, each checked; InputError names the file and the field."""
    r = Reader(source, "plan")
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        r.fail("", f"not JSON ({exc})")
    if not isinstance(data, dict):
        r.fail("", f"must be a JSON object (a plan saved by greenml plan --save), got "
               f"{kind(data)}")
    if "format" not in data:
        r.fail("format", "missing: not a saved plan (greenml plan ... --save FILE writes one; "
               "--json prints a report, not a plan to launch)")
    if data["format"] != FORMAT:
        r.fail("format", f"{data['format']!r} is not a format this greenml reads ({FORMAT})")
    job = r.make("job", Job, r.obj(data, "job", ""))
    about = r.obj(data, "catalog", "")
    carbon = about.get("carbon_data")
    if carbon is not None and not isinstance(carbon, dict):
        r.fail("catalog.carbon_data", f"must be an object or null, got {kind(carbon)}")
    sources = r.array(about, "carbon_sources", "catalog")
    if not all(isinstance(s, str) for s in sources):
        r.fail("catalog.carbon_sources", "must be a list of source names")
    window = data.get("window")
    if window is not None and not isinstance(window, dict):
        r.fail("window", f"must be an object, got {kind(window)}")
    origin = SavedFrom(
        source=source, fingerprint=r.text(about, "fingerprint", "catalog"),
        carbon_data=r.text(carbon, "name", "catalog.carbon_data") if carbon else None,
        carbon_data_version=r.text(carbon, "version", "catalog.carbon_data") if carbon
        else None, window=window)
    accelerators = tuple(r.make(where, Accelerator, item)
                         for where, item in r.objects(data, "accelerators", ""))
    regions = {(region.provider, region.name): region
               for region in (_region(r, where, item)
                              for where, item in r.objects(data, "regions", ""))}
    by_name = {a.name: a for a in accelerators}
    options = tuple(_option(r, where, item, k, job, regions, by_name)
                    for k, (where, item) in enumerate(r.objects(data, "options", "")))
    if not options:
        r.fail("options", "empty: a saved plan holds every option it ranked")
    if r.integer(data, "count", "") != len(options):
        r.fail("options", f"holds {len(options)} option(s), the plan ranked "
               f"{data['count']}: a saved plan holds every one")
    name = origin.carbon_data if origin.carbon_data in datasets.datasets() else None
    catalog = Catalog(list(regions.values()), [o.offer for o in options], accelerators,
                      carbon_data=name)
    try:
        reference = catalog.reference_for(job)
    except InputError as exc:
        r.fail(f"job.{exc.field}", str(exc).partition(": ")[2])
    return Saved(
        job=job, catalog=catalog, options=options,
        excluded=tuple(r.make(where, Exclusion, item)
                       for where, item in r.objects(data, "excluded", "")),
        baseline=_estimate(r, "baseline", r.obj(data, "baseline", ""), r.obj(data, "baseline", "")),
        robustness=_robustness(r, data.get("robustness")), reference=reference,
        carbon_sources=tuple(sources), origin=origin, notes=_notes(r, data, ""))


def _region(r: Reader, where: str, item: dict[str, Any]) -> Region:
    pue = r.make(f"{where}.pue", PUE, r.obj(item, "pue", where))
    intensity = item.get("intensity")
    if intensity is not None:
        if not isinstance(intensity, dict):
            r.fail(f"{where}.intensity", f"must be an object or null, got {kind(intensity)}")
        intensity = r.make(f"{where}.intensity", Intensity, intensity)
    return r.make(where, Region, {**item, "pue": pue, "intensity": intensity})


def _figures(r: Reader, where: str, data: Mapping[str, Any]) -> tuple[Figure, ...]:
    return tuple(r.make(path, Figure, item) for path, item in r.objects(data, "inputs", where))


def _estimate(r: Reader, where: str, figures: Mapping[str, Any],
              extras: Mapping[str, Any]) -> Estimate:
    """An Estimate from the report's figures and the saved extras (the same object for the
    baseline, whose report carries every field)."""
    cost = r.number(figures, "cost_usd", where, optional=True)
    return Estimate(
        hours=_number(r, figures, "hours", where),
        accelerators=r.integer(extras, "accelerators", where),
        power_w=_number(r, extras, "power_w", where),
        pue=_number(r, extras, "pue", where),
        intensity_g_per_kwh=_number(r, extras, "intensity_g_per_kwh", where),
        energy_kwh=_number(r, figures, "energy_kwh", where),
        co2e_kg=_number(r, figures, "co2e_kg", where),
        cost_usd=cost, signal=r.text(figures, "signal", where),
        inputs=_figures(r, where, figures))


def _number(r: Reader, data: Mapping[str, Any], key: str, where: str) -> float:
    value = r.number(data, key, where)
    assert value is not None
    return value


def _option(r: Reader, where: str, item: dict[str, Any], position: int, job: Job,
            regions: Mapping[tuple[str, str], Region], accelerators: Mapping[str, Accelerator]
            ) -> Option:
    rank = r.integer(item, "rank", where)
    if rank != position + 1:
        r.fail(f"{where}.rank", f"must be {position + 1}: options are saved best first, "
               f"got {rank}")
    provider, name = r.text(item, "provider", where), r.text(item, "region", where)
    region = regions.get((provider, name))
    if region is None:
        r.fail(f"{where}.region", f"{provider}/{name} is not among the file's regions")
    acc = accelerators.get(r.text(item, "accelerator", where))
    if acc is None:
        r.fail(f"{where}.accelerator", f"{item['accelerator']!r} is not among the file's "
               "accelerators")
    saved = r.obj(item, "saved", where)
    offer = r.make(f"{where}.saved.offer", Offer, r.obj(saved, "offer", f"{where}.saved"))
    planned = (provider, name, r.text(item, "instance_type", where), acc.name)
    if (offer.provider, offer.region, offer.instance_type, offer.accelerator) != planned:
        r.fail(f"{where}.saved.offer", f"is {offer.provider}/{offer.region} "
               f"{offer.instance_type} ({offer.accelerator}), the option says "
               f"{'/'.join(planned[:2])} {planned[2]} ({planned[3]})")
    spot = r.flag(item, "spot", where)
    if spot != job.spot:
        r.fail(f"{where}.spot", f"is {spot} but the job's spot is {job.spot}")
    intensity = item.get("intensity")
    if intensity is not None:
        if not isinstance(intensity, dict):
            r.fail(f"{where}.intensity", f"must be an object or null, got {kind(intensity)}")
        intensity = r.make(f"{where}.intensity", Intensity, intensity)
    notes = _notes(r, item, where)
    return Option(
        rank=rank, region=region, offer=offer, accelerator=acc,
        instances=r.integer(item, "instances", where), spot=spot,
        estimate=_estimate(r, where, item, r.obj(saved, "estimate", f"{where}.saved")),
        pareto=r.flag(item, "pareto", where), notes=notes,
        schedule=_schedule(r, f"{where}.saved.schedule", saved.get("schedule")),
        intensity=intensity)


def _schedule(r: Reader, where: str, data: Any) -> Schedule | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        r.fail(where, f"must be an object or null, got {kind(data)}")
    times = {k: _moment(r, f"{where}.{k}", data.get(k), optional=k in ("deadline",
                                                                       "horizon_end"))
             for k in ("start", "end", "earliest_start", "deadline", "horizon_end")}
    slots = []
    for i, pair in enumerate(r.array(data, "slots", where)):
        if not (isinstance(pair, list) and len(pair) == 2):
            r.fail(f"{where}.slots[{i}]", "must be a [start, end] pair")
        slots.append(tuple(_moment(r, f"{where}.slots[{i}]", t) for t in pair))
    return r.make(where, Schedule, {**data, **times, "slots": tuple(slots)})


def _moment(r: Reader, where: str, value: Any, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.utcoffset() is None:
        r.fail(where, f"must be an ISO 8601 time with a zone, got {value!r}"[:200])
    return when


def _robustness(r: Reader, data: Any) -> Robustness | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        r.fail("robustness", f"must be an object or null, got {kind(data)}")
    fields = ("dataset", "year", "winner_rank", "winner_co2e_kg", "best_co2e_kg")
    years = tuple(r.make(where, YearCheck, {k: item.get(k) for k in fields})
                  for where, item in r.objects(data, "years", "robustness"))
    return Robustness.from_years(r.text(data, "family", "robustness"), years)


def _notes(r: Reader, item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """A ``notes`` list of text (of the plan, or of one option)."""
    notes = r.array(item, "notes", where)
    if not all(isinstance(n, str) for n in notes):
        r.fail(join(where, "notes"), "must be a list of text")
    return tuple(notes)
