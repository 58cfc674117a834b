"""The inventory plus the live clusters: the on-prem regions and offers a plan sees.

Each site is read on its own: a site whose controller does not answer is left out with a
warning and the others are planned; when no site answers, the provider raises, and greenml
records that as a plan exclusion while the clouds are planned as usual.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import attrs

from greenml import GreenmlError, Offer, Region
from greenml_onprem import cluster
from greenml_onprem.cluster import OnpremWarning, Partition
from greenml_onprem.inventory import Inventory
from greenml_onprem.slurm import Slurm, SlurmError


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
    from greenml import Accelerator, registry

    index: dict[str, str] = {}
    for _, result, error in registry.default().call_each("greenml_accelerators"):
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
        except SlurmError as exc:
            problems.append(str(exc))
            continue
        regions.append(cluster.region(site))
        for partition in cluster.partitions(site, rows, mapping, known):
            found[(site.name, partition.name, partition.accelerator)] = partition
            offers.append(cluster.offer(site, partition))
    if problems and not regions:
        raise GreenmlError("; ".join(problems))
    for problem in problems:
        warnings.warn(OnpremWarning(f"left out of the plan: {problem}"), stacklevel=2)
    return Discovered(inventory, tuple(regions), tuple(offers), found, tuple(problems))
