"""Azure GPU quotas: compute usages per VM family and location, converted from vCPUs to
accelerators.

Azure states its VM quotas in vCPUs per VM family and location (``standardNDASv4_A100Family``:
limit and current value), and Spot capacity as one regional total (``lowPriorityCores``). A
usage names a family, not a size, so the location's resource SKUs (their ``family``) tie it
to the catalog's VM sizes; each size's vCPU and accelerator counts (the plugin's offers) turn
vCPUs into whole VMs and those into accelerators, the most any size of the accelerator
family reaches. Spot: every GPU size of the location shares the low-priority vCPUs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenml.fleet.quotas import family
from greenml.model import Offer
from greenml.provider import Quota

SPOT_USAGE = "lowPriorityCores"


def read(compute: Any, subscription: str, offers: Sequence[Offer],
         locations: Sequence[str]) -> list[Quota]:
    """The GPU quotas of ``subscription`` in each of ``locations``; ``compute`` is its
    ``ComputeManagementClient``."""
    out: list[Quota] = []
    for location in locations:
        here = [o for o in offers if o.region == location and o.vcpus]
        if not here:
            continue
        sizes = {str(o.instance_type).lower() for o in here}
        families: dict[str, set[str]] = {}  # usage name (lower-case) -> sizes
        for sku in compute.resource_skus.list(filter=f"location eq '{location}'"):
            name = str(sku.name).lower()
            if str(sku.resource_type).lower() == "virtualmachines" and sku.family and (
                    name in sizes):
                families.setdefault(str(sku.family).lower(), set()).add(name)
        for usage in compute.usage.list(location):
            key = str(usage.name.value)
            if key.lower() == SPOT_USAGE.lower():
                chosen, spot = here, True
            elif key.lower() in families:
                chosen = [o for o in here if o.instance_type.lower() in families[key.lower()]]
                spot = False
            else:
                continue
            out.extend(convert(subscription, location, key, float(usage.limit),
                               float(usage.current_value or 0), chosen, spot))
    return out


def convert(subscription: str, location: str, name: str, limit_vcpus: float,
            used_vcpus: float, offers: Sequence[Offer], spot: bool) -> list[Quota]:
    """One usage's vCPUs as accelerators, per accelerator family its sizes carry."""
    best: dict[str, tuple[int, int, Offer]] = {}
    for offer in offers:
        assert offer.vcpus  # read() keeps only offers that state their vCPUs
        held = int(limit_vcpus // offer.vcpus) * offer.accelerators_per_instance
        used = int(used_vcpus * offer.accelerators_per_instance // offer.vcpus)
        key = family(offer.accelerator)
        if key not in best or held > best[key][0]:
            best[key] = (held, used, offer)
    out = []
    for key, (held, used, offer) in sorted(best.items()):
        source = (f"Azure compute usage {name} ({location}: {limit_vcpus:g} vCPUs; "
                  f"{offer.instance_type}: {offer.vcpus:g} vCPUs, "
                  f"{offer.accelerators_per_instance} {offer.accelerator})")
        out.append(Quota("azure", location, key, held, used, spot, source))
    return out
