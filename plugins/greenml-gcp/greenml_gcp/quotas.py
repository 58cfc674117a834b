"""Compute Engine GPU quotas: per region (``NVIDIA_A100_GPUS``, ``PREEMPTIBLE_NVIDIA_A100_GPUS``)
and per project (``GPUS_ALL_REGIONS``), read through google-cloud-compute.

Compute Engine states GPU quotas in GPUs already, one metric per GPU model, so no conversion
is needed beyond naming: ``NVIDIA_A100_80GB_GPUS`` limits the ``A100-80GB`` only (the 40 GB
A100 has its own), ``NVIDIA_H100_MEGA_GPUS`` (A3 Mega) is an H100 quota. ``GPUS_ALL_REGIONS``
caps every GPU of the project at once: the provider's total. Preemptible (Spot) GPUs have
their own regional metrics. Metrics for a GPU the catalog does not offer are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from greenml.provider import Quota

_METRIC = re.compile(r"^(?P<spot>PREEMPTIBLE_)?NVIDIA_(?P<gpu>[A-Z0-9_]+?)_GPUS$")
#: Metric names that are not the catalog's accelerator name with dashes.
_ALIASES = {"H100-MEGA": "H100", "TESLA-T4": "T4"}
TOTAL = "GPUS_ALL_REGIONS"


def read(project: str, regions: Sequence[str] | None, names: Iterable[str],
         known_regions: Iterable[str], client: Any) -> list[Quota]:
    """The GPU quotas of ``project`` in ``regions`` (None: every region of the catalog, in
    one ``regions.list``), plus ``GPUS_ALL_REGIONS``; ``client(kind)`` gives a
    ``RegionsClient`` ("regions") or ``ProjectsClient`` ("projects")."""
    accelerators = {n.lower(): n for n in names}
    regions_client = client("regions")
    if regions is None:
        wanted = set(known_regions)
        found = [r for r in regions_client.list(project=project) if r.name in wanted]
    else:
        found = [regions_client.get(project=project, region=r) for r in regions]
    out = []
    for region in found:
        for q in region.quotas:
            quota = convert(project, region.name, q.metric, q.limit, q.usage, accelerators)
            if quota is not None:
                out.append(quota)
    for q in client("projects").get(project=project).quotas:
        if q.metric == TOTAL and q.limit >= 0:
            out.append(Quota("gcp", "", "", int(q.limit), int(q.usage), False,
                             f"Compute Engine quota {TOTAL} (project {project})"))
    return out


def convert(project: str, region: str, metric: str, limit: float, usage: float,
            accelerators: dict[str, str]) -> Quota | None:
    """One regional quota as a Quota, or None where it is no GPU the catalog offers."""
    match = _METRIC.match(metric)
    if match is None or limit < 0:
        return None
    gpu = match["gpu"].replace("_", "-")
    name = accelerators.get(_ALIASES.get(gpu, gpu).lower())
    if name is None:
        return None
    return Quota("gcp", region, name, int(limit), int(usage), bool(match["spot"]),
                 f"Compute Engine quota {metric} (project {project}, region {region})")
