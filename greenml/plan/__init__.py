"""Planning: which (provider, region, offer, start) runs a job with the least CO2e.

``compute`` works out every offer's hours, kWh, kg CO2e and cost once, as arrays, after the
exclusion rules in ``filters``; ``ranking`` orders only as far as a plan is read (top rows and
the Pareto front); ``result`` keeps the arrays on a ``Plan`` whose ``Option``s are views of
its rows; ``savings``, ``robustness`` and ``timeshift`` explain and move it (``timeshift`` on
the grid of ``forecasts``); ``file`` saves a plan to launch later.

``plan`` is the one public verb. It is defined here and imports its work when called, so
``import greenml`` stays cheap: numpy and the catalog load with the first plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from greenml.carbon import CarbonSource
    from greenml.catalog import Catalog
    from greenml.job import Job
    from greenml.plan.result import Plan
    from greenml.registry import Registry


def plan(
    job: Job,
    *,
    catalog: Catalog | None = None,
    carbon_sources: Sequence[str | CarbonSource] | str | None = None,
    carbon_deadline_s: float | None = None,
    carbon_data: str | None = None,
    notify: bool = True,
    now: datetime | None = None,
    registry: Registry | None = None,
) -> Plan:
    """Rank every (provider, region, offer) that can run ``job`` by kg CO2e, then cost.

    ``carbon_sources`` names the intensity sources to ask, in order (default: the embedded
    annual averages); a source that fails hands over to the next and the options say so.
    When the job gives a window (``earliest_start``, ``deadline``) or is ``interruptible``,
    every option also gets the start (or slots) that minimise its emissions over its whole
    runtime on the sources' forecasts, and is ranked on that; ``now`` fixes the present.
    ``carbon_deadline_s`` is how long each live source may take in this plan, over all its
    requests, retries and waits (default ``GREENML_CARBON_DEADLINE_S``, 30 s); past it the
    source counts as unavailable and the options that needed it say so.
    ``carbon_data`` names the annual dataset every region is measured with (default: the
    newest Electricity Maps year, see ``greenml.datasets``); a region it has no figure for
    is excluded with the reason, never filled from another dataset.
    ``registry`` is the set of installed plugins to plan with (default: the process's,
    ``greenml.registry.default()``); its catalog is the default ``catalog`` and its hooks
    hear of the plan.

    Raises InputError for a job the catalog cannot interpret (an unknown accelerator,
    provider or region, a runtime that fits no window) and NoFeasibleOption, listing each
    excluded group, when nothing fits.
    """
    from greenml.plan.compute import compute

    return compute(job, catalog=catalog, carbon_sources=carbon_sources,
                   carbon_deadline_s=carbon_deadline_s, carbon_data=carbon_data,
                   notify=notify, now=now, registry=registry)
