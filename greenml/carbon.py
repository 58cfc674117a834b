"""Carbon-intensity sources and the rule that one plan uses one signal kind.

An average (location-based) and a marginal signal answer different questions, so options
measured in different signals are never ranked together. A source that fails or has no data
for a region hands over to the next one, and the plan says so in the options it affects.

Each source has one deadline per plan (``GREENML_CARBON_DEADLINE_S``, or ``plan(...,
carbon_deadline_s=...)``): the time it may spend answering, over all its regions. While a
source works, ``current_deadline()`` says when that time runs out, so its HTTP client can
bound connecting, every read, retries and their waits; once it is spent the source counts as
unavailable for the rest of the plan.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from . import datasets
from .environment import strict_plugins
from .errors import CarbonSourceError, InputError
from .model import SIGNALS, Intensity, Region, _non_negative, _one_of, _positive, _required_text

if TYPE_CHECKING:
    from datetime import datetime

T = TypeVar("T")

#: What a live reading can be: a measurement of the past or a forecast of the future.
READING_KINDS = ("measured", "forecast")


def _aware(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    from datetime import datetime

    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InputError(attribute.name, f"must be a timezone-aware datetime, got {value!r}")


def utc_text(when: datetime) -> str:
    """``2026-05-01T14:00Z``: how greenml writes a time."""
    from datetime import timezone

    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


@attrs.frozen
class Reading:
    """One grid carbon intensity over a period: when, g CO2e/kWh, which signal, from where.

    ``at`` (timezone-aware) starts the period and ``period_s`` is its length; ``kind`` says
    whether the value was measured or is a forecast; ``zone`` is the source's grid zone.
    """

    at: datetime = attrs.field(validator=_aware)
    g_per_kwh: float = attrs.field(validator=_non_negative)
    signal: str = attrs.field(validator=_one_of(SIGNALS))
    kind: str = attrs.field(validator=_one_of(READING_KINDS))
    source: str = attrs.field(validator=_required_text)
    zone: str = ""
    period_s: float = attrs.field(default=3600.0, validator=_positive)
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


class EmbeddedAnnual(CarbonSource):
    """The annual figure of the plan's dataset (``greenml.datasets``, Electricity Maps' newest
    year by default): always there, the last fallback, the same methodology for every region."""

    name = "embedded"
    signal = "average"

    def check_credentials(self) -> tuple[bool, str]:
        return True, ("annual averages of the plan's dataset (default "
                      f"{datasets.default_name()}); no key needed")

    def intensity(self, region: Region) -> Intensity | None:
        return region.intensity


def check_signals(sources: Sequence[CarbonSource]) -> str:
    """The one signal kind these sources share; listing average and marginal together is refused."""
    kinds = {s.signal for s in sources}
    if len(kinds) > 1:
        detail = ", ".join(f"{s.name} is {s.signal}" for s in sources)
        raise InputError(
            "carbon_sources",
            f"these sources mix average and marginal signals ({detail}); rank with one kind only",
        )
    return kinds.pop() if kinds else "average"


@attrs.frozen
class Deadline:
    """The monotonic instant (``time.monotonic()``) a source must have answered by, and the
    whole deadline it is part of (for messages)."""

    at_s: float
    budget_s: float

    def left_s(self) -> float:
        return self.at_s - time.monotonic()


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "greenml_carbon_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the source now answering for a plan (None outside a plan)."""
    return _deadline.get()


def checked_deadline_s(value: Any, field: str = "carbon_deadline_s") -> float | None:
    """A deadline in seconds as given (None: not given), refused unless a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise InputError(field, f"must be a number of seconds above 0, got {value!r}")
    return float(value)


class Budgets:
    """Per plan: the time each source has spent answering, against its deadline.

    ``deadline_s`` None reads ``GREENML_CARBON_DEADLINE_S`` (default 30 s) when first needed.
    """

    def __init__(self, deadline_s: float | None = None) -> None:
        self._deadline_s = checked_deadline_s(deadline_s)
        self.spent_s: dict[str, float] = {}

    @property
    def deadline_s(self) -> float:
        if self._deadline_s is None:
            from .sources import settings

            self._deadline_s = settings.deadline_s()
        return self._deadline_s

    def left_s(self, name: str) -> float:
        return self.deadline_s - self.spent_s.get(name, 0.0)

    def spent_note(self) -> str:
        return (f"failed (no answer within its {self.deadline_s:g} s deadline "
                "(GREENML_CARBON_DEADLINE_S); not asked again in this plan)")

    @contextlib.contextmanager
    def running(self, name: str) -> Iterator[Deadline]:
        """While ``name`` answers: its deadline, visible to its HTTP client; time is counted."""
        started = time.monotonic()
        deadline = Deadline(started + self.left_s(name), self.deadline_s)
        token = _deadline.set(deadline)
        try:
            yield deadline
        finally:
            _deadline.reset(token)
            self.spent_s[name] = self.spent_s.get(name, 0.0) + time.monotonic() - started


def _scrubbed(text: str) -> str:
    """A note or message from a source, with every configured secret taken out."""
    from .sources.scrub import scrub

    return scrub(text)


def ask(region: Region, sources: Sequence[CarbonSource],
        question: Callable[[CarbonSource], T | None], broken: dict[str, str],
        budgets: Budgets | None = None,
        ) -> tuple[T | None, CarbonSource | None, list[str]]:
    """Ask each source in turn; return the first answer, who gave it, and why the others did not.

    ``broken`` carries, across regions, the sources that failed for good (not configured,
    service down, credentials refused, out of time), so a plan does not ask them again;
    ``budgets`` holds each source's time against its deadline.
    """
    budgets = budgets if budgets is not None else Budgets()
    misses: list[str] = []
    for source in sources:
        if source.name not in broken and not isinstance(source, EmbeddedAnnual) \
                and budgets.left_s(source.name) <= 0:
            broken[source.name] = budgets.spent_note()
        if source.name in broken:
            misses.append(f"{source.name} {broken[source.name]}")
            continue
        ok, reason = source.check_credentials()
        if not ok:
            broken[source.name] = _scrubbed(f"skipped: {reason}")
            misses.append(f"{source.name} {broken[source.name]}")
            continue
        try:
            with budgets.running(source.name):
                answer = question(source)
        except CarbonSourceError as exc:
            text = _scrubbed(f"failed ({str(exc).partition(': ')[2]})")
            if exc.scope == "source":
                broken[source.name] = text
            misses.append(f"{source.name} {text}")
            continue
        except Exception as exc:
            if strict_plugins():
                raise
            broken[source.name] = _scrubbed(f"failed ({type(exc).__name__}: {exc})")
            misses.append(f"{source.name} {broken[source.name]}")
            continue
        if answer:
            return answer, source, misses
        misses.append(f"no data from {source.name}")
    return None, None, misses


def resolve(
    regions: Sequence[Region], sources: Sequence[CarbonSource], deadline_s: float | None = None
) -> tuple[list[Intensity | None], list[str]]:
    """Ask each source in turn for each region; return the intensities and a note per region.

    The note is empty where the first source answered, else it says which sources failed or
    had nothing, and what was used instead: the embedded annual average where the plan's
    signal is average, nothing (None) where it is marginal. Mixing signal kinds is refused.
    Each source has ``deadline_s`` (default ``GREENML_CARBON_DEADLINE_S``) for all regions.
    """
    signal = check_signals(sources)
    broken: dict[str, str] = {}
    budgets = Budgets(deadline_s)
    intensities: list[Intensity | None] = []
    notes: list[str] = []
    for region in regions:
        def intensity_of(source: CarbonSource, region: Region = region) -> Intensity | None:
            return source.intensity(region)

        chosen, source, misses = ask(region, sources, intensity_of, broken, budgets)
        if chosen is not None and source is not None and not chosen.dataset:
            chosen = attrs.evolve(chosen, dataset=source.name, scope=source.figure_scope())
        if chosen is None:
            chosen, used = fallback(region, signal)
            misses.append(used)
        elif misses:
            misses.append(f"used {source.name if source else chosen.source}")
        intensities.append(chosen)
        notes.append("; ".join(misses))
    signals = {i.signal for i in intensities if i is not None}
    if len(signals) > 1:
        raise InputError(
            "carbon_sources",
            "these sources returned both average and marginal readings; rank with one kind only",
        )
    return intensities, notes


def fallback(region: Region, signal: str) -> tuple[Intensity | None, str]:
    """What a region falls back to when no source answered, and the words that say so."""
    annual = region.intensity
    if annual is None:
        return None, "no embedded annual figure for this region either"
    if annual.signal == signal:
        return annual, f"used the embedded annual average ({annual.dataset or annual.source})"
    return None, (f"no {signal} figure for this region: the embedded annual figures are "
                  f"{annual.signal}s, never ranked with {signal} ones")


def resolve_forecasts(
    regions: Sequence[Region], sources: Sequence[CarbonSource], start: datetime,
    end: datetime | None, deadline_s: float | None = None,
) -> list[tuple[Sequence[Reading] | None, str, str]]:
    """Per region: the first source's forecast readings (or None), that source's name, a note.

    Each source has ``deadline_s`` (default ``GREENML_CARBON_DEADLINE_S``) for all regions.
    """
    check_signals(sources)
    broken: dict[str, str] = {}
    budgets = Budgets(deadline_s)
    out: list[tuple[Sequence[Reading] | None, str, str]] = []
    for region in regions:
        def forecast_of(source: CarbonSource, region: Region = region
                        ) -> Sequence[Reading] | None:
            return source.forecast(region, start, end)

        readings, source, misses = ask(region, sources, forecast_of, broken, budgets)
        if readings is None or source is None:
            note = "; ".join(m for m in misses if m != "no data from embedded")
            out.append((None, "", note))
            continue
        note = "; ".join([*misses, f"used the {source.name} forecast"]) if misses else ""
        out.append((readings, source.name, note))
    return out
