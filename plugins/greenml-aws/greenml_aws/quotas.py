"""EC2 GPU quotas through AWS Service Quotas, converted from vCPUs to accelerators.

EC2 states its on-demand and spot quotas in vCPUs per group of instance families ("Running
On-Demand P instances", L-417A185B; "Running On-Demand G and VT instances", L-DB2E81BA; "All
P Spot Instance Requests", ...), not in GPUs. A quota of 384 vCPUs holds four p4d.24xlarge
(96 vCPUs, 8 A100 each): 32 A100, or two p5.48xlarge (192 vCPUs, 8 H100): 16 H100. So each
quota becomes, per accelerator family in the region, the most accelerators whole instances
of that family's types can hold, using the vCPU and accelerator counts of the plugin's own
offers. The families of one group share the vCPUs: the fleet's limits state each family's
most, not their sum. The quotas are found by their documented names (codes differ between
the P groups over time), read with ``ListServiceQuotas`` for service code ``ec2``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from greenml.fleet.quotas import family
from greenml.model import Offer
from greenml.provider import Quota

SERVICE_CODE = "ec2"
#: The names of EC2's vCPU quotas per group of instance families, on-demand and spot.
_ON_DEMAND = re.compile(r"^Running On-Demand (?P<group>.+) instances$")
_SPOT = re.compile(r"^All (?P<group>.+) Spot Instance Requests$")


def read(client: Callable[[str], Any], offers: Iterable[Offer],
         regions: Sequence[str]) -> list[Quota]:
    """The GPU quotas in each of ``regions``; ``client(region)`` gives a Service Quotas
    client for that region."""
    by_region: dict[str, list[Offer]] = {}
    for offer in offers:
        by_region.setdefault(offer.region, []).append(offer)
    out: list[Quota] = []
    for region in regions:
        here = by_region.get(region, [])
        if not here:
            continue
        pages = client(region).get_paginator("list_service_quotas").paginate(
            ServiceCode=SERVICE_CODE)
        for page in pages:
            for quota in page.get("Quotas", []):
                out.extend(convert(region, quota, here))
    return out


def convert(region: str, quota: dict[str, Any], offers: Sequence[Offer]) -> list[Quota]:
    """One Service Quotas ``ServiceQuota`` as accelerator quotas, one per family its
    instance families carry in ``offers``; none for a quota on no GPU instance family."""
    name = str(quota.get("QuotaName", ""))
    match = _ON_DEMAND.match(name) or _SPOT.match(name)
    if match is None or quota.get("Value") is None:
        return []
    prefixes = group_prefixes(match["group"])
    vcpus = float(quota["Value"])
    best: dict[str, tuple[int, Offer]] = {}  # family -> (accelerators, the offer that holds them)
    for offer in offers:
        if not offer.vcpus or not in_group(offer.instance_type, prefixes):
            continue
        held = int(vcpus // offer.vcpus) * offer.accelerators_per_instance
        key = family(offer.accelerator)
        if key not in best or held > best[key][0]:
            best[key] = (held, offer)
    code = str(quota.get("QuotaCode", ""))
    out = []
    for key, (held, offer) in sorted(best.items()):
        source = (f"AWS Service Quotas {code} ({name}: {vcpus:g} vCPUs; "
                  f"{offer.instance_type}: {offer.vcpus:g} vCPUs, "
                  f"{offer.accelerators_per_instance} {offer.accelerator})")
        out.append(Quota("aws", region, key, held, None, match.re is _SPOT, source))
    return out


def group_prefixes(group: str) -> list[str]:
    """``"G and VT"`` -> ``["g", "vt"]``, ``"P4, P3 and P2"`` -> ``["p4", "p3", "p2"]``; the
    Standard group (``"Standard (A, C, ...)"``) carries no accelerators: none."""
    if "(" in group:
        return []
    return [p.strip().lower() for p in re.split(r",| and ", group) if p.strip()]


def in_group(instance_type: str, prefixes: Sequence[str]) -> bool:
    """Whether an instance type's family (``p4d`` of ``p4d.24xlarge``) is in the group: a
    prefix ending in a digit (``p5``) matches its generations' variants (``p5en``); a prefix
    of letters (``p``, ``inf``) matches the families whose letters are exactly it
    (``p6-b200``, ``inf2``; Graviton ``gr6`` is a G instance)."""
    kind = instance_type.split(".", 1)[0].lower()
    letters = re.match(r"[a-z]*", kind)
    head = letters.group() if letters else ""
    for prefix in prefixes:
        if prefix[-1].isdigit():
            if kind.startswith(prefix):
                return True
        elif head == prefix or (prefix == "g" and head == "gr"):
            return True
    return False
