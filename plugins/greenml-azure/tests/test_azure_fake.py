"""The tests' ARM refuses what ARM refuses, seen through the real SDK clients."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure_bodies import GROUP, LOCATION, clients, ground, nic, vm


def code_of(call) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as info:
        result = call()
        if hasattr(result, "result"):
            result.result()
    return info.value.status_code, info.value.error.code


def test_requests_need_an_api_version_and_a_token(azure) -> None:
    resources, _, _ = clients(azure)
    path = f"/subscriptions/{azure.subscription_id}/resourcegroups/{GROUP}"
    response = resources.send_request(HttpRequest("GET", path))
    assert (response.status_code, response.json()["error"]["code"]) == (
        400, "MissingApiVersionParameter")
    bare = requests.get(f"{azure.endpoint}{path}?api-version=2025-04-01",
                        verify=str(azure.ca_bundle), timeout=10)
    assert (bare.status_code, bare.json()["error"]["code"]) == (401, "AuthenticationFailed")
    forged = requests.get(f"{azure.endpoint}{path}?api-version=2025-04-01",
                          headers={"Authorization": "Bearer made-up"},
                          verify=str(azure.ca_bundle), timeout=10)
    assert forged.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_unknown_locations_and_missing_groups(azure) -> None:
    resources, network, _ = clients(azure)
    assert code_of(lambda: resources.resource_groups.create_or_update(
        GROUP, {"location": "atlantis"})) == (400, "LocationNotAvailableForResourceGroup")
    assert code_of(lambda: network.virtual_networks.begin_create_or_update(
        "no-such-group", "v", {"location": LOCATION})) == (404, "ResourceGroupNotFound")
    resources.resource_groups.create_or_update(GROUP, {"location": LOCATION})
    from azure_bodies import vnet

    assert code_of(lambda: network.virtual_networks.begin_create_or_update(
        GROUP, "v", vnet("atlantis"))) == (400, "LocationNotAvailableForResourceType")


def test_vm_sizes_are_checked_against_the_catalog(azure) -> None:
    subnet = ground(azure)
    _, network, compute = clients(azure)
    nic_id = network.network_interfaces.begin_create_or_update(GROUP, "n", nic(subnet)).result().id
    assert code_of(lambda: compute.virtual_machines.begin_create_or_update(
        GROUP, "vm1", vm(nic_id, size="Standard_Imaginary_v9"))) == (400, "InvalidParameter")
    assert code_of(lambda: compute.virtual_machines.begin_create_or_update(
        GROUP, "vm1", vm(nic_id, size="Standard_ND96asr_v4"))) == (409, "SkuNotAvailable")
    assert code_of(lambda: compute.virtual_machines.begin_create_or_update(
        GROUP, "vm1", vm(nic_id, keys=False))) == (400, "InvalidParameter")
    assert azure.resources("virtualMachines") == []


def test_references_must_exist(azure) -> None:
    subnet = ground(azure)
    _, network, compute = clients(azure)
    missing_nic = subnet.split("/providers/")[0] + \
        "/providers/Microsoft.Network/networkInterfaces/ghost"
    assert code_of(lambda: compute.virtual_machines.begin_create_or_update(
        GROUP, "vm1", vm(missing_nic))) == (404, "NotFound")
    assert code_of(lambda: network.network_interfaces.begin_create_or_update(
        GROUP, "n", nic(subnet + "-ghost"))) == (400, "InvalidResourceReference")
    assert code_of(lambda: network.network_interfaces.begin_create_or_update(
        GROUP, "n", nic(subnet, location="norwayeast"))) == (400, "InvalidResourceReference")
    with pytest.raises(ResourceNotFoundError):
        network.subnets.get(GROUP, "vnet", "ghost")


def test_things_in_use_cannot_be_deleted_and_delete_options_are_honoured(azure) -> None:
    subnet = ground(azure)
    _, network, compute = clients(azure)
    ip = network.public_ip_addresses.begin_create_or_update(
        GROUP, "ip", {"location": LOCATION, "sku": {"name": "Standard"}}).result()
    nic_id = network.network_interfaces.begin_create_or_update(
        GROUP, "n", nic(subnet, ip_id=ip.id)).result().id
    made = compute.virtual_machines.begin_create_or_update(
        GROUP, "vm1", vm(nic_id, delete_options=False)).result()
    disk_name = made.storage_profile.os_disk.name
    assert code_of(lambda: network.network_interfaces.begin_delete(GROUP, "n")) == (
        400, "NicInUse")
    assert code_of(lambda: compute.disks.begin_delete(GROUP, disk_name)) == (
        409, "OperationNotAllowed")
    assert code_of(lambda: network.public_ip_addresses.begin_delete(GROUP, "ip")) == (
        400, "PublicIPAddressCannotBeDeleted")
    compute.virtual_machines.begin_delete(GROUP, "vm1").result()
    assert azure.names("networkInterfaces") == ["n"]  # no delete option: ARM keeps them
    assert azure.names("disks") == [disk_name] and azure.names("publicIPAddresses") == ["ip"]
    again = compute.virtual_machines.begin_create_or_update(GROUP, "vm2", vm(nic_id)).result()
    compute.virtual_machines.begin_delete(GROUP, "vm2").result()
    assert azure.names("networkInterfaces") == []
    assert again.storage_profile.os_disk.name not in azure.names("disks")
    compute.virtual_machines.begin_delete(GROUP, "vm2").result()  # gone already: 204


def test_operations_fail_with_their_code_and_the_list_pages(azure) -> None:
    subnet = ground(azure)
    resources, network, compute = clients(azure)
    for number in range(azure.page_size + 2):
        network.network_interfaces.begin_create_or_update(
            GROUP, f"n{number}", {**nic(subnet), "tags": {"t": "x"}}).result()
    listed = list(resources.resources.list(filter="tagName eq 't' and tagValue eq 'x'"))
    assert len(listed) == azure.page_size + 2
    assert sum(1 for c in azure.calls("GET", "resources")) == 2  # nextLink followed
    azure.fail_operation("virtualMachines", "AllocationFailed")
    nic_id = f"{subnet.split('/providers/')[0]}/providers/Microsoft.Network/networkInterfaces/n0"
    with pytest.raises(HttpResponseError) as info:
        compute.virtual_machines.begin_create_or_update(GROUP, "vm1", vm(nic_id)).result()
    assert info.value.error.code == "AllocationFailed"
    [failed] = azure.resources("virtualMachines")  # ARM keeps a VM that failed to allocate
    assert failed["properties"]["provisioningState"] == "Failed"
