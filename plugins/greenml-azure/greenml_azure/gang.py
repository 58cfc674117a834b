"""What lets an Azure VM end itself and a gang meet: a role assignment on the VM for its own
managed identity, and the rendezvous tags each member's boot script reads from IMDS.

Why here: the VM's identity exists only once the VM does, so the role is granted right after
the create, recorded in the ledger first (``Journal.intent``) like any resource, under a name
derived from the VM's id. ``terminate`` removes it from that id too, so a role assignment
whose record was lost in a crash is still removed with its VM (Azure keeps a deleted
identity's role assignments, orphaned, until someone deletes them). Resource Manager's
role-assignment API is called through the resource client's pipeline (the same credential,
endpoint and CA), so no further SDK is needed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from greenml.provider import Resource
from greenml_azure import arm
from greenml_azure.boot import TAG_HEAD, TAG_NODES, TAG_RANK
from greenml_azure.cleanup import ArmId
from greenml_azure.failures import GrantRefused

ROLE_ASSIGNMENT = "role-assignment"
ROLE_ASSIGNMENTS_API = "2022-04-01"
#: The built-in "Virtual Machine Contributor" role: it may delete or deallocate the VM it is
#: granted on, and nothing beyond that scope.
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
_NAMESPACE = uuid.UUID("1c1b9f51-0d0e-4a57-9b1e-3d1f6c2a8e11")
_MARK = "/providers/microsoft.authorization/roleassignments/"


def role_assignment_id(vm_id: str) -> str:
    """The id of the role assignment greenml grants on the VM ``vm_id``: its scope, and a
    GUID derived from that id (the same for a retried create, and known to ``down``)."""
    name = uuid.uuid5(_NAMESPACE, vm_id.lower())
    return f"{vm_id}/providers/Microsoft.Authorization/roleAssignments/{name}"


def is_role_assignment(resource_id: str) -> bool:
    return _MARK in resource_id.lower()


def role_body(subscription: str, principal_id: str) -> dict[str, Any]:
    return {"properties": {
        "roleDefinitionId": f"/subscriptions/{subscription}/providers/"
                            f"Microsoft.Authorization/roleDefinitions/{VM_CONTRIBUTOR}",
        "principalId": principal_id,
        "principalType": "ServicePrincipal"}}  # a new identity: skip the directory lookup


def grant(resources_client: Any, vm_id: str, subscription: str, principal_id: str) -> str:
    """PUT the role assignment (idempotent: the same name and body); returns its id."""
    from azure.core.rest import HttpRequest

    rid = role_assignment_id(vm_id)
    response = resources_client.send_request(HttpRequest(
        "PUT", f"{rid}?api-version={ROLE_ASSIGNMENTS_API}",
        json=role_body(subscription, principal_id)))
    if response.status_code == 403:
        raise GrantRefused(vm_id.rsplit("/", 1)[-1])
    response.raise_for_status()
    return rid


def revoke(resources_client: Any, rid: str) -> None:
    """DELETE one role assignment; gone already (404, or 204) is fine."""
    from azure.core.rest import HttpRequest

    response = resources_client.send_request(HttpRequest(
        "DELETE", f"{rid}?api-version={ROLE_ASSIGNMENTS_API}"), retry_total=arm.read_retries())
    if response.status_code != 404:
        response.raise_for_status()


def state(resources_client: Any, rid: str) -> str:
    """``exists`` or ``gone``: a role assignment has no provisioning state."""
    from azure.core.rest import HttpRequest

    response = resources_client.send_request(HttpRequest(
        "GET", f"{rid}?api-version={ROLE_ASSIGNMENTS_API}"), retry_total=arm.read_retries())
    if response.status_code == 404:
        return "gone"
    response.raise_for_status()
    return "exists"


def write_rendezvous(compute: Any, network: Any, members: Sequence[Resource],
                     deadline_s: float) -> None:
    """Tag each member (in rank order) with its rank, the node count and the head's (rank
    0's) private address, keeping its other tags; the boot scripts wait for these. Members
    share the launch's virtual network, so each reaches the head there."""
    ids = [ArmId.parse(m.resource_id) for m in members]
    if any(i is None for i in ids):
        raise ValueError("a gang member has no VM id yet")
    vms = [compute.virtual_machines.get(i.group, i.name) for i in ids if i is not None]
    nic = ArmId.parse(str(vms[0].network_profile.network_interfaces[0].id))
    head = ""
    if nic is not None:
        configs = network.network_interfaces.get(nic.group, nic.name).ip_configurations or []
        head = str(configs[0].private_ip_address or "") if configs else ""
    if not head:
        raise ValueError(f"the gang's head {members[0].name} has no private address yet")
    pollers = []
    for rank, (aid, vm) in enumerate(zip(ids, vms, strict=True)):
        assert aid is not None
        tags = {**(vm.tags or {}), TAG_RANK: str(rank), TAG_NODES: str(len(vms)),
                TAG_HEAD: head}
        pollers.append((aid, compute.virtual_machines.begin_update(
            aid.group, aid.name, {"tags": tags})))
    for aid, poller in pollers:
        arm.wait(poller, f"rendezvous tags of {aid.name}", deadline_s)
