"""The shared ground VMs stand on: a resource group and a virtual network with one subnet.

Both are created once per region (resource group ``greenml-<region>``, VNet
``greenml-vnet-<region>`` with subnet ``default``) and reused by every later launch, so they
carry no launch's tags and ``greenml down`` leaves them: they cost nothing in Azure, and
another live launch may stand on them. A user's own subnet (``subnet_id``) is used as is.
Each is made under a lock the caller holds for it (``ArmClients.ground_lock``), so that a
gang's members create it once, not in a race.
"""

from __future__ import annotations

import threading
from typing import Any

from greenml_azure.arm import wait

VNET_PREFIX = "10.42.0.0/16"
SUBNET_PREFIX = "10.42.0.0/20"
SUBNET_NAME = "default"
#: Marks what greenml created for every launch to share (found with this tag, kept on down).
SHARED_TAGS = {"greenml-shared": "true"}


def vnet_name(region: str) -> str:
    return f"greenml-vnet-{region}"


def ensure_resource_group(client: Any, group: str, region: str, lock: threading.Lock) -> None:
    """Create the resource group in ``region`` unless it exists (anywhere: ARM allows a
    group's resources to live in other regions than the group's own metadata)."""
    from azure.core.exceptions import ResourceNotFoundError

    with lock:
        try:
            client.resource_groups.get(group)
        except ResourceNotFoundError:
            client.resource_groups.create_or_update(
                group, {"location": region, "tags": SHARED_TAGS})


def ensure_subnet(client: Any, group: str, region: str, deadline_s: float,
                  lock: threading.Lock) -> str:
    """The id of subnet ``default`` of this region's greenml VNet, creating what is missing."""
    from azure.core.exceptions import ResourceNotFoundError

    vnet = vnet_name(region)
    with lock:
        try:
            return str(client.subnets.get(group, vnet, SUBNET_NAME).id)
        except ResourceNotFoundError:
            pass
        try:
            client.virtual_networks.get(group, vnet)
        except ResourceNotFoundError:
            body = {"location": region, "tags": SHARED_TAGS, "properties": {
                "addressSpace": {"addressPrefixes": [VNET_PREFIX]},
                "subnets": [{"name": SUBNET_NAME,
                             "properties": {"addressPrefix": SUBNET_PREFIX}}]}}
            made = wait(client.virtual_networks.begin_create_or_update(group, vnet, body),
                        f"virtual network {vnet}", deadline_s)
            return str(next(s.id for s in made.subnets if s.name == SUBNET_NAME))
        subnet = wait(client.subnets.begin_create_or_update(
            group, vnet, SUBNET_NAME, {"properties": {"addressPrefix": SUBNET_PREFIX}}),
            f"subnet {vnet}/{SUBNET_NAME}", deadline_s)
        return str(subnet.id)
