"""Live carbon intensity from WattTime (marginal by default; needs WATTTIME_USERNAME/PASSWORD)."""

from __future__ import annotations

from greenml.carbon import CarbonSource
from greenml.hookspecs import hookimpl


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    from greenml.sources.watttime import WattTime

    return [WattTime()]
