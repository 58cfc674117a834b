"""Asking the sources in order for each region: a failing source hands over to the next with a
note, and one plan ranks on one signal kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import attrs

from greenml.carbon import CarbonSource, Reading
from greenml.carbon.deadline import Budgets
from greenml.carbon.embedded import EmbeddedAnnual
from greenml.environment import strict_plugins
from greenml.errors import CarbonSourceError, InputError
from greenml.model import Intensity, Region

if TYPE_CHECKING:
    from datetime import datetime

T = TypeVar("T")


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


def _scrubbed(text: str) -> str:
    """A note or message from a source, with every configured secret taken out."""
    from greenml.scrub import scrub

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
