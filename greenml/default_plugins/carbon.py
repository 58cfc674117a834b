"""The embedded annual averages: the carbon source every plan can fall back to."""

from __future__ import annotations

from greenml.carbon import CarbonSource, EmbeddedAnnual
from greenml.hookspecs import hookimpl


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    return [EmbeddedAnnual()]
