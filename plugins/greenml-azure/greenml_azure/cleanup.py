"""Removing what greenml created on Azure, and finding it again by tag after a crash.

A VM is created with delete options that take its NIC, OS disk and public IP with it; greenml
does not rely on that alone: ``terminate`` looks up what each VM uses and deletes the NIC,
public IP and disk explicitly too (gone already is fine), and a NIC or disk handed over on
its own brings down the VM it is attached to, if that VM belongs to the same launch. Deletes
run in dependency order: VMs, NICs, public IPs, disks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from greenml import GreenmlError, Resource
from greenml.provider import TAG_LAUNCH_ID

from . import arm, config
from .vm import TAG_VM

VM = "microsoft.compute/virtualmachines"
NIC = "microsoft.network/networkinterfaces"
IP = "microsoft.network/publicipaddresses"
DISK = "microsoft.compute/disks"
#: ARM type -> the kind greenml records; also the order of deletion.
KINDS = {VM: "instance", NIC: "nic", IP: "public-ip", DISK: "disk"}


@attrs.frozen
class ArmId:
    """The parts of a resource id: /subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME."""

    text: str
    subscription: str
    group: str
    rtype: str  # lower-case, e.g. microsoft.compute/virtualmachines
    name: str

    @classmethod
    def parse(cls, text: str) -> ArmId | None:
        parts = text.strip().split("/")
        if len(parts) != 9 or parts[0] or parts[1].lower() != "subscriptions" \
                or parts[3].lower() != "resourcegroups" or parts[5].lower() != "providers":
            return None
        return cls(text.strip(), parts[2], parts[4], f"{parts[6]}/{parts[7]}".lower(), parts[8])

    @property
    def key(self) -> str:
        return self.text.lower()


def find_resources(launch_id: str, regions: Sequence[str]) -> list[Resource]:
    """VMs tagged with ``launch_id`` in ``regions``, and any tagged NIC, IP or disk whose VM
    is not among them (a VM's own ones go with it), in every subscription the credential sees.

    ARM's resource list lags behind writes in Azure by seconds to minutes; the ledger, which
    greenml writes before each create, covers that window.
    """
    wanted = {r.lower() for r in regions}
    query = f"tagName eq '{TAG_LAUNCH_ID}' and tagValue eq '{launch_id}'"
    items: list[tuple[ArmId, Any]] = []
    for subscription in arm.visible_subscriptions():
        # down's search: greenml does not retry it, so the SDK does (arm.read_retries)
        for item in arm.resources(subscription).resources.list(filter=query,
                                                               retry_total=arm.read_retries()):
            aid = ArmId.parse(str(item.id))
            if aid is not None and aid.rtype in KINDS and str(item.location).lower() in wanted:
                items.append((aid, item))
    vms = {(a.subscription.lower(), a.group.lower(), a.name.lower()) for a, _ in items
           if a.rtype == VM}
    found = []
    for aid, item in items:
        owner = str((item.tags or {}).get(TAG_VM, "")).lower()
        if aid.rtype != VM and (aid.subscription.lower(), aid.group.lower(), owner) in vms:
            continue
        found.append(Resource("azure", str(item.location), aid.text, KINDS[aid.rtype], "",
                              aid.name, launch_id, ""))
    return found


def terminate(resources: Sequence[Resource]) -> None:
    """Delete these resources and everything greenml created for them; idempotent."""
    targets: dict[str, dict[str, ArmId]] = {kind: {} for kind in KINDS}
    for r in resources:
        if not r.resource_id:
            continue
        aid = ArmId.parse(r.resource_id)
        if aid is None or aid.rtype not in KINDS:
            raise GreenmlError(f"azure: cannot terminate {r.resource_id!r}: not the ARM id of a "
                               "VM, NIC, public IP or disk")
        targets[aid.rtype][aid.key] = aid
    _expand(targets)
    deadline_s = config.DEFAULT_OPERATION_TIMEOUT_S
    for rtype in KINDS:
        _delete_all(list(targets[rtype].values()), deadline_s)


def states(resources: Sequence[Resource]) -> dict[str, str]:
    """resource id -> ARM's provisioning state (Creating, Succeeded, Failed, Deleting), or
    ``gone``; read from each resource itself, since the tag search lags behind writes."""
    out: dict[str, str] = {}
    for r in resources:
        aid = ArmId.parse(r.resource_id) if r.resource_id else None
        if aid is None or aid.rtype not in KINDS:
            continue
        found = _get(aid)
        state = getattr(found, "provisioning_state", None)  # text, or an enum (network SDK)
        out[r.resource_id] = ("gone" if found is None
                              else str(getattr(state, "value", state) or "exists"))
    return out


def _get(aid: ArmId) -> Any:
    """The resource, or None if it is gone."""
    from azure.core.exceptions import ResourceNotFoundError

    getters: dict[str, Callable[[], Any]] = {
        VM: lambda: arm.compute(aid.subscription).virtual_machines.get(aid.group, aid.name),
        NIC: lambda: arm.network(aid.subscription).network_interfaces.get(aid.group, aid.name),
        IP: lambda: arm.network(aid.subscription).public_ip_addresses.get(aid.group, aid.name),
        DISK: lambda: arm.compute(aid.subscription).disks.get(aid.group, aid.name),
    }
    try:
        return getters[aid.rtype]()
    except ResourceNotFoundError:
        return None


def _expand(targets: dict[str, dict[str, ArmId]]) -> None:
    """Add the VMs that given NICs/disks are attached to, then what every VM uses."""
    for rtype, attached in ((NIC, lambda m: getattr(m.virtual_machine, "id", None)),
                            (DISK, lambda m: m.managed_by)):
        for aid in list(targets[rtype].values()):
            model = _get(aid)
            owner = attached(model) if model is not None else None
            owner_id = ArmId.parse(str(owner)) if owner else None
            if owner_id is None or owner_id.key in targets[VM]:
                continue
            vm = _get(owner_id)
            mine = (model.tags or {}).get(TAG_LAUNCH_ID)
            if vm is not None and (not mine or (vm.tags or {}).get(TAG_LAUNCH_ID) != mine):
                raise GreenmlError(f"azure: {aid.name} is attached to VM {owner_id.name}, which "
                                   "greenml did not create for this launch: detach it, then "
                                   "run greenml down again")
            targets[VM][owner_id.key] = owner_id
    for aid in list(targets[VM].values()):
        vm = _get(aid)
        if vm is None:
            continue
        for ref in getattr(vm.network_profile, "network_interfaces", None) or []:
            _add(targets, ref.id)
        os_disk = getattr(vm.storage_profile, "os_disk", None)
        _add(targets, getattr(getattr(os_disk, "managed_disk", None), "id", None))
    for aid in list(targets[NIC].values()):
        nic = _get(aid)
        for ip_config in (getattr(nic, "ip_configurations", None) or []) if nic else []:
            _add(targets, getattr(ip_config.public_ip_address, "id", None))


def _add(targets: dict[str, dict[str, ArmId]], text: str | None) -> None:
    aid = ArmId.parse(str(text)) if text else None
    if aid is not None and aid.rtype in targets:
        targets[aid.rtype].setdefault(aid.key, aid)


def _begin_delete(aid: ArmId) -> Any:
    operations = {
        VM: lambda: arm.compute(aid.subscription).virtual_machines,
        NIC: lambda: arm.network(aid.subscription).network_interfaces,
        IP: lambda: arm.network(aid.subscription).public_ip_addresses,
        DISK: lambda: arm.compute(aid.subscription).disks,
    }
    return operations[aid.rtype]().begin_delete(aid.group, aid.name)


def _delete_all(ids: Sequence[ArmId], deadline_s: float) -> None:
    """Start every delete, then wait for each; gone already is fine; one error lists all."""
    from azure.core.exceptions import ResourceNotFoundError

    from .failures import read_error

    pollers, problems = [], []
    for aid in ids:
        try:
            pollers.append((aid, _begin_delete(aid)))
        except ResourceNotFoundError:
            continue
        except Exception as exc:
            problems.append((aid, exc))
    for aid, poller in pollers:
        try:
            arm.wait(poller, f"delete of {aid.name}", deadline_s)
        except ResourceNotFoundError:
            continue
        except Exception as exc:
            problems.append((aid, exc))
    if problems:
        lines = []
        for aid, problem in problems:
            code, message, status, _ = read_error(problem)
            lines.append(f"{aid.name}: {code or status or type(problem).__name__}: {message}")
        raise GreenmlError(arm.redact("azure: could not delete " + "; ".join(lines)))
