"""The Google Cloud settings a launch takes (``-o gcp.key=value``), parsed once into
``GCPSettings`` before anything is created.

A text setting left blank means its default, as if it were not given. Defaults that depend on
the machine (the boot disk type) or on the environment (the project) stay empty here and are
chosen where the VM is built (``greenml_gcp.spec``) or the project resolved.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

from greenml.provider import boolean, positive_number, setting, text

#: The Deep Learning VM image used unless the user names another (PyTorch, CUDA, driver).
DEFAULT_IMAGE_PROJECT = "deeplearning-platform-release"
DEFAULT_IMAGE_FAMILY = "pytorch-2-9-cu129-ubuntu-2404-nvidia-580"
DEFAULT_BOOT_DISK_GB = 200
#: Compute Engine's bounds on a boot disk's size.
MIN_BOOT_DISK_GB, MAX_BOOT_DISK_GB = 10, 65536
DEFAULT_OPERATION_TIMEOUT_S = 600.0
#: The TPU VM base image for v2 to v5 (Cloud TPU "TPU software versions").
DEFAULT_TPU_RUNTIME = "tpu-ubuntu2204-base"
#: The service account meaning "Compute Engine's default one", and the one meaning none.
DEFAULT_ACCOUNT, NO_ACCOUNT = "default", "none"


def text_or(default: str) -> Callable[[str], str]:
    """A text parser for which blank means ``default``."""
    def parse(raw: str) -> str:
        return text(raw) or default
    return parse


def boot_disk_size_gb(raw: str) -> int:
    """A whole number of GB that Compute Engine accepts for a boot disk."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number of GB, got {raw!r}") from None
    if not MIN_BOOT_DISK_GB <= value <= MAX_BOOT_DISK_GB:
        raise ValueError(f"expected {MIN_BOOT_DISK_GB} to {MAX_BOOT_DISK_GB} GB, got {value}")
    return value


def account_email(raw: str) -> str:
    """An e-mail, ``default`` or ``none`` (blank: ``default``)."""
    email = text(raw) or DEFAULT_ACCOUNT
    if email not in (DEFAULT_ACCOUNT, NO_ACCOUNT) and "@" not in email:
        raise ValueError(f"expected an e-mail, 'default' or 'none', got {email!r}")
    return email


@frozen
class GCPSettings:
    """What the user may choose for each VM or TPU node; empty means derived (see above)."""

    project: str = setting(help="Google Cloud project id (else GOOGLE_CLOUD_PROJECT, "
                           "CLOUDSDK_CORE_PROJECT or the Application Default Credentials' "
                           "project)")
    image_family: str = setting(help=f"boot image family (default {DEFAULT_IMAGE_FAMILY})",
                                default=DEFAULT_IMAGE_FAMILY,
                                parse=text_or(DEFAULT_IMAGE_FAMILY))
    image_project: str = setting(
        help=f"project of the image family (default {DEFAULT_IMAGE_PROJECT})",
        default=DEFAULT_IMAGE_PROJECT, parse=text_or(DEFAULT_IMAGE_PROJECT))
    service_account: str = setting(
        help="service account e-mail for the VMs ('default': the Compute Engine default "
             "account, the default; 'none': no account)",
        default=DEFAULT_ACCOUNT, parse=account_email)
    network: str = setting(help="VPC network name or path (default: 'default')")
    subnetwork: str = setting(help="subnetwork name or path in the VM's region")
    external_ip: bool = setting(help="give each VM an ephemeral external IP: true (default) "
                                "or false", default=True, parse=boolean)
    boot_disk_gb: int = setting(help=f"boot disk size in GB (default {DEFAULT_BOOT_DISK_GB})",
                                default=DEFAULT_BOOT_DISK_GB, parse=boot_disk_size_gb)
    boot_disk_type: str = setting(help="boot disk type (default pd-balanced; "
                                  "hyperdisk-balanced on a4/a3-ultra)")
    operation_timeout_s: float = setting(
        help="how long to wait for one VM's create operation "
             f"(default {DEFAULT_OPERATION_TIMEOUT_S:.0f})",
        default=DEFAULT_OPERATION_TIMEOUT_S, parse=positive_number)
    tpu_runtime_version: str = setting(
        help=f"TPU VM software version (default {DEFAULT_TPU_RUNTIME})",
        default=DEFAULT_TPU_RUNTIME, parse=text_or(DEFAULT_TPU_RUNTIME))
