"""Creating one GPU VM of a launch: SKU check, shared network, NIC (and public IP), the VM.

Every request body is the documented ARM JSON (what ``az vm create`` sends), handed to the
real SDK clients as a dict, so what greenml asks for is plain to read and to test. Names come
from the launch's idempotency token, so a retried create PUTs the same resources again and
ARM answers with what exists instead of making a second VM.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Any

import attrs

from greenml import InstanceRequest, Journal, Resource
from greenml.provider import boot_script

from . import arm, config, network
from .failures import SkuUnavailable

#: Managed disk type for the OS disk: StandardSSD works on every size greenml plans.
OS_DISK_TYPE = "StandardSSD_LRS"
#: Tag on a VM's NIC, public IP and OS disk naming the VM they were made for.
TAG_VM = "greenml-vm"
#: How long a location's resource-SKU list is trusted (it is large and changes rarely).
SKU_CACHE_S = 600.0

_sku_lock = threading.Lock()


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


def planned_id(request: InstanceRequest) -> str:
    """The VM's ARM id, known before anything is created: greenml names everything itself.
    With it in the ledger, ``down`` after a crash does not wait for ARM's lagging tag search."""
    cfg = config.resolve(request.settings, request.option.region.name)
    return arm_id(cfg.subscription_id, cfg.resource_group, VM_TYPE, names(request).vm)


def custom_data(run: str) -> str:
    """Custom data: greenml's boot script, which cloud-init runs once at first boot."""
    return base64.b64encode(boot_script(run).encode()).decode("ascii")


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


def vm_body(request: InstanceRequest, cfg: config.AzureSettings, n: Names,
            nic_id: str) -> dict[str, Any]:
    """The VM: the offer's size, the image, ssh-only login, the command as custom data, and
    delete options that take the NIC, OS disk and public IP with the VM."""
    option = request.option
    properties: dict[str, Any] = {
        "hardwareProfile": {"vmSize": option.offer.instance_type},
        "storageProfile": {
            "imageReference": cfg.image.to_arm(),
            "osDisk": {"name": n.disk, "createOption": "FromImage", "deleteOption": "Delete",
                       "managedDisk": {"storageAccountType": OS_DISK_TYPE}},
        },
        "osProfile": {
            "computerName": n.vm,
            "adminUsername": cfg.admin_username,
            "customData": custom_data(request.run),
            "linuxConfiguration": {
                "disablePasswordAuthentication": True,
                "ssh": {"publicKeys": [{
                    "path": f"/home/{cfg.admin_username}/.ssh/authorized_keys",
                    "keyData": cfg.ssh_public_key}]},
            },
        },
        "networkProfile": {"networkInterfaces": [
            {"id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}]},
    }
    if option.spot:
        properties.update(priority="Spot", evictionPolicy="Delete",
                          billingProfile={"maxPrice": -1})
    body: dict[str, Any] = {"location": option.region.name, "tags": dict(request.tags),
                            "properties": properties}
    if request.zone:
        body["zones"] = [request.zone]
    return body


def check_sku(subscription: str, size: str, location: str, zone: str | None) -> None:
    """Raise ``SkuUnavailable`` if the resource-SKU list rules this size out here, before
    anything is created for it."""
    skus = _skus(subscription, location)
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


def _skus(subscription: str, location: str) -> dict[str, list[dict[str, Any]]]:
    """Size (lower-case) -> restrictions, for the virtual-machine SKUs of one location."""
    with _sku_lock:  # a gang's members share one listing
        return _skus_locked(subscription, location)


def _skus_locked(subscription: str, location: str) -> dict[str, list[dict[str, Any]]]:
    conn = arm.connection()
    key = ("skus", conn, subscription.lower(), location.lower())
    cached = arm.lookup(key)
    if cached is not None and time.monotonic() - cached[0] < SKU_CACHE_S:
        return cached[1]
    out: dict[str, list[dict[str, Any]]] = {}
    for sku in arm.compute(subscription).resource_skus.list(
            filter=f"location eq '{location}'"):
        if str(sku.resource_type).lower() != "virtualmachines":
            continue
        out[str(sku.name).lower()] = [r.as_dict() if hasattr(r, "as_dict") else dict(r)
                                      for r in sku.restrictions or []]
        for restriction in out[str(sku.name).lower()]:  # SDK versions differ in key case
            for camel, snake in (("reasonCode", "reason_code"),
                                 ("restrictionInfo", "restriction_info")):
                if snake in restriction:
                    restriction[camel] = restriction.pop(snake)
    arm.store(key, (time.monotonic(), out))
    return out


def create_instance(request: InstanceRequest, journal: Journal) -> Resource:
    """One VM with its NIC (and public IP): recorded before each is created, tagged for
    ``find_resources``; a failure raises the SDK's error for ``classify``."""
    option = request.option
    region, size = option.region.name, option.offer.instance_type
    cfg = config.resolve(request.settings, region)
    sub, group, deadline_s = cfg.subscription_id, cfg.resource_group, cfg.operation_timeout_s
    n = names(request)
    check_sku(sub, size, region, request.zone)
    network.ensure_resource_group(arm.resources(sub), sub, group, region)
    net = arm.network(sub)
    subnet_id = cfg.subnet_id or network.ensure_subnet(net, sub, group, region, deadline_s)
    ip_id = None
    if cfg.public_ip:
        token = journal.intent("public-ip", n.ip, arm_id(sub, group, IP_TYPE, n.ip))
        ip = arm.wait(net.public_ip_addresses.begin_create_or_update(
            group, n.ip, ip_body(request, n)), f"public IP {n.ip}", deadline_s)
        journal.created(token, str(ip.id))
        ip_id = str(ip.id)
    token = journal.intent("nic", n.nic, arm_id(sub, group, NIC_TYPE, n.nic))
    nic = arm.wait(net.network_interfaces.begin_create_or_update(
        group, n.nic, nic_body(request, n, subnet_id, ip_id)), f"NIC {n.nic}", deadline_s)
    journal.created(token, str(nic.id))
    compute = arm.compute(sub)
    disk_token = journal.intent("disk", n.disk, arm_id(sub, group, DISK_TYPE, n.disk))
    poller = compute.virtual_machines.begin_create_or_update(
        group, n.vm, vm_body(request, cfg, n, str(nic.id)))
    # Accepted: Azure makes the OS disk under the name greenml gave it, even if the VM fails.
    journal.created(disk_token, arm_id(sub, group, DISK_TYPE, n.disk))
    vm = arm.wait(poller, f"virtual machine {n.vm}", deadline_s)
    # ARM does not copy a VM's tags onto its OS disk: tag it, so a stray disk is found too.
    arm.wait(compute.disks.begin_update(group, n.disk, {"tags": {**request.tags, TAG_VM: n.vm}}),
             f"tags of disk {n.disk}", deadline_s)
    return Resource("azure", region, str(vm.id), "instance", request.zone or "", n.vm,
                    request.launch_id, str(vm.provisioning_state or ""))


def describe(request: InstanceRequest) -> str:
    """The dry-run line: what would be created, where and from what; calls nothing."""
    option = request.option
    region = option.region.name
    cfg = config.resolve(request.settings, region, strict=False)
    n = names(request)
    subnet = cfg.subnet_id or (f"{network.vnet_name(region)}/{network.SUBNET_NAME} "
                               "(created if missing)")
    market = "Spot, evicted = deleted" if option.spot else "regular priority"
    key = (f"{cfg.ssh_public_key.split()[0]} key from {cfg.ssh_key_source}"
           if cfg.ssh_public_key else "no ssh key found (set ssh_public_key_file)")
    ip = f", public IP {n.ip}" if cfg.public_ip else ""
    return (f"azure: VM {n.vm} {option.offer.instance_type} ({market}) in {region}"
            + (f" zone {request.zone}" if request.zone else "")
            + f", subscription {cfg.subscription_id or 'not set (AZURE_SUBSCRIPTION_ID)'}, "
            f"resource group {cfg.resource_group}; NIC {n.nic} in subnet {subnet}{ip}; OS disk "
            f"{n.disk} ({OS_DISK_TYPE}); image {cfg.image}; admin {cfg.admin_username} with "
            f"{key}; NIC, disk and IP are deleted with the VM; tags "
            f"{dict(sorted(request.tags.items()))}")
