"""What a user configures for Azure launches: settings (``-o azure.KEY=VALUE``), environment.

Pure and SDK-free: every value is checked where it enters, and a bad one raises
``greenml.InputError`` naming the setting (``azure.<key>``) or the environment variable.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from greenml import InputError

#: Settings a user may pass, each with its help line (``greenml launch -o azure.KEY=VALUE``).
SETTINGS = {
    "subscription_id": "Azure subscription id (default: $AZURE_SUBSCRIPTION_ID, else the Azure "
                       "CLI's default subscription)",
    "resource_group": "resource group for everything greenml creates (default "
                      "greenml-<region>; created if missing, never deleted)",
    "subnet_id": "ARM id of an existing subnet for the VMs' NICs (default: subnet 'default' of "
                 "VNet greenml-vnet-<region> in the resource group, created if missing)",
    "image": "marketplace image publisher:offer:sku:version (default "
             "microsoft-dsvm:ubuntu-hpc:2204:latest)",
    "admin_username": "admin user on the VMs (default azureuser)",
    "ssh_public_key": "the admin user's ssh public key, as text",
    "ssh_public_key_file": "file holding it (default ~/.ssh/id_ed25519.pub, else "
                           "~/.ssh/id_rsa.pub)",
    "public_ip": "yes: give each VM a Standard public IP, deleted with it (default no)",
    "operation_timeout_s": "seconds to wait for one Azure operation before giving up on the "
                           "region (default 1800)",
}

#: The Azure Data Science VM for HPC: Ubuntu 22.04 with the NVIDIA driver, CUDA and InfiniBand.
DEFAULT_IMAGE = "microsoft-dsvm:ubuntu-hpc:2204:latest"
DEFAULT_ADMIN = "azureuser"
DEFAULT_OPERATION_TIMEOUT_S = 1800.0
DEFAULT_KEY_FILES = ("~/.ssh/id_ed25519.pub", "~/.ssh/id_rsa.pub")

ENV_SUBSCRIPTION = "AZURE_SUBSCRIPTION_ID"

#: User names Azure refuses for a Linux VM's admin (from its osProfile validation).
RESERVED_ADMIN_NAMES = frozenset({
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1",
    "1", "123", "a", "actuser", "adm", "admin2", "aspnet", "backup", "console", "david",
    "guest", "john", "owner", "root", "server", "sql", "support", "support_388945a0", "sys",
    "test2", "test3", "user4", "user5",
})

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")
_GROUP = re.compile(r"^[-\w.()]{1,90}$")
_SUBNET_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                        r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$", re.I)
_ADMIN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_KEY_TYPES = ("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
              "ecdsa-sha2-nistp521 ")
_TRUE, _FALSE = {"yes", "true", "1", "on"}, {"no", "false", "0", "off", ""}


@attrs.frozen
class Image:
    """A marketplace image reference."""

    publisher: str
    offer: str
    sku: str
    version: str

    def to_arm(self) -> dict[str, str]:
        return attrs.asdict(self)

    def __str__(self) -> str:
        return ":".join((self.publisher, self.offer, self.sku, self.version))


@attrs.frozen
class AzureSettings:
    """One launch's Azure settings, checked. ``subscription_id``/``ssh_public_key`` are empty
    only when resolved leniently (for a dry run)."""

    subscription_id: str
    resource_group: str
    subnet_id: str | None
    image: Image
    admin_username: str
    ssh_public_key: str
    ssh_key_source: str
    public_ip: bool
    operation_timeout_s: float


def _bad(key: str, message: str) -> InputError:
    return InputError("set", f"azure.{key}: {message}")


def resolve(settings: Mapping[str, str], region: str, *, strict: bool = True) -> AzureSettings:
    """Check and complete ``settings`` for a launch in ``region``.

    ``strict=False`` (dry runs) lets a missing subscription or ssh key through as empty.
    """
    subscription = settings.get("subscription_id") or ""
    if subscription:
        subscription = _subscription(subscription, "subscription_id")
    else:
        subscription = default_subscription() or ""
    if not subscription and strict:
        raise _bad("subscription_id", f"no Azure subscription: set {ENV_SUBSCRIPTION}, pass "
                   "-o azure.subscription_id=<id>, or choose a default with 'az account set'")
    group = settings.get("resource_group") or f"greenml-{region}"
    if not _GROUP.match(group) or group.endswith("."):
        raise _bad("resource_group", f"{group!r} is not a resource group name (1-90 letters, "
                   "digits, '_', '-', '.', '(', ')'; not ending in '.')")
    subnet = settings.get("subnet_id") or None
    if subnet is not None and not _SUBNET_ID.match(subnet):
        raise _bad("subnet_id", f"{subnet!r} is not a subnet id: expected /subscriptions/<id>/"
                   "resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/"
                   "subnets/<subnet>")
    admin = settings.get("admin_username") or DEFAULT_ADMIN
    if not _ADMIN.match(admin) or admin in RESERVED_ADMIN_NAMES:
        raise _bad("admin_username", f"{admin!r} is not allowed: use a lower-case Linux user "
                   "name that Azure does not reserve (not root, admin, user, ...)")
    key, source = _ssh_key(settings, strict)
    return AzureSettings(
        subscription_id=subscription, resource_group=group, subnet_id=subnet,
        image=_image(settings.get("image") or DEFAULT_IMAGE), admin_username=admin,
        ssh_public_key=key, ssh_key_source=source,
        public_ip=_flag(settings.get("public_ip", ""), "public_ip"),
        operation_timeout_s=_seconds(settings.get("operation_timeout_s"),
                                     "operation_timeout_s"),
    )


def default_subscription() -> str | None:
    """``$AZURE_SUBSCRIPTION_ID``, else the Azure CLI's default subscription, else None."""
    value = os.environ.get(ENV_SUBSCRIPTION, "").strip()
    if value:
        if not _GUID.match(value):
            raise InputError(ENV_SUBSCRIPTION, f"{value!r} is not a subscription id (a GUID)")
        return value
    return cli_default_subscription()


def cli_default_subscription() -> str | None:
    """The subscription ``az account set`` chose, from the Azure CLI's profile, if any."""
    folder = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    try:
        profile = json.loads((folder / "azureProfile.json").read_text("utf-8-sig"))
    except (OSError, ValueError):
        return None
    for entry in profile.get("subscriptions") or []:
        if entry.get("isDefault") and _GUID.match(str(entry.get("id", ""))):
            return str(entry["id"])
    return None


def _subscription(value: str, key: str) -> str:
    if not _GUID.match(value.strip()):
        raise _bad(key, f"{value!r} is not a subscription id (a GUID)")
    return value.strip()


def _image(text: str) -> Image:
    parts = text.split(":")
    if len(parts) != 4 or not all(p.strip() for p in parts):
        raise _bad("image", f"{text!r} is not publisher:offer:sku:version (for example "
                   f"{DEFAULT_IMAGE})")
    return Image(*(p.strip() for p in parts))


def _flag(text: str, key: str) -> bool:
    low = str(text).strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _bad(key, f"{text!r} is not yes or no")


def _seconds(text: str | None, key: str) -> float:
    if text is None or not str(text).strip():
        return DEFAULT_OPERATION_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise _bad(key, f"{text!r} is not a positive number of seconds")
    return value


def _ssh_key(settings: Mapping[str, str], strict: bool) -> tuple[str, str]:
    """The admin's public key and where it came from (the key text is not a secret)."""
    if settings.get("ssh_public_key"):
        return _check_key(settings["ssh_public_key"], "ssh_public_key"), "ssh_public_key"
    named = settings.get("ssh_public_key_file")
    candidates = [named] if named else list(DEFAULT_KEY_FILES)
    for candidate in candidates:
        path = Path(candidate).expanduser()
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            if named:
                raise _bad("ssh_public_key_file", f"{str(path)!r} does not exist") from None
            continue
        except OSError as exc:
            raise _bad("ssh_public_key_file", f"cannot read {str(path)!r}: "
                       f"{exc.strerror}") from None
        if "PRIVATE KEY" in text:
            raise _bad("ssh_public_key_file", f"{str(path)!r} holds a private key: give the "
                       ".pub file")
        return _check_key(text, "ssh_public_key_file"), str(path)
    if strict:
        raise _bad("ssh_public_key", "no ssh public key for the VMs' admin user: pass -o "
                   "azure.ssh_public_key_file=PATH (or ssh_public_key=...), or create "
                   "~/.ssh/id_ed25519.pub with ssh-keygen")
    return "", "none found"


def _check_key(text: str, key: str) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not line.startswith(_KEY_TYPES) or len(line.split()) < 2:
        raise _bad(key, "not an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa-sha2-...)")
    return line
