"""The value types that cross the plugin boundary: frozen, hashable, validated where they enter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from greenml.accelerator import Accelerator
from greenml.figure import Figure
from greenml.validators import (
    accepting,
    blank_is_none,
    instance,
    names,
    non_negative,
    one_of,
    optional,
    positive,
    required_text,
)

if TYPE_CHECKING:
    from datetime import datetime

SIGNALS = ("average", "marginal")
INTENSITY_KINDS = ("annual", "measured", "forecast", "assumed")


def _upper(value: Any) -> str:
    return str(value).upper()


@frozen
class PUE:
    """Power usage effectiveness of a datacenter: facility energy over IT energy (>= 1)."""

    value: float = field(validator=[positive,
                                    accepting(("at least 1.0", attrs.validators.ge(1.0)),
                                              name="pue")])
    source: str = field(validator=required_text)
    year: str = ""


@frozen
class Intensity:
    """Grid carbon intensity in g CO2e per kWh, with its source, year and signal kind.

    ``signal`` is "average" (location-based) or "marginal"; the two are never ranked together.
    ``kind`` says whether it is an annual average, a measured reading, a forecast or an assumption.
    ``dataset`` names the methodology the figure belongs to (``electricitymaps-2025``, a live
    source's name) and ``scope`` what it counts (``lifecycle``, ``direct``), so that a plan
    can say which options rest on which.
    """

    g_per_kwh: float = field(validator=non_negative)
    source: str = field(validator=required_text)
    year: str = ""
    signal: str = field(default="average", validator=one_of(SIGNALS))
    kind: str = field(default="annual", validator=one_of(INTENSITY_KINDS))
    zone: str = ""
    dataset: str = ""
    scope: str = ""


@frozen
class Region:
    """A provider's region: where it is, its grid, its datacenter PUE.

    ``intensity`` is filled by the catalog from its dataset (``greenml.datasets``) by
    ``grid_zone``, so that every provider's regions are measured alike; a provider need not
    give one. None: the dataset has no figure for the region, which leaves it out of plans.
    """

    provider: str = field(validator=required_text)
    name: str = field(validator=required_text)
    location: str
    country: str = field(converter=_upper, validator=accepting(
        ("an ISO 3166-1 alpha-2 code", attrs.validators.matches_re(r"[^\W\d_]{2}"))))
    pue: PUE = field(validator=instance(PUE))
    intensity: Intensity | None = field(default=None, validator=optional(instance(Intensity)))
    latitude: float | None = field(default=None, converter=blank_is_none)
    longitude: float | None = field(default=None, converter=blank_is_none)
    grid_zone: str = ""
    cfe_percent: float | None = field(default=None, converter=blank_is_none)
    zones: tuple[str, ...] = field(default=(), converter=names)


@frozen
class Offer:
    """One purchasable shape: an instance type in a region, its accelerators and its price."""

    provider: str = field(validator=required_text)
    region: str = field(validator=required_text)
    instance_type: str = field(validator=required_text)
    accelerator: str = field(validator=required_text)
    accelerators_per_instance: int = field(validator=positive)
    vcpus: float | None = field(default=None, converter=blank_is_none)
    memory_gb: float | None = field(default=None, converter=blank_is_none)
    ondemand_usd_per_hour: float | None = field(
        default=None, converter=blank_is_none, validator=positive
    )
    spot_usd_per_hour: float | None = field(
        default=None, converter=blank_is_none, validator=positive
    )
    price_basis: str = ""
    price_source: str = ""
    price_date: str = ""
    #: The most instances one launch can have (a cluster partition's node count); None: no limit.
    max_instances: int | None = field(default=None, validator=positive)

    def price_usd_per_hour(self, spot: bool) -> float | None:
        return self.spot_usd_per_hour if spot else self.ondemand_usd_per_hour


@frozen
class Estimate:
    """Energy, emissions and cost of running a job once, with every input and its source."""

    hours: float
    accelerators: int
    power_w: float
    pue: float
    intensity_g_per_kwh: float
    energy_kwh: float
    co2e_kg: float
    cost_usd: float | None
    signal: str
    inputs: tuple[Figure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["inputs"] = [f.to_dict() for f in self.inputs]
        return data


@frozen
class Exclusion:
    """Why a group of candidates (a provider, a region, an accelerator) was left out of a plan."""

    field: str
    reason: str
    provider: str = ""
    region: str = ""
    offers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def __str__(self) -> str:
        where = "/".join(p for p in (self.provider, self.region) if p)
        return f"{where or 'all'}: {self.reason}"


def utc_text(when: datetime) -> str:
    """``2026-05-01T14:00Z``: how greenml writes a time, everywhere it shows one."""
    from datetime import timezone

    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _utc(when: datetime | None) -> str | None:
    """``utc_text``, or None."""
    return None if when is None else utc_text(when)


@frozen
class Schedule:
    """When an option runs: start, end, the slots it runs in, and what choosing them saves.

    ``now_co2e_kg`` is the same option run without a pause from ``earliest_start`` (the start
    of the window: now, unless the job says later); ``co2e_kg`` is the chosen schedule's.
    Past ``horizon_end`` the forecast says nothing: ``assumed_hours`` of the run are counted
    at ``assumed_g_per_kwh``, the zone's average.
    """

    start: datetime
    end: datetime
    slots: tuple[tuple[datetime, datetime], ...]
    interruptible: bool
    earliest_start: datetime
    deadline: datetime | None
    co2e_kg: float
    now_co2e_kg: float
    forecast_source: str
    horizon_end: datetime | None = None
    assumed_hours: float = 0.0
    assumed_g_per_kwh: float | None = None

    @property
    def saving_co2e_kg(self) -> float:
        """kg CO2e saved against starting at ``earliest_start`` and running straight through."""
        return self.now_co2e_kg - self.co2e_kg

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _utc(self.start), "end": _utc(self.end),
            "slots": [[_utc(a), _utc(b)] for a, b in self.slots],
            "interruptible": self.interruptible,
            "earliest_start": _utc(self.earliest_start), "deadline": _utc(self.deadline),
            "co2e_kg": self.co2e_kg, "now_co2e_kg": self.now_co2e_kg,
            "saving_co2e_kg": self.saving_co2e_kg, "forecast_source": self.forecast_source,
            "horizon_end": _utc(self.horizon_end), "assumed_hours": self.assumed_hours,
            "assumed_g_per_kwh": self.assumed_g_per_kwh,
        }

    def describe(self) -> str:
        """One line: when, and what it saves against starting at once."""
        what = (f"runs in {len(self.slots)} slot(s) from {_utc(self.start)} to {_utc(self.end)}"
                if self.interruptible and len(self.slots) > 1
                else f"starts {_utc(self.start)}, ends {_utc(self.end)}")
        return (f"{what}; {self.saving_co2e_kg:,.1f} kg CO2e less than starting at "
                f"{_utc(self.earliest_start)} ({self.now_co2e_kg:,.1f} kg)")


@frozen
class Option:
    """One way to run the job: an offer in a region, how many instances, and its estimate.

    ``schedule`` is set when the job gives a time window: when to start, and the saving.
    """

    rank: int
    region: Region
    offer: Offer
    accelerator: Accelerator
    instances: int
    spot: bool
    estimate: Estimate
    pareto: bool = False
    notes: tuple[str, ...] = ()
    schedule: Schedule | None = None
    #: The grid figure the estimate rests on, naming its dataset (or live source) and scope.
    intensity: Intensity | None = None

    @property
    def provider(self) -> str:
        return self.offer.provider

    @property
    def start(self) -> datetime | None:
        """The chosen start time (None without a time window)."""
        return self.schedule.start if self.schedule else None

    @property
    def end(self) -> datetime | None:
        return self.schedule.end if self.schedule else None

    @property
    def instance_type(self) -> str:
        return self.offer.instance_type

    def explain(self) -> str:
        """A few lines that say what this option is and what its figures rest on."""
        e = self.estimate
        lines = [
            f"#{self.rank} {self.provider}/{self.region.name} ({self.region.location}): "
            f"{self.instances} x {self.offer.instance_type} "
            f"({self.offer.accelerators_per_instance} x {self.accelerator.name} each)",
            f"  {e.hours:,.1f} h x {e.accelerators} accelerators x {e.power_w:g} W x PUE "
            f"{e.pue:g} = {e.energy_kwh:,.1f} kWh; x {e.intensity_g_per_kwh:g} g/kWh "
            f"({e.signal}) = {e.co2e_kg:,.1f} kg CO2e",
        ]
        lines += [f"  {f.name}: {f.value:g} {f.unit} - {f.source} ({f.year})"
                  + (f"; {f.note}" if f.note else "") for f in e.inputs]
        if self.schedule is not None:
            lines.append(f"  when: {self.schedule.describe()}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "provider": self.provider,
            "region": self.region.name,
            "location": self.region.location,
            "country": self.region.country,
            "instance_type": self.offer.instance_type,
            "accelerator": self.accelerator.name,
            "accelerators_per_instance": self.offer.accelerators_per_instance,
            "instances": self.instances,
            "spot": self.spot,
            "pareto": self.pareto,
            "hours": self.estimate.hours,
            "energy_kwh": self.estimate.energy_kwh,
            "co2e_kg": self.estimate.co2e_kg,
            "cost_usd": self.estimate.cost_usd,
            "signal": self.estimate.signal,
            **({} if self.intensity is None else {"intensity": {
                "g_per_kwh": self.intensity.g_per_kwh, "dataset": self.intensity.dataset,
                "year": self.intensity.year, "scope": self.intensity.scope,
                "signal": self.intensity.signal, "kind": self.intensity.kind,
                "zone": self.intensity.zone, "source": self.intensity.source}}),
            "inputs": [f.to_dict() for f in self.estimate.inputs],
            "notes": list(self.notes),
            **({} if self.schedule is None else {
                "start": _utc(self.schedule.start), "end": _utc(self.schedule.end),
                "saving_vs_now_co2e_kg": self.schedule.saving_co2e_kg,
                "schedule": self.schedule.to_dict()}),
        }
