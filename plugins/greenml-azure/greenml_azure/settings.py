"""The Azure settings a launch takes (``-o azure.key=value``), parsed once into
``AzureSettings`` before anything is created.

Each value is checked here, where it enters, so a bad one is refused naming its key. What
only the launch's region or environment can complete (the subscription, the resource group's
default name, the ssh key read from a file) is completed by ``greenml_azure.config``. A text
setting left blank means its default, as if it were not given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TypeVar

import attrs
from attrs import frozen

from greenml.provider import setting, text

T = TypeVar("T")

#: The Azure Data Science VM for HPC: Ubuntu 22.04 with the NVIDIA driver, CUDA and InfiniBand.
DEFAULT_IMAGE = "microsoft-dsvm:ubuntu-hpc:2204:latest"
DEFAULT_ADMIN = "azureuser"
DEFAULT_OPERATION_TIMEOUT_S = 1800.0

#: User names Azure refuses for a Linux VM's admin (from its osProfile validation).
RESERVED_ADMIN_NAMES = frozenset({
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1",
    "1", "123", "a", "actuser", "adm", "admin2", "aspnet", "backup", "console", "david",
    "guest", "john", "owner", "root", "server", "sql", "support", "support_388945a0", "sys",
    "test2", "test3", "user4", "user5",
})

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{12}$")
_GROUP = re.compile(r"^[-\w.()]{1,90}$")
_ADMIN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_KEY_TYPES = ("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
              "ecdsa-sha2-nistp521 ")
_TRUE, _FALSE = {"yes", "true", "1", "on"}, {"no", "false", "0", "off", ""}


@frozen
class Image:
    """A marketplace image reference."""

    publisher: str
    offer: str
    sku: str
    version: str

    @classmethod
    def parse(cls, raw: str) -> Image:
        """``publisher:offer:sku:version``."""
        parts = raw.strip().split(":")
        if len(parts) != 4 or not all(p.strip() for p in parts):
            raise ValueError(f"{raw.strip()!r} is not publisher:offer:sku:version (for "
                             f"example {DEFAULT_IMAGE})")
        return cls(*(p.strip() for p in parts))

    def to_arm(self) -> dict[str, str]:
        return attrs.asdict(self)

    def __str__(self) -> str:
        return ":".join((self.publisher, self.offer, self.sku, self.version))


def blank_is(default: T, parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse``, for which blank text means ``default``."""
    def parser(raw: str) -> T:
        return default if not raw.strip() else parse(raw)
    return parser


def subscription_guid(raw: str) -> str:
    """A subscription id: a GUID (blank: the environment's, completed at launch)."""
    value = text(raw)
    if value and not GUID.match(value):
        raise ValueError(f"{value!r} is not a subscription id (a GUID)")
    return value


def group_name(raw: str) -> str:
    """A resource group name (blank: ``greenml-<region>``, completed at launch)."""
    group = text(raw)
    if group and (not _GROUP.match(group) or group.endswith(".")):
        raise ValueError(f"{group!r} is not a resource group name (1-90 letters, digits, '_', "
                         "'-', '.', '(', ')'; not ending in '.')")
    return group


def linux_user(raw: str) -> str:
    admin = text(raw)
    if not _ADMIN.match(admin) or admin in RESERVED_ADMIN_NAMES:
        raise ValueError(f"{admin!r} is not allowed: use a lower-case Linux user name that "
                         "Azure does not reserve (not root, admin, user, ...)")
    return admin


def openssh_key(raw: str) -> str:
    """The first line of an OpenSSH public key (the key is not a secret)."""
    line = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    if line and (not line.startswith(_KEY_TYPES) or len(line.split()) < 2):
        raise ValueError("not an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa-sha2-...)")
    return line


def yes_or_no(raw: str) -> bool:
    """yes/no, true/false, on/off or 1/0 (blank: no)."""
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not yes or no")


def seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{raw!r} is not a positive number of seconds")
    return value


@frozen
class AzureSettings:
    """What the user may choose for a launch's VMs; empty means Azure's (or greenml's)
    default, completed for the launch's region and environment by ``config.resolve``."""

    subscription_id: str = setting(
        help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID, else the Azure CLI's "
             "default subscription)", parse=subscription_guid)
    resource_group: str = setting(
        help="resource group for everything greenml creates (default greenml-<region>; "
             "created if missing, never deleted)", parse=group_name)
    # Checked at launch, not here: a plain -o subnet_id=... reaches AWS too, whose subnet ids
    # are not ARM ids, and must not be refused for Azure's sake.
    subnet_id: str = setting(
        help="ARM id of an existing subnet for the VMs' NICs (default: subnet 'default' of "
             "VNet greenml-vnet-<region> in the resource group, created if missing)")
    image: Image = setting(
        help=f"marketplace image publisher:offer:sku:version (default {DEFAULT_IMAGE})",
        default=Image.parse(DEFAULT_IMAGE),
        parse=blank_is(Image.parse(DEFAULT_IMAGE), Image.parse))
    admin_username: str = setting(help=f"admin user on the VMs (default {DEFAULT_ADMIN})",
                                  default=DEFAULT_ADMIN,
                                  parse=blank_is(DEFAULT_ADMIN, linux_user))
    ssh_public_key: str = setting(help="the admin user's ssh public key, as text",
                                  parse=openssh_key)
    ssh_public_key_file: str = setting(help="file holding it (default ~/.ssh/id_ed25519.pub, "
                                       "else ~/.ssh/id_rsa.pub)")
    public_ip: bool = setting(help="yes: give each VM a Standard public IP, deleted with it "
                              "(default no)", default=False, parse=yes_or_no)
    operation_timeout_s: float = setting(
        help="seconds to wait for one Azure operation before giving up on the region "
             f"(default {DEFAULT_OPERATION_TIMEOUT_S:.0f})",
        default=DEFAULT_OPERATION_TIMEOUT_S,
        parse=blank_is(DEFAULT_OPERATION_TIMEOUT_S, seconds))
