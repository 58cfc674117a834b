"""What one Compute Engine VM (or Cloud TPU node) of a launch is, as the REST API's JSON,
from the request and its parsed ``GCPSettings``; pure, no SDK, no I/O.

Both ``describe`` (dry runs) and ``create_instance`` build the VM from here, so a dry run
shows exactly what would be sent. Names and values below are API constants (machine-family
prefixes, accelerator type names, image families), not figures.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from greenml import InputError, Option
from greenml.provider import TAG_INDEX, TAG_LAUNCH_ID, InstanceRequest
from greenml.provider.boot import for_request
from greenml_gcp import boot
from greenml_gcp.settings import NO_ACCOUNT, GCPSettings

#: greenml accelerator name -> Compute Engine accelerator type, for N1 VMs with attached GPUs.
#: Accelerator-optimized types (a2, a3, a4, g2) carry their GPUs and attach none.
N1_ACCELERATOR_TYPES = {
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "P100": "nvidia-tesla-p100",
    "P4": "nvidia-tesla-p4",
}
#: Machine families whose types come with GPUs built in.
ACCELERATOR_OPTIMIZED = ("a2", "a3", "a4", "g2")
#: A3 High with 1, 2 or 4 GPUs is sold only as Spot (or flex-start) capacity.
SPOT_ONLY_TYPES = ("a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g")
#: Families that need a gVNIC network interface, and those that boot only from Hyperdisk.
GVNIC_FAMILIES = ("a3", "a4")
HYPERDISK_ONLY_PREFIXES = ("a4-", "a3-ultragpu-")

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_NOT_LABEL_CHAR = re.compile(r"[^a-z0-9_-]")
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1d4c1e-6a55-4c36-9d55-1f1a8e0b9e47")


def family(instance_type: str) -> str:
    """The machine family: ``a2-highgpu-8g`` -> ``a2``, ``tpu-v3-8`` -> ``tpu``."""
    return instance_type.split("-", 1)[0]


def is_tpu(option: Option) -> bool:
    return family(option.offer.instance_type) == "tpu" or option.accelerator.name.startswith(
        "TPU")


def why_not_launchable(option: Option) -> str:
    """Why this plugin cannot create ``option`` (checked before anything is created); '' if
    it can."""
    instance_type = option.offer.instance_type
    if not option.region.zones:
        return f"the catalog lists no zones for {option.region.name}"
    if is_tpu(option):
        if option.instances > 1:
            return (f"{option.instances} separate {instance_type} slices make no one TPU "
                    "system (several slices need Cloud TPU Multislice, which greenml-gcp does "
                    "not drive): plan a job that fits one slice")
        return ""
    kind = family(instance_type)
    if kind == "n1" and option.offer.accelerator not in N1_ACCELERATOR_TYPES:
        return f"no Compute Engine accelerator type is known for {option.offer.accelerator!r}"
    if kind not in (*ACCELERATOR_OPTIMIZED, "n1"):
        return f"{instance_type} is not a GPU machine type greenml-gcp knows how to create"
    if instance_type in SPOT_ONLY_TYPES and not option.spot:
        return f"{instance_type} is sold only as Spot capacity: plan with --spot"
    return ""


def instance_name(request: InstanceRequest) -> str:
    """``<launch name>-<index>-<8 hex of the token>``: RFC 1035, at most 63 characters.

    The token (stable across retries, distinct per option, zone and index) makes the name
    the same for a retried insert and different for any other attempt.
    """
    digest = hashlib.sha256(request.token.encode()).hexdigest()[:8]
    return f"{request.name}-{request.index}-{digest}"


def request_id(token: str) -> str:
    """The insert's ``requestId``: a UUID (as the API demands) derived from the token, so a
    retried insert is recognised by Compute Engine and never creates a second VM."""
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, token))


def label_value(value: str) -> str:
    """A GCP label value: lower-case letters, digits, ``_`` and ``-`` only, at most 63.

    Anything else becomes ``_``: the planned CO2e ``12.5`` is stored as ``12_5``.
    """
    return _NOT_LABEL_CHAR.sub("_", str(value).lower())[:63]


def labels(tags: Mapping[str, str]) -> dict[str, str]:
    """greenml's tags as GCP labels (keys are already valid; values are sanitised)."""
    out = {}
    for key, value in tags.items():
        if not _LABEL_KEY.match(key):
            raise InputError("tags", f"{key!r} is not a valid GCP label key")
        out[key] = label_value(value)
    return out


def source_image(settings: GCPSettings) -> str:
    return (f"projects/{settings.image_project}/global/images/family/"
            f"{settings.image_family}")


def _network_interface(settings: GCPSettings, region: str,
                       instance_type: str) -> dict[str, Any]:
    network, subnetwork = settings.network, settings.subnetwork
    nic: dict[str, Any] = {}
    if network or not subnetwork:
        nic["network"] = network if "/" in network else f"global/networks/{network or 'default'}"
    if subnetwork:
        nic["subnetwork"] = (subnetwork if "/" in subnetwork
                             else f"regions/{region}/subnetworks/{subnetwork}")
    if settings.external_ip:
        nic["accessConfigs"] = [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]
    if family(instance_type) in GVNIC_FAMILIES:
        nic["nicType"] = "GVNIC"
    return nic


def _service_accounts(settings: GCPSettings) -> list[dict[str, Any]]:
    if settings.service_account == NO_ACCOUNT:
        return []
    return [{"email": settings.service_account, "scopes": [CLOUD_PLATFORM_SCOPE]}]


def boot_disk_type(settings: GCPSettings, instance_type: str) -> str:
    return settings.boot_disk_type or (
        "hyperdisk-balanced" if instance_type.startswith(HYPERDISK_ONLY_PREFIXES)
        else "pd-balanced")


def accelerator_type(option: Option) -> str | None:
    """The GCE accelerator type to attach (N1 only); None for types with built-in GPUs."""
    if family(option.offer.instance_type) != "n1":
        return None
    return N1_ACCELERATOR_TYPES[option.offer.accelerator]


def instance_body(request: InstanceRequest, settings: GCPSettings,
                  project: str) -> dict[str, Any]:
    """The ``Instance`` JSON for ``instances.insert`` (camelCase, as the REST API documents).

    GPU VMs cannot live-migrate, so ``onHostMaintenance`` is TERMINATE; Spot VMs are deleted
    when preempted. The boot disk goes with the VM (``autoDelete``). Unless the launch keeps
    its VMs, Compute Engine deletes each at the time limit (``maxRunDuration``), whatever
    its boot script is doing (``greenml_gcp.boot``).
    """
    option, zone = request.option, request.zone
    if not zone:
        raise InputError("zone", f"a Compute Engine VM needs a zone; {option.region.name} "
                         "has none in the catalog")
    instance_type = option.offer.instance_type
    scheduling: dict[str, Any] = {"onHostMaintenance": "TERMINATE"}
    if option.spot:
        scheduling.update(provisioningModel="SPOT", instanceTerminationAction="DELETE",
                          automaticRestart=False)
    else:
        scheduling.update(provisioningModel="STANDARD", automaticRestart=True)
    if not request.keep and request.max_hours is not None:
        scheduling.update(maxRunDuration={"seconds": str(boot.max_run_seconds(
            request.max_hours))}, instanceTerminationAction="DELETE")
    body: dict[str, Any] = {
        "name": instance_name(request),
        "machineType": f"zones/{zone}/machineTypes/{instance_type}",
        "labels": labels(request.tags),
        "scheduling": scheduling,
        "disks": [{
            "boot": True,
            "autoDelete": True,
            "initializeParams": {
                "sourceImage": source_image(settings),
                "diskSizeGb": str(settings.boot_disk_gb),
                "diskType": f"zones/{zone}/diskTypes/{boot_disk_type(settings, instance_type)}",
                "labels": labels(request.tags),
            },
        }],
        "networkInterfaces": [_network_interface(settings, option.region.name, instance_type)],
        "metadata": {"items": [
            {"key": "startup-script", "value": for_request(request, boot.GCE)},
            {"key": "install-nvidia-driver", "value": "True"},
        ]},
        "serviceAccounts": _service_accounts(settings),
    }
    gpu = accelerator_type(option)
    if gpu:
        body["guestAccelerators"] = [{
            "acceleratorType": f"projects/{project}/zones/{zone}/acceleratorTypes/{gpu}",
            "acceleratorCount": option.offer.accelerators_per_instance,
        }]
    return body


def made_by(found: Any, request: InstanceRequest) -> bool:
    """Whether the VM or TPU node ``found`` under the request's name (None: nothing there) is
    the one this request made before, by its labels: a retry meets its own, never another's."""
    labels = dict(found.labels) if found is not None else {}
    return (labels.get(TAG_LAUNCH_ID) == request.launch_id
            and labels.get(TAG_INDEX) == str(request.index))


def tpu_type(option: Option) -> str:
    """The Cloud TPU accelerator type of a slice offer: ``tpu-v3-8`` -> ``v3-8``."""
    return option.offer.instance_type.removeprefix("tpu-")


def tpu_node_body(request: InstanceRequest, settings: GCPSettings) -> dict[str, Any]:
    """The ``Node`` JSON for the Cloud TPU API's ``nodes.create`` (v2, camelCase).

    A TPU VM runs the user's command through the ``startup-script`` metadata key, as a
    Compute Engine VM does (its runtime does the rendezvous, nothing ends it yet: see
    ``boot.TPU``); Spot slices set ``schedulingConfig.spot``.
    """
    return {
        "acceleratorType": tpu_type(request.option),
        "runtimeVersion": settings.tpu_runtime_version,
        "labels": labels(request.tags),
        "metadata": {"startup-script": for_request(request, boot.TPU)},
        "schedulingConfig": {"spot": bool(request.option.spot)},
        "networkConfig": {"enableExternalIps": settings.external_ip},
    }


def node_path(project: str, zone: str, name: str) -> str:
    """A TPU node's id in greenml's ledger: its resource name, which names project and zone."""
    return f"projects/{project}/locations/{zone}/nodes/{name}"


def parse_node_path(resource_id: str) -> tuple[str, str, str] | None:
    """``projects/P/locations/Z/nodes/N`` -> (P, Z, N); None for anything else."""
    parts = resource_id.split("/")
    if len(parts) == 6 and (parts[0], parts[2], parts[4]) == ("projects", "locations", "nodes"):
        return parts[1], parts[3], parts[5]
    return None


def self_link_path(project: str, zone: str, name: str) -> str:
    """The VM's id in greenml's ledger: its self-link path, which names project and zone."""
    return f"projects/{project}/zones/{zone}/instances/{name}"


def parse_self_link_path(resource_id: str) -> tuple[str, str, str]:
    """``projects/P/zones/Z/instances/N`` -> (P, Z, N)."""
    parts = resource_id.split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] != "zones" or (
            parts[4] != "instances"):
        raise ValueError(f"not a Compute Engine instance path: {resource_id!r}")
    return parts[1], parts[3], parts[5]


def region_of_zone(zone: str) -> str:
    """``us-west1-b`` -> ``us-west1``."""
    return zone.rsplit("-", 1)[0]


def describe(request: InstanceRequest, settings: GCPSettings, project: str) -> str:
    """The dry-run line for one VM: everything ``create_instance`` would send, calling nothing."""
    option = request.option
    zone = request.zone or "(no zone)"
    if is_tpu(option):
        body = tpu_node_body(request, settings)
        market = "spot" if option.spot else "on-demand"
        return (f"gcp tpus tpu-vm create {instance_name(request)} --project {project} "
                f"--zone {zone} --accelerator-type {body['acceleratorType']} ({market}), "
                f"version {body['runtimeVersion']}, labels {body['labels']}")
    gpu = accelerator_type(option)
    attached = f" + {option.offer.accelerators_per_instance} x {gpu}" if gpu else ""
    market = "spot" if option.spot else "on-demand"
    limit = (f", --max-run-duration {boot.max_run_seconds(request.max_hours)}s "
             "--instance-termination-action DELETE"
             if not request.keep and request.max_hours is not None else "")
    return (f"gcp compute instances insert {instance_name(request)} --project {project} "
            f"--zone {zone} --machine-type {option.offer.instance_type}{attached} ({market})"
            f"{limit}, image {source_image(settings)}, boot disk {settings.boot_disk_gb} GB, "
            f"labels {labels(request.tags)}")
