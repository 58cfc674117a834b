"""What a site offers, as its cluster reports it: partitions, GPU types and counts per node.

``sinfo`` says which nodes each partition has, their GRES (``gpu:a100:2(S:0-1)``) and state;
the inventory says which greenml accelerator a GRES type is. Each (partition, GPU type)
becomes one greenml Offer: one instance is one node, ``max_instances`` the partition's
usable nodes of that type, so the planner excludes a job larger than the partition.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence

import attrs

from greenml import PUE, Offer, Region
from greenml.provider import closest
from greenml_onprem.inventory import Inventory, Site

PROVIDER = "onprem"
#: Node states (sinfo %T, flags stripped) in which a node cannot take a job.
UNUSABLE_STATES = frozenset({
    "down", "drained", "draining", "drain", "fail", "failing", "inval", "future", "unknown",
    "maint", "reboot_issued", "reboot_requested", "not_responding",
})
PRICE_BASIS = "internal price per accelerator-hour from the on-prem inventory"


class OnpremWarning(UserWarning):
    """Something in a site was left out of the plan (an unmapped GPU type, a dead cluster)."""


@attrs.frozen
class Partition:
    """One (partition, GPU type) of a site: what one node has, and how many nodes there are."""

    site: str
    name: str
    gres_type: str
    accelerator: str
    gpus_per_node: int
    nodes: int
    cpus_per_node: float | None = None
    memory_gb_per_node: float | None = None

    def gres(self, gpus: int | None = None) -> str:
        """The ``--gres`` value asking for ``gpus`` (default: all) of this type on each node."""
        count = self.gpus_per_node if gpus is None else gpus
        return f"gpu:{self.gres_type}:{count}" if self.gres_type else f"gpu:{count}"


def parse_gres(text: str) -> dict[str, int]:
    """GPU type -> count per node from sinfo's GRES text (``gpu:a100:2(S:0-1),gpu:1,mps:100``);
    an untyped GPU count is under ""."""
    out: dict[str, int] = {}
    for item in re.split(r",(?![^(]*\))", text or ""):
        item = re.sub(r"\(.*?\)", "", item).strip()
        parts = item.split(":")
        if parts[0] != "gpu" or len(parts) < 2:
            continue
        counts = [p for p in parts[1:] if p.isdigit()]
        names = [p for p in parts[1:] if not p.isdigit() and p != "no_consume"]
        if not counts:
            continue
        gpu_type = names[0] if names else ""
        out[gpu_type] = out.get(gpu_type, 0) + int(counts[-1])
    return out


def usable(state: str) -> bool:
    base = state.strip().lower().rstrip("*~#!%$@^-+")
    return bool(base) and base not in UNUSABLE_STATES and not state.strip().endswith("*")


def accelerator_names(site: Site, inventory: Inventory, known: Mapping[str, str]
                      ) -> dict[str, str]:
    """GRES type -> greenml accelerator name from the inventory, each checked against ``known``
    (lower-case name or alias -> name); "" is the type of untyped GPUs."""
    mapping: dict[str, str] = {}
    wanted = [(f"{site.field_prefix}.gres_types.{t}", t, a) for t, a in site.gres_types]
    if site.gpu_without_type:
        wanted.append((f"{site.field_prefix}.gpu_without_type", "", site.gpu_without_type))
    for field, gres_type, name in wanted:
        canonical = known.get(name.lower())
        if canonical is None:
            hints = closest(name, sorted(set(known.values())), n=1)
            raise inventory.error(field, f"unknown accelerator {name!r}" + (
                f" (did you mean {hints[0]!r}?)" if hints else "; see 'greenml accelerators'"))
        mapping[gres_type] = canonical
    return mapping


def partitions(site: Site, rows: Sequence[Mapping[str, str]], mapping: Mapping[str, str],
               known: Mapping[str, str]) -> list[Partition]:
    """The site's (partition, GPU type) pairs from sinfo's node rows.

    A node counts when its state can take a job and its partition is up (and listed in the
    inventory's ``partitions``, when it has one). One node holds ``gpus_per_node`` GPUs of a
    type: the fewest any of the partition's nodes with that type has, so a request for that
    many fits every one of them.
    """
    by_partition: dict[str, dict[str, Mapping[str, str]]] = {}
    for row in rows:
        name = row.get("partition", "")
        if not name or (site.partitions and name not in site.partitions):
            continue
        if row.get("available", "up") != "up" or not usable(row.get("state", "")):
            continue
        by_partition.setdefault(name, {})[row.get("node", "")] = row
    out: list[Partition] = []
    for name, nodes in sorted(by_partition.items()):
        per_type: dict[str, list[tuple[int, Mapping[str, str]]]] = {}
        for row in nodes.values():
            for gres_type, count in parse_gres(row.get("gres", "")).items():
                if count > 0:
                    per_type.setdefault(gres_type, []).append((count, row))
        for gres_type, members in sorted(per_type.items()):
            accelerator = mapping.get(gres_type) or known.get(gres_type.lower())
            if accelerator is None:
                warnings.warn(OnpremWarning(
                    f"onprem site {site.name!r}, partition {name!r}: GPU type "
                    f"{gres_type or '(untyped)'!r} is not a greenml accelerator; map it in "
                    f"{site.field_prefix}." + (f"gres_types.{gres_type}" if gres_type
                                               else "gpu_without_type")), stacklevel=2)
                continue
            out.append(Partition(
                site=site.name, name=name, gres_type=gres_type, accelerator=accelerator,
                gpus_per_node=min(count for count, _ in members), nodes=len(members),
                cpus_per_node=_least(row.get("cpus", "") for _, row in members),
                memory_gb_per_node=_gb(_least(row.get("memory_mb", "") for _, row in members)),
            ))
    return out


def _least(values: Iterable[str]) -> float | None:
    numbers = [float(v) for v in values if re.fullmatch(r"\d+(\.\d+)?", str(v).strip())]
    return min(numbers) if numbers else None


def _gb(megabytes: float | None) -> float | None:
    return None if megabytes is None else round(megabytes / 1024, 1)


def region(site: Site) -> Region:
    """The site as a region; greenml fills its intensity from its grid zone in the dataset."""
    return Region(
        provider=PROVIDER, name=site.name, location=site.location, country=site.country,
        pue=PUE(site.pue, site.pue_source, site.pue_year),
        latitude=site.latitude, longitude=site.longitude, grid_zone=site.grid_zone,
    )


def offer(site: Site, partition: Partition) -> Offer:
    """One node of a partition as a greenml offer; priced when the site has an internal price."""
    price = site.usd_per_accelerator_hour
    return Offer(
        provider=PROVIDER, region=site.name, instance_type=partition.name,
        accelerator=partition.accelerator,
        accelerators_per_instance=partition.gpus_per_node,
        vcpus=partition.cpus_per_node, memory_gb=partition.memory_gb_per_node,
        ondemand_usd_per_hour=None if price is None else price * partition.gpus_per_node,
        price_basis=PRICE_BASIS if price is not None else "",
        price_source=(site.price_source or "internal price from the on-prem inventory")
        if price is not None else "",
        price_date=site.price_year,
        max_instances=partition.nodes,
    )
