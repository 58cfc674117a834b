"""Every hook a greenml plugin can implement. Names carry the ``greenml_`` prefix.

Implementations may accept fewer arguments than a spec names, so specs can grow without
breaking plugins. The built-in behaviour (``greenml.plugins.DEFAULT_PLUGINS``) uses these
same hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from greenml.accelerator import Accelerator
    from greenml.carbon import CarbonSource
    from greenml.model import PUE, Region
    from greenml.plan.result import Plan
    from greenml.provider import Provider

hookspec = pluggy.HookspecMarker("greenml")
hookimpl = pluggy.HookimplMarker("greenml")


@hookspec
def greenml_providers() -> Iterable[Provider]:
    """Return the providers this plugin adds; each must have a unique lower-case ``name``.

    Example::

        @greenml.hookimpl
        def greenml_providers():
            return [MyCloud()]
    """


@hookspec
def greenml_accelerators() -> Iterable[Accelerator]:
    """Return accelerator specifications (power, memory, dense throughput) this plugin knows.

    A name or alias already registered by another plugin is an error naming both.

    Example::

        @greenml.hookimpl
        def greenml_accelerators():
            return [greenml.Accelerator(name="MI355X", tdp_w=1400, source="AMD", year="2025")]
    """


@hookspec
def greenml_carbon_sources() -> Iterable[CarbonSource]:
    """Return carbon-intensity sources (live services, files); each has a unique ``name``.

    A source subclasses ``greenml.CarbonSource``, sets ``name`` and ``signal`` ("average" or
    "marginal") and implements what it can: ``latest(region)`` (or ``intensity(region)``),
    ``forecast(region, start, end)`` and ``history(region, start, end)``, returning
    ``greenml.Reading`` values, or None for a region it has no data for. It raises
    ``greenml.CarbonSourceError`` when it cannot answer, so the plan falls back to the next
    source; ``check_credentials()`` says whether it is configured. Users pick sources by name:
    ``greenml.plan(job, carbon_sources=["mygrid", "embedded"])``.

    Example::

        class MyGridAPI(greenml.CarbonSource):
            name, signal = "mygrid", "average"

            def forecast(self, region, start, end=None):
                return [greenml.Reading(at, g, "average", "forecast", self.name)
                        for at, g in fetch_my_forecast(region.grid_zone)]

        @greenml.hookimpl
        def greenml_carbon_sources():
            return [MyGridAPI()]
    """


@hookspec(firstresult=True)
def greenml_pue(region: Region) -> PUE | None:
    """Return a better PUE for ``region`` than its catalog figure, or None to keep it.

    The first non-None answer wins.

    Example::

        @greenml.hookimpl
        def greenml_pue(region):
            if region.provider == "gcp" and region.name == "us-central1":
                return greenml.PUE(1.09, source="Google 2025 quarterly PUE", year="2025")
    """


@hookspec
def greenml_plan_made(plan: Plan) -> None:
    """Called after every plan is made; for notification, logging or auditing.

    Example::

        @greenml.hookimpl
        def greenml_plan_made(plan):
            print(f"best: {plan.best.region.name}, {plan.best.estimate.co2e_kg:.0f} kg")
    """


@hookspec
def greenml_launched(launch: Any) -> None:
    """Called when a launch has created all its resources, with the launch record.

    Example::

        @greenml.hookimpl
        def greenml_launched(launch):
            notify_slack(f"{launch.name} started in {launch.option.region.name}")
    """


@hookspec
def greenml_terminated(launch: Any) -> None:
    """Called when every resource of a launch has been terminated, with the launch record.

    Example::

        @greenml.hookimpl
        def greenml_terminated(launch):
            notify_slack(f"{launch.name} is down")
    """
