"""The inventory plus the live clusters: the on-prem regions and offers a plan sees.

Each site is read on its own: a site whose controller does not answer is left out with a
warning and the others are planned; when no site answers, the provider raises, and greenml
records that as a plan exclusion while the clouds are planned as usual.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import attrs

from greenml import GreenmlError, Intensity, Offer, Region

from . import cluster
from .cluster import OnpremWarning, Partition
from .inventory import Inventory, Site
from .slurm import Slurm, SlurmError


@attrs.frozen
class Discovered:
    """What one reading of the inventory and the clusters found."""

    inventory: Inventory
    regions: tuple[Region, ...] = ()
    offers: tuple[Offer, ...] = ()
    #: (site, partition, greenml accelerator) -> the partition, for launching.
    partitions: Mapping[tuple[str, str, str], Partition] = attrs.field(factory=dict)
    #: Sites left out of the plan, each with why.
    problems: tuple[str, ...] = ()


def known_accelerators() -> dict[str, str]:
    """Lower-case accelerator name or alias -> name, over every installed plugin."""
    from greenml import Accelerator, plugins

    index: dict[str, str] = {}
    for _, result, error in plugins.call_each("greenml_accelerators"):
        for acc in (result or ()) if error is None else ():
            if isinstance(acc, Accelerator):
                for key in (acc.name, *acc.aliases):
                    index.setdefault(key.lower(), acc.name)
    return index


def discover(inventory: Inventory) -> Discovered:
    """Read every site's cluster; raise when there are sites and none of them answered."""
    known = known_accelerators()
    regions: list[Region] = []
    offers: list[Offer] = []
    found: dict[tuple[str, str, str], Partition] = {}
    problems: list[str] = []
    for site in inventory.sites:
        mapping = cluster.accelerator_names(site, inventory, known)
        try:
            rows = Slurm(site).nodes()
            intensity = site_intensity(site, inventory)
        except (SlurmError, SiteIntensityError) as exc:
            problems.append(str(exc))
            continue
        regions.append(cluster.region(site, intensity))
        for partition in cluster.partitions(site, rows, mapping, known):
            found[(site.name, partition.name, partition.accelerator)] = partition
            offers.append(cluster.offer(site, partition))
    if problems and not regions:
        raise GreenmlError("; ".join(problems))
    for problem in problems:
        warnings.warn(OnpremWarning(f"left out of the plan: {problem}"), stacklevel=2)
    return Discovered(inventory, tuple(regions), tuple(offers), found, tuple(problems))


class SiteIntensityError(GreenmlError):
    """A site's carbon source gave no figure and the inventory has none to fall back on."""


def site_intensity(site: Site, inventory: Inventory) -> Intensity:
    """The site's grid intensity: its carbon source's answer, else the inventory's figure."""
    figure = None
    if site.intensity_g_per_kwh is not None:
        figure = Intensity(site.intensity_g_per_kwh, site.intensity_source, site.intensity_year,
                           signal="average", kind="annual", zone=site.grid_zone)
    if not site.carbon_source:
        assert figure is not None, "the inventory requires one or the other"
        return figure
    source = _carbon_source(site, inventory)
    ok, reason = source.check_credentials()
    answer = None
    if ok:
        from greenml import CarbonSourceError

        placeholder = figure or Intensity(0.0, "none yet: the carbon source is being asked")
        try:
            answer = source.intensity(cluster.region(site, placeholder))
        except CarbonSourceError as exc:
            reason = str(exc)
    if answer is not None and answer.signal == "average":
        return attrs.evolve(answer, zone=answer.zone or site.grid_zone)
    reason = reason or "no figure for this site"
    if figure is not None:
        warnings.warn(OnpremWarning(f"onprem site {site.name!r}: carbon source "
                                    f"{site.carbon_source!r} did not answer ({reason}); using "
                                    f"the inventory's {figure.g_per_kwh:g} g/kWh"), stacklevel=3)
        return figure
    raise SiteIntensityError(f"onprem site {site.name!r}: carbon source {site.carbon_source!r} "
                             f"gave no intensity ({reason}) and the inventory has no "
                             "intensity_g_per_kwh to fall back on")


def _carbon_source(site: Site, inventory: Inventory):  # -> greenml.CarbonSource
    from greenml import CarbonSource, plugins

    field = f"{site.field_prefix}.carbon_source"
    if site.carbon_source == "embedded":
        raise inventory.error(field, "'embedded' has no figure for an on-prem site: give "
                              "intensity_g_per_kwh instead")
    sources: dict[str, CarbonSource] = {}
    for _, result, error in plugins.call_each("greenml_carbon_sources"):
        for source in (result or ()) if error is None else ():
            if isinstance(source, CarbonSource):
                sources.setdefault(source.name, source)
    source = sources.get(site.carbon_source)
    if source is None:
        raise inventory.error(field, f"unknown carbon source {site.carbon_source!r}; "
                              f"installed: {', '.join(sorted(sources)) or 'none'}")
    if source.signal != "average":
        raise inventory.error(field, f"{source.name!r} gives {source.signal} figures; a site's "
                              "figure must be an average one (plan with --carbon-source "
                              f"{source.name} to rank by {source.signal} figures)")
    return source
