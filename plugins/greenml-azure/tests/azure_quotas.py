"""Compute usages (vCPU quotas per VM family and location) for arm_fake, as ARM serves them.

    GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{l}/usages

answers ``{"value": [{"unit": "Count", "currentValue", "limit", "name": {"value",
"localizedValue"}}]}``: the regional totals (``cores``, ``lowPriorityCores``) and one entry
per VM family a test sets. ``FAMILIES`` is each catalog size's family as the resource-SKU
list names it (``family``), which is how a usage is tied to its VM sizes.
"""

from __future__ import annotations

import re
from typing import Any

#: VM size pattern -> the family the resource SKUs name (Azure's own spellings).
FAMILIES: list[tuple[str, str]] = [
    (r"^Standard_NC\d+r?s_v3$", "standardNCSv3Family"),
    (r"^Standard_NC\d+ads_A10_v4$", "StandardNCADSA10v4Family"),
    (r"^Standard_NC\d+as_T4_v3$", "standardNCASv3_T4Family"),
    (r"^Standard_NC\d+ads_A100_v4$", "StandardNCADSA100v4Family"),
    (r"^Standard_NC\d+adi?s_H100_v5$", "standardNCadsH100v5Family"),
    (r"^Standard_NCC\d+ads_H100_v5$", "standardNCCadsH100v5Family"),
    (r"^Standard_ND40rs_v2$", "standardNDSv2Family"),
    (r"^Standard_ND96asr_v4$", "standardNDASv4_A100Family"),
    (r"^Standard_ND96amsr_A100_v4$", "standardNDAMSv4_A100Family"),
    (r"^Standard_ND96isr_H100_v5$", "standardNDSH100v5Family"),
    (r"^Standard_ND96isr_H200_v5$", "standardNDSH200v5Family"),
    (r"^Standard_ND96isr_MI300X_v5$", "standardNDISRMI300Xv5Family"),
    (r"^Standard_NV\d+s_v3$", "standardNVSv3Family"),
    (r"^Standard_NV\d+as_v4$", "standardNVASv4Family"),
    (r"^Standard_NV\d+adm?s_A10_v5$", "StandardNVADSA10v5Family"),
]
TOTALS = {"cores": "Total Regional vCPUs", "lowPriorityCores": "Total Regional Low-priority vCPUs"}


def family_of(size: str) -> str:
    """The resource-SKU family of a VM size (``Standard_ND96asr_v4`` ->
    ``standardNDASv4_A100Family``)."""
    for pattern, family in FAMILIES:
        if re.match(pattern, size):
            return family
    return "standard" + size.removeprefix("Standard_").replace("_", "") + "Family"


def usages(held: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The usage list of one location: ``held`` maps a usage name to (limit, current)."""
    names = {**{k: (100.0, 0.0) for k in TOTALS}, **held}
    return {"value": [
        {"unit": "Count", "currentValue": int(current), "limit": int(limit),
         "name": {"value": name, "localizedValue": TOTALS.get(name, _localized(name))}}
        for name, (limit, current) in names.items()]}


def _localized(family: str) -> str:
    core = family[len("standard"):] if family.lower().startswith("standard") else family
    return f"Standard {core.removesuffix('Family')} Family vCPUs"
