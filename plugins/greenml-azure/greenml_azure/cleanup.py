"""What removing a launch from Azure takes, and what finding it again by tag returns.

A VM is created with delete options that take its NIC, OS disk and public IP with it; greenml
does not rely on that alone: ``expand`` adds what each VM uses (its NIC, public IP and disk,
deleted explicitly too; gone already is fine), and a NIC or disk handed over on its own
brings down the VM it is attached to, if that VM belongs to the same launch. Deletes run in
dependency order (``KINDS``): VMs, NICs, public IPs, disks. The ``Azure`` provider makes the
calls; the functions here read ids and decide, given a way to read a resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from greenml import GreenmlError
from greenml.provider import TAG_LAUNCH_ID, Resource
from greenml_azure.vm import DISK_TYPE, IP_TYPE, NIC_TYPE, TAG_VM, VM_TYPE

#: The ARM types as ``ArmId.rtype`` holds them (ARM compares types ignoring case).
VM = VM_TYPE.lower()
NIC = NIC_TYPE.lower()
IP = IP_TYPE.lower()
DISK = DISK_TYPE.lower()
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


#: ARM type -> {id, lower-case -> ArmId}: what to delete, by kind.
Targets = dict[str, dict[str, ArmId]]


def targets(resources: Sequence[Resource]) -> Targets:
    """The ids of ``resources``, by kind; one that is not a VM, NIC, IP or disk is refused."""
    out: Targets = {kind: {} for kind in KINDS}
    for r in resources:
        if not r.resource_id:
            continue
        aid = ArmId.parse(r.resource_id)
        if aid is None or aid.rtype not in KINDS:
            raise GreenmlError(f"azure: cannot terminate {r.resource_id!r}: not the ARM id of a "
                               "VM, NIC, public IP or disk")
        out[aid.rtype][aid.key] = aid
    return out


def expand(wanted: Targets, get: Callable[[ArmId], Any]) -> None:
    """Add the VMs that given NICs/disks are attached to, then what every VM uses; ``get``
    reads a resource (None: gone), each one once."""
    read: dict[str, Any] = {}

    def get_once(aid: ArmId) -> Any:
        if aid.key not in read:
            read[aid.key] = get(aid)
        return read[aid.key]

    for rtype in (NIC, DISK):
        for aid in list(wanted[rtype].values()):
            model = get_once(aid)
            owner = _attached_to(rtype, model) if model is not None else None
            owner_id = ArmId.parse(str(owner)) if owner else None
            if owner_id is None or owner_id.key in wanted[VM]:
                continue
            vm = get_once(owner_id)
            mine = (model.tags or {}).get(TAG_LAUNCH_ID)
            if vm is not None and (not mine or (vm.tags or {}).get(TAG_LAUNCH_ID) != mine):
                raise GreenmlError(f"azure: {aid.name} is attached to VM {owner_id.name}, which "
                                   "greenml did not create for this launch: detach it, then "
                                   "run greenml down again")
            wanted[VM][owner_id.key] = owner_id
    for aid in list(wanted[VM].values()):
        vm = get_once(aid)
        if vm is None:
            continue
        for ref in getattr(vm.network_profile, "network_interfaces", None) or []:
            _add(wanted, ref.id)
        os_disk = getattr(vm.storage_profile, "os_disk", None)
        _add(wanted, getattr(getattr(os_disk, "managed_disk", None), "id", None))
    for aid in list(wanted[NIC].values()):
        nic = get_once(aid)
        for ip_config in (getattr(nic, "ip_configurations", None) or []) if nic else []:
            _add(wanted, getattr(ip_config.public_ip_address, "id", None))


def _attached_to(rtype: str, model: Any) -> Any:
    """The id of the VM a NIC or disk is attached to, if any."""
    if rtype == NIC:
        return getattr(model.virtual_machine, "id", None)
    return model.managed_by


def _add(wanted: Targets, text: str | None) -> None:
    aid = ArmId.parse(str(text)) if text else None
    if aid is not None and aid.rtype in wanted:
        wanted[aid.rtype].setdefault(aid.key, aid)


def tagged(items: Iterable[Any], launch_id: str, regions: Sequence[str]) -> list[Resource]:
    """Of ARM's resource list filtered by the launch's tag: its VMs in ``regions``, and any
    NIC, IP or disk whose VM is not among them (a VM's own ones go with it)."""
    wanted = {r.lower() for r in regions}
    mine: list[tuple[ArmId, Any]] = []
    for item in items:
        aid = ArmId.parse(str(item.id))
        if aid is not None and aid.rtype in KINDS and str(item.location).lower() in wanted:
            mine.append((aid, item))
    vms = {(a.subscription.lower(), a.group.lower(), a.name.lower()) for a, _ in mine
           if a.rtype == VM}
    found = []
    for aid, item in mine:
        owner = str((item.tags or {}).get(TAG_VM, "")).lower()
        if aid.rtype != VM and (aid.subscription.lower(), aid.group.lower(), owner) in vms:
            continue
        found.append(Resource("azure", str(item.location), aid.text, KINDS[aid.rtype], "",
                              aid.name, launch_id, ""))
    return found


def live_state(found: Any) -> str:
    """ARM's provisioning state of a resource read back (Creating, Succeeded, Failed,
    Deleting; text, or an enum in the network SDK), ``gone`` for None."""
    if found is None:
        return "gone"
    state = getattr(found, "provisioning_state", None)
    return str(getattr(state, "value", state) or "exists")
