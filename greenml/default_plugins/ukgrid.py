"""Live carbon intensity from the UK carbon intensity API (average; Great Britain; no key)."""

from __future__ import annotations

from greenml.carbon import CarbonSource
from greenml.hookspecs import hookimpl


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    from greenml.sources.ukgrid import UKCarbonIntensity

    return [UKCarbonIntensity()]
