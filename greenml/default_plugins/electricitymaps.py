"""Live carbon intensity from Electricity Maps (average; set ELECTRICITYMAPS_API_TOKEN)."""

from __future__ import annotations

from greenml.carbon import CarbonSource
from greenml.hookspecs import hookimpl


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    from greenml.sources.electricitymaps import ElectricityMaps

    return [ElectricityMaps()]
