"""Carbon-intensity sources and the rule that one plan uses one signal kind.

An average (location-based) and a marginal signal answer different questions, so options
measured in different signals are never ranked together. A source that fails or has no data
for a region hands over to the next one, and the plan says so in the options it affects.

Each source has one deadline per plan (``GREENML_CARBON_DEADLINE_S``, or ``plan(...,
carbon_deadline_s=...)``): the time it may spend answering, over all its regions. While a
source works, ``greenml.carbon.deadline.current_deadline()`` says when that time runs out, so
its HTTP client can bound connecting, every read, retries and their waits; once it is spent
the source counts as unavailable for the rest of the plan. This package holds the base
(``CarbonSource``, ``Reading``); resolution is ``greenml.carbon.resolve``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from greenml.errors import InputError
from greenml.model import SIGNALS, Intensity, Region, utc_text
from greenml.validators import non_negative, one_of, positive, required_text

if TYPE_CHECKING:
    from datetime import datetime

#: What a live reading can be: a measurement of the past or a forecast of the future.
READING_KINDS = ("measured", "forecast")


def _aware(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    from datetime import datetime

    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InputError(attribute.name, f"must be a timezone-aware datetime, got {value!r}")


@attrs.frozen
class Reading:
    """One grid carbon intensity over a period: when, g CO2e/kWh, which signal, from where.

    ``at`` (timezone-aware) starts the period and ``period_s`` is its length; ``kind`` says
    whether the value was measured or is a forecast; ``zone`` is the source's grid zone.
    """

    at: datetime = attrs.field(validator=_aware)
    g_per_kwh: float = attrs.field(validator=non_negative)
    signal: str = attrs.field(validator=one_of(SIGNALS))
    kind: str = attrs.field(validator=one_of(READING_KINDS))
    source: str = attrs.field(validator=required_text)
    zone: str = ""
    period_s: float = attrs.field(default=3600.0, validator=positive)
    #: ``at`` as seconds since the epoch, worked out once (planning reads it for every reading).
    at_s: float = attrs.field(init=False, repr=False, eq=False, default=0.0)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "at_s", self.at.timestamp())  # after the validators ran

    def to_intensity(self) -> Intensity:
        return Intensity(self.g_per_kwh, self.source, utc_text(self.at), self.signal, self.kind,
                         self.zone)

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, filter=lambda a, _: a.name != "at_s")
        data["at"] = self.at.isoformat()
        return data


class CarbonSource:
    """Base class for a carbon-intensity source: a live service, a file, the embedded figures.

    Subclasses set ``name`` and ``signal`` ("average" or "marginal") and implement what they
    can: ``latest`` (or ``intensity``), ``forecast``, ``history``. A method with no data for a
    region returns None; a source that cannot answer raises ``CarbonSourceError``. Building
    one does no I/O, and ``check_credentials`` says whether it is configured, and if not why.
    """

    name: ClassVar[str] = ""
    signal: str = "average"

    def check_credentials(self) -> tuple[bool, str]:
        """``(ok, reason)``: whether this source is configured; never reveals a secret."""
        return True, ""

    def zone(self, region: Region) -> str:
        """The grid zone this source knows ``region`` by ("" when it has none)."""
        return region.grid_zone

    def latest(self, region: Region) -> Reading | None:
        """The most recent reading for ``region``, or None."""
        return None

    def intensity(self, region: Region) -> Intensity | None:
        """The intensity a plan without a time window uses: by default the latest reading."""
        reading = self.latest(region)
        return None if reading is None else reading.to_intensity()

    def forecast(self, region: Region, start: datetime, end: datetime | None = None
                 ) -> Sequence[Reading] | None:
        """Forecast readings covering ``start`` to ``end`` (or as far as the source sees)."""
        return None

    def history(self, region: Region, start: datetime, end: datetime
                ) -> Sequence[Reading] | None:
        """Measured readings between ``start`` and ``end``."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.signal})>"

    #: What the source's figures count (``lifecycle``, ``direct``); shown beside its name
    #: wherever a plan says which methodology an option rests on.
    scope: ClassVar[str] = ""

    def figure_scope(self) -> str:
        """The scope of the figures this instance returns (a setting may choose it)."""
        return self.scope
