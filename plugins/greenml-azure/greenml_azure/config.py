"""What the environment adds to a launch's ``AzureSettings``: the subscription, the resource
group's default name, the admin's ssh key from a file, and the subnet's check.

Pure and SDK-free. A missing or bad piece raises ``greenml.InputError`` naming the setting
(``azure.<key>``) or the environment variable, when the launch (or dry run) reaches Azure:
these depend on the region, on files and on the environment, which parsing the settings does
not read.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import attrs

from greenml import InputError
from greenml_azure.settings import GUID, AzureSettings, openssh_key

ENV_SUBSCRIPTION = "AZURE_SUBSCRIPTION_ID"
DEFAULT_KEY_FILES = ("~/.ssh/id_ed25519.pub", "~/.ssh/id_rsa.pub")

_SUBNET_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                        r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$", re.I)


@attrs.frozen
class Target:
    """Where a launch's VMs go in one region and the key their admin logs in with, completed
    from the environment. ``subscription_id`` and ``ssh_public_key`` are empty only when
    resolved leniently (for a dry run)."""

    subscription_id: str
    resource_group: str
    ssh_public_key: str
    #: Where the key came from: the setting, a file's path, or "none found".
    ssh_key_source: str


def _bad(key: str, message: str) -> InputError:
    return InputError("settings", f"azure.{key}: {message}")


def resolve(settings: AzureSettings, region: str, *, strict: bool = True) -> Target:
    """Complete ``settings`` for a launch in ``region``.

    ``strict=False`` (dry runs) lets a missing subscription or ssh key through as empty.
    """
    subscription = settings.subscription_id or default_subscription() or ""
    if not subscription and strict:
        raise _bad("subscription_id", f"no Azure subscription: set {ENV_SUBSCRIPTION}, pass "
                   "-o azure.subscription_id=<id>, or choose a default with 'az account set'")
    if settings.subnet_id and not _SUBNET_ID.match(settings.subnet_id):
        raise _bad("subnet_id", f"{settings.subnet_id!r} is not a subnet id: expected "
                   "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/"
                   "virtualNetworks/<vnet>/subnets/<subnet>")
    key, source = _ssh_key(settings, strict)
    return Target(subscription_id=subscription,
                  resource_group=settings.resource_group or f"greenml-{region}",
                  ssh_public_key=key, ssh_key_source=source)


def default_subscription() -> str | None:
    """``$AZURE_SUBSCRIPTION_ID``, else the Azure CLI's default subscription, else None."""
    value = os.environ.get(ENV_SUBSCRIPTION, "").strip()
    if value:
        if not GUID.match(value):
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
        if entry.get("isDefault") and GUID.match(str(entry.get("id", ""))):
            return str(entry["id"])
    return None


def _ssh_key(settings: AzureSettings, strict: bool) -> tuple[str, str]:
    """The admin's public key and where it came from (the key text is not a secret)."""
    if settings.ssh_public_key:
        return settings.ssh_public_key, "ssh_public_key"
    named = settings.ssh_public_key_file
    for candidate in [named] if named else list(DEFAULT_KEY_FILES):
        path = Path(candidate).expanduser()
        try:
            content = path.read_text("utf-8")
        except FileNotFoundError:
            if named:
                raise _bad("ssh_public_key_file", f"{str(path)!r} does not exist") from None
            continue
        except OSError as exc:
            raise _bad("ssh_public_key_file", f"cannot read {str(path)!r}: "
                       f"{exc.strerror}") from None
        if "PRIVATE KEY" in content:
            raise _bad("ssh_public_key_file", f"{str(path)!r} holds a private key: give the "
                       ".pub file")
        try:
            key = openssh_key(content)
        except ValueError as exc:
            raise _bad("ssh_public_key_file", str(exc)) from None
        if not key:
            raise _bad("ssh_public_key_file", "not an OpenSSH public key (ssh-ed25519, "
                       "ssh-rsa or ecdsa-sha2-...)")
        return key, str(path)
    if strict:
        raise _bad("ssh_public_key", "no ssh public key for the VMs' admin user: pass -o "
                   "azure.ssh_public_key_file=PATH (or ssh_public_key=...), or create "
                   "~/.ssh/id_ed25519.pub with ssh-keygen")
    return "", "none found"
