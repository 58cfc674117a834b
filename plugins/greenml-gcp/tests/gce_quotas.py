"""Compute Engine quotas for gce_fake, in the documented v1 REST shapes.

    GET /compute/v1/projects/{p}                (Project: quotas such as GPUS_ALL_REGIONS)
    GET /compute/v1/projects/{p}/regions        (RegionList: each Region with its quotas)
    GET /compute/v1/projects/{p}/regions/{r}    (Region: quotas such as NVIDIA_A100_GPUS)

A quota is ``{"metric", "limit", "usage"}`` (numbers as doubles, as Google sends them). The
regions are those of the fake's zones; a test sets the GPU quotas it needs, every region
also carries CPUS so that a region's list is never only GPUs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

API = "https://www.googleapis.com/compute/v1"
ROUTE = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)"
                   r"(?:/(?P<regions>regions)(?:/(?P<region>[^/]+))?)?$")


class QuotaBook:
    """Region and project quotas: (region or "" for the project, metric) -> (limit, usage)."""

    def __init__(self, zones: Iterable[str]) -> None:
        self.regions = sorted({z.rsplit("-", 1)[0] for z in zones})
        self.quotas: dict[tuple[str, str], tuple[float, float]] = {}

    def set(self, metric: str, limit: float, usage: float = 0.0, region: str = "") -> None:
        """A quota of ``region`` ("" : of the project, as GPUS_ALL_REGIONS is)."""
        if region and region not in self.regions:
            raise ValueError(f"the fake has no region {region!r}: {self.regions}")
        self.quotas[(region, metric)] = (float(limit), float(usage))

    def method(self, route: re.Match[str]) -> str:
        if not route["regions"]:
            return "projects.get"
        return "regions.get" if route["region"] else "regions.list"

    def answer(self, project: str, route: re.Match[str]) -> dict[str, Any]:
        """The Project, Region or RegionList the route asks for; KeyError: no such region."""
        if not route["regions"]:
            return {"kind": "compute#project", "id": "4242", "name": project,
                    "selfLink": f"{API}/projects/{project}",
                    "quotas": self._quotas("", project)}
        if route["region"]:
            return self._region(project, route["region"])
        return {"kind": "compute#regionList", "id": f"projects/{project}/regions",
                "items": [self._region(project, r) for r in self.regions],
                "selfLink": f"{API}/projects/{project}/regions"}

    def _region(self, project: str, name: str) -> dict[str, Any]:
        if name not in self.regions:
            raise KeyError(name)
        zones = [f"{API}/projects/{project}/zones/{name}-{s}" for s in "abc"]
        return {"kind": "compute#region", "id": str(1000 + self.regions.index(name)),
                "name": name, "status": "UP", "zones": zones,
                "selfLink": f"{API}/projects/{project}/regions/{name}",
                "quotas": [{"metric": "CPUS", "limit": 2400.0, "usage": 0.0},
                           *self._quotas(name, project)]}

    def _quotas(self, region: str, project: str) -> list[Mapping[str, Any]]:
        owner = f"projects/{project}" + (f"/regions/{region}" if region else "")
        return [{"metric": metric, "limit": limit, "usage": usage, "owner": owner}
                for (r, metric), (limit, usage) in sorted(self.quotas.items()) if r == region]
