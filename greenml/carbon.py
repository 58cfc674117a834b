"""Carbon-intensity sources and the rule that one plan uses one signal kind.

An average (location-based) and a marginal signal answer different questions, so options
measured in different signals are never ranked together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from .errors import InputError
from .model import Intensity, Region


class CarbonSource:
    """Base class for a carbon-intensity source; ``intensity`` returns None when it has no data."""

    name: ClassVar[str] = ""
    signal: ClassVar[str] = "average"

    def intensity(self, region: Region) -> Intensity | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.signal})>"


class EmbeddedAnnual(CarbonSource):
    """The annual average shipped in each provider's catalog: always there, the last fallback."""

    name = "embedded"
    signal = "average"

    def intensity(self, region: Region) -> Intensity | None:
        return region.intensity


def resolve(
    regions: Sequence[Region], sources: Sequence[CarbonSource]
) -> tuple[list[Intensity], list[str]]:
    """Ask each source in turn for each region; return the intensities and a note per region.

    The note is empty where the first source answered, else it says which sources fell
    through. Mixing signal kinds across the plan is refused.
    """
    intensities: list[Intensity] = []
    notes: list[str] = []
    for region in regions:
        missed: list[str] = []
        chosen: Intensity | None = None
        for source in sources:
            chosen = source.intensity(region)
            if chosen is not None:
                break
            missed.append(source.name)
        if chosen is None:
            chosen = region.intensity
            missed.append("every source")
        intensities.append(chosen)
        notes.append(f"no data from {', '.join(missed)}; used {chosen.source}" if missed else "")
    signals = {i.signal for i in intensities}
    if len(signals) > 1:
        raise InputError(
            "carbon_sources",
            "these sources mix average and marginal signals; rank with one kind only",
        )
    return intensities, notes
