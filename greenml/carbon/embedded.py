"""The embedded annual averages: the carbon source every plan can fall back to, and its plugin."""

from __future__ import annotations

from greenml import datasets
from greenml.carbon import CarbonSource
from greenml.hookspecs import hookimpl
from greenml.model import Intensity, Region


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


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    return [EmbeddedAnnual()]
