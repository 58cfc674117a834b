"""What the user wants to train: accelerators, size of the work, and the constraints on where."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from greenml.errors import InputError, closest
from greenml.validators import (
    WHOLE,
    accepting,
    flag,
    fraction,
    nonblank_text,
    optional,
    positive,
)

if TYPE_CHECKING:
    from datetime import datetime


def bound(name: str) -> float:
    """An upper bound on what a user may ask for, from ``greenml/data/defaults.csv`` (each
    with its rationale): beyond it a figure is a typo, and planning it would overflow."""
    from greenml.datafiles import defaults

    return defaults()[name].value


def _at_most(name: str, unit: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """A validator: a positive finite number no larger than ``bound(name)``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        positive(instance, attribute, value)
        if value is not None and value > bound(name):
            raise InputError(attribute.name, f"must be at most {bound(name):,.6g}{unit} "
                             f"({name} in greenml/data/defaults.csv), got {value!r}")

    return check


_WHOLE_ACCELERATORS = accepting(("a positive whole number of accelerators", WHOLE),
                               ("at least 1", attrs.validators.ge(1)))


def _count(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _WHOLE_ACCELERATORS(instance, attribute, value)
    if value > bound("max_accelerators"):
        raise InputError("count", f"must be at most {bound('max_accelerators'):,.0f} "
                         "accelerators (max_accelerators in greenml/data/defaults.csv), got "
                         f"{value!r}")


def _names(field_name: str, value: Any) -> tuple[str, ...]:
    """None, one name, comma-separated names, or a list of names, as a tuple; anything else
    is an InputError naming ``field_name``."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = list(value)
    else:
        raise InputError(field_name, "must be a name, comma-separated names or a list of "
                         f"names, got {value!r}")
    for item in items:
        if not isinstance(item, str):
            raise InputError(field_name, f"names must be text, got {item!r}")
    return tuple(item.strip() for item in items if item.strip())


def _accelerators(value: Any) -> tuple[str, ...]:
    """None, "any" or "*" mean any accelerator; otherwise one name or a list of names."""
    names = _names("accelerator", value)
    if any(n.lower() in ("any", "*") for n in names):
        return ()
    return names


def _country_codes(field_name: str, value: Any) -> tuple[str, ...]:
    return tuple(c.upper() for c in _names(field_name, value))


def _moment(field_name: str, value: Any) -> datetime | None:
    """A timezone-aware datetime or ISO 8601 text (``Z`` or an offset), as a UTC datetime,
    at most ``max_hours`` ahead (a time beyond that is a typo, and overflows date arithmetic)."""
    from datetime import datetime, timedelta, timezone

    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(field_name, f"not an ISO 8601 time: {value!r} (e.g. "
                             "2026-05-01T18:00Z)") from None
    if not isinstance(value, datetime):
        raise InputError(field_name, f"must be a datetime or ISO 8601 text, got {value!r}")
    if value.utcoffset() is None:
        raise InputError(field_name, f"give a time zone, e.g. {value.isoformat()}Z or "
                         f"{value.isoformat()}+02:00")
    try:
        moment = value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise InputError(field_name, "is out of range in UTC (years 1 to 9999), got "
                         f"{value.isoformat()}") from None
    most = bound("max_hours")
    latest = datetime.now(timezone.utc) + timedelta(hours=most)
    if moment > latest:
        raise InputError(field_name, f"must be at most {most:,.0f} h ({most / 8760:g} years) "
                         f"from now, before {latest:%Y-%m-%dT%H:%MZ} (max_hours in "
                         f"greenml/data/defaults.csv), got {value.isoformat()}")
    return moment


def _earliest_start(value: Any) -> datetime | None:
    return _moment("earliest_start", value)


def _deadline(value: Any) -> datetime | None:
    return _moment("deadline", value)


def _whole(value: Any) -> Any:
    """3.0 accelerators are 3; anything else is left for the validator to judge."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# One named converter per field (mypy's attrs plugin types named functions only), each
# naming its field in the errors it raises.
def _providers(value: Any) -> tuple[str, ...]:
    return _names("providers", value)


def _regions(value: Any) -> tuple[str, ...]:
    return _names("regions", value)


def _not_regions(value: Any) -> tuple[str, ...]:
    return _names("not_regions", value)


def _not_accelerators(value: Any) -> tuple[str, ...]:
    return _names("not_accelerators", value)


def _countries(value: Any) -> tuple[str, ...]:
    return _country_codes("countries", value)


def _not_countries(value: Any) -> tuple[str, ...]:
    return _country_codes("not_countries", value)


@frozen
class Job:
    """A training job: which accelerators and how many, how much work, and where it may run.

    Give either ``hours`` (wall-clock hours on ``hours_on``, by default the first accelerator
    named) or ``flops`` (total training FLOPs, run at ``utilization`` of peak dense throughput;
    ``None`` means the documented default in ``greenml/data/defaults.csv``).

    Sizes have documented upper bounds in the same file (``max_accelerators``, ``max_hours``,
    ``max_flops``; a start or deadline at most ``max_hours`` ahead): beyond them a value is
    refused with an InputError naming the field, never planned.
    """

    accelerator: tuple[str, ...] = field(default=(), converter=_accelerators)
    count: int = field(default=1, validator=_count, converter=_whole)
    hours: float | None = field(default=None, validator=_at_most("max_hours", " h"))
    flops: float | None = field(default=None, validator=_at_most("max_flops", " FLOPs"))
    utilization: float | None = field(default=None, validator=fraction)
    hours_on: str | None = field(default=None, validator=optional(nonblank_text("a name or None")))
    providers: tuple[str, ...] = field(default=(), converter=_providers)
    countries: tuple[str, ...] = field(default=(), converter=_countries)
    not_countries: tuple[str, ...] = field(default=(), converter=_not_countries)
    regions: tuple[str, ...] = field(default=(), converter=_regions)
    not_regions: tuple[str, ...] = field(default=(), converter=_not_regions)
    not_accelerators: tuple[str, ...] = field(default=(), converter=_not_accelerators)
    max_cost_usd: float | None = field(default=None, validator=positive)
    spot: bool = field(default=False, validator=flag)
    min_memory_gb: float | None = field(default=None, validator=positive)
    earliest_start: datetime | None = field(default=None, converter=_earliest_start)
    deadline: datetime | None = field(default=None, converter=_deadline)
    interruptible: bool = field(default=False, validator=flag)

    def __attrs_post_init__(self) -> None:
        if (self.hours is None) == (self.flops is None):
            raise InputError("hours", "give exactly one of hours or flops")
        if self.hours is not None and not self.accelerator and not self.hours_on:
            raise InputError(
                "hours_on",
                "hours are measured on some accelerator: name one (accelerator= or hours_on=) "
                "or give flops instead",
            )
        _check_countries("countries", self.countries)
        _check_countries("not_countries", self.not_countries)
        if self.countries and not set(self.countries) - set(self.not_countries):
            raise InputError(
                "not_countries", "the allowed and denied countries together exclude every country"
            )
        if self.regions and not set(self.regions) - set(self.not_regions):
            raise InputError(
                "not_regions", "the allowed and denied regions together exclude every region"
            )
        if (self.earliest_start is not None and self.deadline is not None
                and self.deadline <= self.earliest_start):
            raise InputError("deadline", f"must be after earliest_start ("
                             f"{self.earliest_start.isoformat()}), got "
                             f"{self.deadline.isoformat()}")

    @property
    def reference_accelerator(self) -> str | None:
        """The accelerator ``hours`` were measured on."""
        return self.hours_on or (self.accelerator[0] if self.accelerator else None)

    @property
    def shifts_in_time(self) -> bool:
        """Whether the plan chooses a start time: the job gives a window or may be interrupted."""
        return (self.earliest_start is not None or self.deadline is not None
                or self.interruptible)

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        for name in ("earliest_start", "deadline"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return data


def _check_countries(field_name: str, codes: tuple[str, ...]) -> None:
    if not codes:
        return
    from greenml.datafiles import countries

    known = countries()
    for code in codes:
        if code not in known:
            hints = [c for c, name in known.items() if name.lower() == code.lower()]
            hints += closest(code, known) if not hints else []
            raise InputError(
                field_name, f"unknown country code {code!r}; use ISO 3166-1 alpha-2 codes", hints
            )
