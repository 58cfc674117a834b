"""The value types that cross the plugin boundary: frozen, hashable, validated where they enter."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from greenml.errors import InputError
from greenml.figure import Figure

if TYPE_CHECKING:
    from datetime import datetime

SIGNALS = ("average", "marginal")
INTENSITY_KINDS = ("annual", "measured", "forecast", "assumed")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(attribute.name, f"must be a positive number, got {value!r}")
    if value <= 0:
        raise InputError(attribute.name, f"must be greater than zero, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(attribute.name, f"must be a number, got {value!r}")
    if value < 0:
        raise InputError(attribute.name, f"must not be negative, got {value!r}")


def _one_of(choices: tuple[str, ...]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise InputError(attribute.name, f"must be one of {', '.join(choices)}, got {value!r}")

    return check


def _required_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InputError(attribute.name, f"must be a non-empty string, got {value!r}")


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    """Accept one name, a comma-separated string, or any iterable of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(v).strip() for v in value)


def _instance(name: str, value: Any, kind: type) -> bool:
    if not isinstance(value, kind):
        raise InputError(name, f"must be a greenml.{kind.__name__}, got {value!r}")
    return True


def _upper(value: Any) -> str:
    return str(value).upper()


def _optional_float(value: Any) -> float | None:
    return None if value is None or value == "" else value


@frozen
class PUE:
    """Power usage effectiveness of a datacenter: facility energy over IT energy (>= 1)."""

    value: float = field()
    source: str = field(validator=_required_text)
    year: str = ""

    @value.validator
    def _check(self, attribute: attrs.Attribute[Any], value: float) -> None:
        _positive(self, attribute, value)
        if value < 1.0:
            raise InputError("pue", f"must be at least 1.0, got {value!r}")


@frozen
class Intensity:
    """Grid carbon intensity in g CO2e per kWh, with its source, year and signal kind.

    ``signal`` is "average" (location-based) or "marginal"; the two are never ranked together.
    ``kind`` says whether it is an annual average, a measured reading, a forecast or an assumption.
    ``dataset`` names the methodology the figure belongs to (``electricitymaps-2025``, a live
    source's name) and ``scope`` what it counts (``lifecycle``, ``direct``), so that a plan
    can say which options rest on which.
    """

    g_per_kwh: float = field(validator=_non_negative)
    source: str = field(validator=_required_text)
    year: str = ""
    signal: str = field(default="average", validator=_one_of(SIGNALS))
    kind: str = field(default="annual", validator=_one_of(INTENSITY_KINDS))
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

    provider: str = field(validator=_required_text)
    name: str = field(validator=_required_text)
    location: str
    country: str = field(converter=_upper)
    pue: PUE = field(validator=lambda _, a, v: _instance(a.name, v, PUE))
    intensity: Intensity | None = field(
        default=None, validator=lambda _, a, v: v is None or _instance(a.name, v, Intensity))
    latitude: float | None = field(default=None, converter=_optional_float)
    longitude: float | None = field(default=None, converter=_optional_float)
    grid_zone: str = ""
    cfe_percent: float | None = field(default=None, converter=_optional_float)
    zones: tuple[str, ...] = field(default=(), converter=_tuple_of_str)

    @country.validator
    def _check_country(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if len(value) != 2 or not value.isalpha():
            raise InputError("country", f"must be an ISO 3166-1 alpha-2 code, got {value!r}")


@frozen
class Accelerator:
    """An accelerator model: memory, power and dense throughput, each with its source.

    ``family`` groups variants a user names by one word (A100 covers the 40 and 80 GB parts);
    the family's reference member is the accelerator whose name equals the family.

    Power is on one basis for every accelerator: ``system_power_w``, the average system power
    per processor (chip plus its share of the host) as Patterson et al. 2021 measured it.
    ``system_power_basis`` is ``measured`` or ``derived from TDP`` (or from another chip
    figure, ``system_power_from_w``); ``system_power_source`` / ``_year`` name the measured or
    chip figure, or why there is none. ``tdp_w`` is the chip's specification, never an
    estimate's power by itself (docs/accelerator-power.md).
    """

    name: str = field(validator=_required_text)
    family: str = ""
    aliases: tuple[str, ...] = field(default=(), converter=_tuple_of_str)
    vendor: str = ""
    form_factor: str = ""
    memory_gb: float | None = field(default=None, converter=_optional_float, validator=_positive)
    tdp_w: float | None = field(default=None, converter=_optional_float, validator=_positive)
    system_power_w: float | None = field(
        default=None, converter=_optional_float, validator=_positive
    )
    system_power_basis: str = ""
    system_power_from_w: float | None = field(
        default=None, converter=_optional_float, validator=_positive
    )
    system_power_source: str = ""
    system_power_year: str = ""
    dense_bf16_tflops: float | None = field(
        default=None, converter=_optional_float, validator=_positive
    )
    dense_fp16_tflops: float | None = field(
        default=None, converter=_optional_float, validator=_positive
    )
    source: str = ""
    year: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)

    @property
    def dense_tflops(self) -> float | None:
        """Peak dense tensor throughput: BF16 where the part has it, else FP16."""
        return self.dense_bf16_tflops or self.dense_fp16_tflops

    @property
    def dense_tflops_dtype(self) -> str:
        return "bf16" if self.dense_bf16_tflops else "fp16"

    @property
    def lower_power_variant(self) -> bool:
        """A PCIe / NVL part of a family whose reference member is another (SXM) part: its
        datasheet peak may exceed what it sustains at its lower power limit."""
        return self.family != self.name and self.form_factor.startswith("PCIe")

    @property
    def power_basis(self) -> str:
        """``measured``, ``derived from TDP`` (or from another chip figure), or "" (none)."""
        if self.system_power_w:
            return self.system_power_basis or "given"
        return "derived from TDP" if self.tdp_w else ""

    def power(self) -> Figure | None:
        """Average system power per processor, the one basis every estimate uses.

        A catalog row carries it, measured or derived; an accelerator given only a TDP (a
        plugin's) is derived here by the same rule: TDP x ``system_power_per_chip_power``
        of greenml/data/defaults.csv. None: no published figure (the source says why).
        Worked out once per accelerator: every plan asks it of every accelerator.
        """
        return _power_of(self)

    def _power(self) -> Figure | None:
        what = "average system power per processor (chip + host share)"
        if self.system_power_w:
            basis = self.power_basis
            if self.system_power_from_w and basis.startswith("derived"):
                basis += f" {self.system_power_from_w:g} W x {_system_power_rule().value:g}"
            return Figure("power_w", self.system_power_w, "W", self.system_power_source,
                          self.system_power_year or self.year, note=f"{what}, {basis}")
        if self.tdp_w:
            rule = _system_power_rule()
            return Figure(
                "power_w", round(self.tdp_w * rule.value, 1), "W", self.source, self.year,
                note=f"{what}, derived from TDP {self.tdp_w:g} W x {rule.value:g} "
                     f"({rule.name}, greenml/data/defaults.csv)",
            )
        return None


@functools.lru_cache(maxsize=4096)
def _power_of(accelerator: Accelerator) -> Figure | None:
    return accelerator._power()


def _system_power_rule() -> Figure:
    """The factor from a published chip power to average system power (defaults.csv)."""
    from greenml.packagedata import defaults

    return defaults()["system_power_per_chip_power"]


@frozen
class Offer:
    """One purchasable shape: an instance type in a region, its accelerators and its price."""

    provider: str = field(validator=_required_text)
    region: str = field(validator=_required_text)
    instance_type: str = field(validator=_required_text)
    accelerator: str = field(validator=_required_text)
    accelerators_per_instance: int = field(validator=_positive)
    vcpus: float | None = field(default=None, converter=_optional_float)
    memory_gb: float | None = field(default=None, converter=_optional_float)
    ondemand_usd_per_hour: float | None = field(
        default=None, converter=_optional_float, validator=_positive
    )
    spot_usd_per_hour: float | None = field(
        default=None, converter=_optional_float, validator=_positive
    )
    price_basis: str = ""
    price_source: str = ""
    price_date: str = ""
    #: The most instances one launch can have (a cluster partition's node count); None: no limit.
    max_instances: int | None = field(default=None, validator=_positive)

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
