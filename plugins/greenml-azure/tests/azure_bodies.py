"""Minimal ARM request bodies for driving the tests' ARM through the real SDK clients."""

from __future__ import annotations

from typing import Any

#: The ssh key the tests' home directory holds (conftest writes it there).
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGreenmlTestKeyGreenmlTestKeyGreenml test@greenml"

GROUP = "fake-rg"
LOCATION = "swedencentral"
SIZE = "Standard_NC24ads_A100_v4"


def clients(fake) -> tuple[Any, Any, Any]:
    """(resources, network, compute) clients, as greenml-azure builds them."""
    from greenml_azure import arm

    sub = fake.subscription_id
    return arm.resources(sub), arm.network(sub), arm.compute(sub)


def vnet(location: str = LOCATION) -> dict[str, Any]:
    return {"location": location, "properties": {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.1.0.0/24"}}]}}


def nic(subnet_id: str, location: str = LOCATION, ip_id: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"subnet": {"id": subnet_id}}
    if ip_id:
        config["publicIPAddress"] = {"id": ip_id}
    return {"location": location, "properties": {
        "ipConfigurations": [{"name": "ipconfig1", "properties": config}]}}


def vm(nic_id: str, *, size: str = SIZE, location: str = LOCATION,
       delete_options: bool = True, keys: bool = True) -> dict[str, Any]:
    option = {"deleteOption": "Delete"} if delete_options else {}
    return {"location": location, "properties": {
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {
            "imageReference": {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc",
                               "sku": "2204", "version": "latest"},
            "osDisk": {"createOption": "FromImage", **option}},
        "osProfile": {"computerName": "vm1", "adminUsername": "azureuser",
                      "linuxConfiguration": {
                          "disablePasswordAuthentication": True,
                          "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys",
                                                  "keyData": SSH_KEY}] if keys else []}}},
        "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": option}]}}}


def ground(fake) -> str:
    """A resource group and a VNet; returns the subnet id."""
    resources, network, _ = clients(fake)
    resources.resource_groups.create_or_update(GROUP, {"location": LOCATION})
    made = network.virtual_networks.begin_create_or_update(GROUP, "vnet", vnet()).result()
    return str(made.subnets[0].id)
