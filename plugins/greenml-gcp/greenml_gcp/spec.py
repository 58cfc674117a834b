"""What one Compute Engine VM of a launch is, as the REST API's JSON; pure, no SDK, no I/O.

Both ``describe`` (dry runs) and ``create_instance`` build the VM from here, so a dry run
shows exactly what would be sent. Names and values below are API constants (machine-family
prefixes, accelerator type names, image families), not figures.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

from greenml import InputError, InstanceRequest, Option
from greenml.provider import TAG_INDEX, TAG_LAUNCH_ID, boot_script

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

#: The Deep Learning VM image used unless the user names another (PyTorch, CUDA, driver).
DEFAULT_IMAGE_PROJECT = "deeplearning-platform-release"
DEFAULT_IMAGE_FAMILY = "pytorch-2-9-cu129-ubuntu-2404-nvidia-580"
DEFAULT_BOOT_DISK_GB = 200
DEFAULT_OPERATION_TIMEOUT_S = 600.0
#: The TPU VM base image for v2 to v5 (Cloud TPU "TPU software versions").
DEFAULT_TPU_RUNTIME = "tpu-ubuntu2204-base"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

SETTINGS = {
    "project": "Google Cloud project id (else GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT or "
               "the Application Default Credentials' project)",
    "image_family": f"boot image family (default {DEFAULT_IMAGE_FAMILY})",
    "image_project": f"project of the image family (default {DEFAULT_IMAGE_PROJECT})",
    "service_account": "service account e-mail for the VMs ('default': the Compute Engine "
                       "default account, the default; 'none': no account)",
    "network": "VPC network name or path (default: 'default')",
    "subnetwork": "subnetwork name or path in the VM's region",
    "external_ip": "give each VM an ephemeral external IP: true (default) or false",
    "boot_disk_gb": f"boot disk size in GB (default {DEFAULT_BOOT_DISK_GB})",
    "boot_disk_type": "boot disk type (default pd-balanced; hyperdisk-balanced on a4/a3-ultra)",
    "operation_timeout_s": "how long to wait for one VM's create operation "
                           f"(default {DEFAULT_OPERATION_TIMEOUT_S:.0f})",
    "tpu_runtime_version": f"TPU VM software version (default {DEFAULT_TPU_RUNTIME})",
}

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


def _bad(key: str, message: str) -> InputError:
    """A bad ``-o key=value`` setting: the error names the flag (--set) and the key."""
    return InputError("set", f"{key}: {message}")


def validate_settings(settings: Mapping[str, Any]) -> None:
    """Check every setting this plugin reads, before anything is created."""
    boot_disk_gb(settings)
    operation_timeout_s(settings)
    external_ip(settings)
    _service_accounts(settings)
    for key in ("project", "image_family", "image_project", "network", "subnetwork",
                "boot_disk_type", "tpu_runtime_version"):
        _text(settings, key)


def _text(settings: Mapping[str, Any], key: str, default: str = "") -> str:
    value = settings.get(key, default)
    if not isinstance(value, str):
        raise _bad(key, f"expected text, got {value!r}")
    return value.strip()


def _positive_number(settings: Mapping[str, Any], key: str, default: float) -> float:
    raw = settings.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad(key, f"expected a positive number, got {raw!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise _bad(key, f"expected a positive number, got {raw!r}")
    return value


def boot_disk_gb(settings: Mapping[str, Any]) -> int:
    raw = settings.get("boot_disk_gb", DEFAULT_BOOT_DISK_GB)
    try:
        value = int(str(raw))
    except ValueError:
        raise _bad("boot_disk_gb", f"expected a whole number of GB, got {raw!r}") from None
    if not 10 <= value <= 65536:
        raise _bad("boot_disk_gb", f"expected 10 to 65536 GB, got {value}")
    return value


def operation_timeout_s(settings: Mapping[str, Any]) -> float:
    return _positive_number(settings, "operation_timeout_s", DEFAULT_OPERATION_TIMEOUT_S)


def external_ip(settings: Mapping[str, Any]) -> bool:
    raw = str(settings.get("external_ip", "true")).strip().lower()
    if raw not in ("true", "false", "yes", "no", "1", "0"):
        raise _bad("external_ip", f"expected true or false, got {raw!r}")
    return raw in ("true", "yes", "1")


def source_image(settings: Mapping[str, Any]) -> str:
    project = _text(settings, "image_project", DEFAULT_IMAGE_PROJECT) or DEFAULT_IMAGE_PROJECT
    image_family = _text(settings, "image_family", DEFAULT_IMAGE_FAMILY) or DEFAULT_IMAGE_FAMILY
    return f"projects/{project}/global/images/family/{image_family}"


def _network_interface(settings: Mapping[str, Any], region: str,
                       instance_type: str) -> dict[str, Any]:
    network = _text(settings, "network")
    subnetwork = _text(settings, "subnetwork")
    nic: dict[str, Any] = {}
    if network or not subnetwork:
        nic["network"] = network if "/" in network else f"global/networks/{network or 'default'}"
    if subnetwork:
        nic["subnetwork"] = (subnetwork if "/" in subnetwork
                             else f"regions/{region}/subnetworks/{subnetwork}")
    if external_ip(settings):
        nic["accessConfigs"] = [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]
    if family(instance_type) in GVNIC_FAMILIES:
        nic["nicType"] = "GVNIC"
    return nic


def _service_accounts(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    email = _text(settings, "service_account", "default") or "default"
    if email == "none":
        return []
    if email != "default" and "@" not in email:
        raise _bad("service_account", f"expected an e-mail, 'default' or 'none', got {email!r}")
    return [{"email": email, "scopes": [CLOUD_PLATFORM_SCOPE]}]


def boot_disk_type(settings: Mapping[str, Any], instance_type: str) -> str:
    default = ("hyperdisk-balanced" if instance_type.startswith(HYPERDISK_ONLY_PREFIXES)
               else "pd-balanced")
    return _text(settings, "boot_disk_type", default) or default


def accelerator_type(option: Option) -> str | None:
    """The GCE accelerator type to attach (N1 only); None for types with built-in GPUs."""
    if family(option.offer.instance_type) != "n1":
        return None
    return N1_ACCELERATOR_TYPES[option.offer.accelerator]


def instance_body(request: InstanceRequest, project: str) -> dict[str, Any]:
    """The ``Instance`` JSON for ``instances.insert`` (camelCase, as the REST API documents).

    GPU VMs cannot live-migrate, so ``onHostMaintenance`` is TERMINATE; Spot VMs are deleted
    when preempted. The boot disk goes with the VM (``autoDelete``).
    """
    option, settings, zone = request.option, request.settings, request.zone
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
                "diskSizeGb": str(boot_disk_gb(settings)),
                "diskType": f"zones/{zone}/diskTypes/{boot_disk_type(settings, instance_type)}",
                "labels": labels(request.tags),
            },
        }],
        "networkInterfaces": [_network_interface(settings, option.region.name, instance_type)],
        "metadata": {"items": [
            {"key": "startup-script", "value": boot_script(request.run, every_boot=True)},
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


def tpu_node_body(request: InstanceRequest) -> dict[str, Any]:
    """The ``Node`` JSON for the Cloud TPU API's ``nodes.create`` (v2, camelCase).

    A TPU VM runs the user's command through the ``startup-script`` metadata key, as a
    Compute Engine VM does; Spot slices set ``schedulingConfig.spot``.
    """
    settings = request.settings
    return {
        "acceleratorType": tpu_type(request.option),
        "runtimeVersion": _text(settings, "tpu_runtime_version", DEFAULT_TPU_RUNTIME)
                          or DEFAULT_TPU_RUNTIME,
        "labels": labels(request.tags),
        "metadata": {"startup-script": boot_script(request.run, every_boot=True)},
        "schedulingConfig": {"spot": bool(request.option.spot)},
        "networkConfig": {"enableExternalIps": external_ip(settings)},
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


def describe(request: InstanceRequest, project: str) -> str:
    """The dry-run line for one VM: everything ``create_instance`` would send, calling nothing."""
    validate_settings(request.settings)
    option = request.option
    zone = request.zone or "(no zone)"
    if is_tpu(option):
        body = tpu_node_body(request)
        market = "spot" if option.spot else "on-demand"
        return (f"gcp tpus tpu-vm create {instance_name(request)} --project {project} "
                f"--zone {zone} --accelerator-type {body['acceleratorType']} ({market}), "
                f"version {body['runtimeVersion']}, labels {body['labels']}")
    gpu = accelerator_type(option)
    attached = f" + {option.offer.accelerators_per_instance} x {gpu}" if gpu else ""
    market = "spot" if option.spot else "on-demand"
    return (f"gcp compute instances insert {instance_name(request)} --project {project} "
            f"--zone {zone} --machine-type {option.offer.instance_type}{attached} ({market}), "
            f"image {source_image(request.settings)}, boot disk "
            f"{boot_disk_gb(request.settings)} GB, labels {labels(request.tags)}")
