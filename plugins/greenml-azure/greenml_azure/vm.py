"""What one GPU VM of a launch is: its names, the SKU check, and the ARM JSON of its public
IP, NIC and VM; pure, no SDK, no I/O (the ``Azure`` provider makes the calls).

Every request body is the documented ARM JSON (what ``az vm create`` sends), handed to the
real SDK clients as a dict, so what greenml asks for is plain to read and to test. Names come
from the launch's idempotency token, so a retried create PUTs the same resources again and
ARM answers with what exists instead of making a second VM.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import attrs

from greenml.provider import InstanceRequest
from greenml.provider.boot import for_request
from greenml_azure.boot import AZURE
from greenml_azure.config import Target
from greenml_azure.failures import SkuUnavailable
from greenml_azure.network import SUBNET_NAME, vnet_name
from greenml_azure.settings import AzureSettings

#: Managed disk type for the OS disk: StandardSSD works on every size greenml plans.
OS_DISK_TYPE = "StandardSSD_LRS"
#: Tag on a VM's NIC, public IP and OS disk naming the VM they were made for.
TAG_VM = "greenml-vm"


@attrs.frozen
class Names:
    """The names of what one instance request creates (stable across retries)."""

    vm: str
    nic: str
    ip: str
    disk: str


def names(request: InstanceRequest) -> Names:
    digest = hashlib.sha256(request.token.encode()).hexdigest()[:6]
    vm = f"{request.instance_name}-{digest}"
    return Names(vm=vm, nic=f"{vm}-nic", ip=f"{vm}-ip", disk=f"{vm}-osdisk")


VM_TYPE = "Microsoft.Compute/virtualMachines"
NIC_TYPE = "Microsoft.Network/networkInterfaces"
IP_TYPE = "Microsoft.Network/publicIPAddresses"
DISK_TYPE = "Microsoft.Compute/disks"


def arm_id(subscription: str, group: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{rtype}/{name}"


def custom_data(request: InstanceRequest) -> str:
    """Custom data: greenml's boot script, which cloud-init runs once at first boot."""
    return base64.b64encode(for_request(request, AZURE).encode()).decode("ascii")


def ip_body(request: InstanceRequest, n: Names) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location": request.option.region.name,
        "tags": {**request.tags, TAG_VM: n.vm},
        "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"},
    }
    if request.zone:
        body["zones"] = [request.zone]
    return body


def nic_body(request: InstanceRequest, n: Names, subnet_id: str,
             ip_id: str | None) -> dict[str, Any]:
    ip_config: dict[str, Any] = {"subnet": {"id": subnet_id},
                                 "privateIPAllocationMethod": "Dynamic"}
    if ip_id:
        ip_config["publicIPAddress"] = {"id": ip_id, "properties": {"deleteOption": "Delete"}}
    return {
        "location": request.option.region.name,
        "tags": {**request.tags, TAG_VM: n.vm},
        "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": ip_config}]},
    }


def vm_body(request: InstanceRequest, settings: AzureSettings, target: Target, n: Names,
            nic_id: str) -> dict[str, Any]:
    """The VM: the offer's size, the image, ssh-only login, the command as custom data, and
    delete options that take the NIC, OS disk and public IP with the VM. Unless the launch
    keeps it, a system-assigned managed identity, with which it deletes itself when its
    command exits (``greenml_azure.boot``; greenml grants the role, ``gang.grant``)."""
    option = request.option
    properties: dict[str, Any] = {
        "hardwareProfile": {"vmSize": option.offer.instance_type},
        "storageProfile": {
            "imageReference": settings.image.to_arm(),
            "osDisk": {"name": n.disk, "createOption": "FromImage", "deleteOption": "Delete",
                       "managedDisk": {"storageAccountType": OS_DISK_TYPE}},
        },
        "osProfile": {
            "computerName": n.vm,
            "adminUsername": settings.admin_username,
            "customData": custom_data(request),
            "linuxConfiguration": {
                "disablePasswordAuthentication": True,
                "ssh": {"publicKeys": [{
                    "path": f"/home/{settings.admin_username}/.ssh/authorized_keys",
                    "keyData": target.ssh_public_key}]},
            },
        },
        "networkProfile": {"networkInterfaces": [
            {"id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}]},
        # the serial console, for greenml logs: managed storage (no storageUri, no account)
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
    }
    if option.spot:
        properties.update(priority="Spot", evictionPolicy="Delete",
                          billingProfile={"maxPrice": -1})
    body: dict[str, Any] = {"location": option.region.name, "tags": dict(request.tags),
                            "properties": properties}
    if not request.keep:
        body["identity"] = {"type": "SystemAssigned"}
    if request.zone:
        body["zones"] = [request.zone]
    return body


def check_sku(skus: dict[str, list[dict[str, Any]]], size: str, location: str,
              zone: str | None) -> None:
    """Raise ``SkuUnavailable`` if the location's resource-SKU list (size, lower-case ->
    restrictions) rules this size out here, before anything is created for it."""
    entry = skus.get(size.lower())
    if entry is None:
        raise SkuUnavailable(size, location, "not offered there")
    for restriction in entry:
        kind = str(restriction.get("type", ""))
        reason = str(restriction.get("reasonCode") or "restricted")
        info = restriction.get("restrictionInfo") or {}
        if kind == "Location" and location.lower() in {
                str(v).lower() for v in restriction.get("values") or []}:
            raise SkuUnavailable(size, location, reason)
        if kind == "Zone" and zone and zone in (info.get("zones") or []):
            raise SkuUnavailable(size, location, reason, zone)


def describe(request: InstanceRequest, settings: AzureSettings, target: Target) -> str:
    """The dry-run line: what would be created, where and from what; calls nothing."""
    option = request.option
    region = option.region.name
    n = names(request)
    subnet = settings.subnet_id or f"{vnet_name(region)}/{SUBNET_NAME} (created if missing)"
    market = "Spot, evicted = deleted" if option.spot else "regular priority"
    key = (f"{target.ssh_public_key.split()[0]} key from {target.ssh_key_source}"
           if target.ssh_public_key else "no ssh key found (set ssh_public_key_file)")
    ip = f", public IP {n.ip}" if settings.public_ip else ""
    return (f"azure: VM {n.vm} {option.offer.instance_type} ({market}) in {region}"
            + (f" zone {request.zone}" if request.zone else "")
            + f", subscription {target.subscription_id or 'not set (AZURE_SUBSCRIPTION_ID)'}, "
            f"resource group {target.resource_group}; NIC {n.nic} in subnet {subnet}{ip}; OS "
            f"disk {n.disk} ({OS_DISK_TYPE}); image {settings.image}; admin "
            f"{settings.admin_username} with {key}; NIC, disk and IP are deleted with the VM; "
            + ("kept when its command exits; " if request.keep else
               "deletes itself when its command exits (managed identity, Virtual Machine "
               "Contributor on itself); ")
            + f"tags {dict(sorted(request.tags.items()))}")
