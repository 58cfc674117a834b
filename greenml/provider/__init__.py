"""The provider contract: what a plugin hands greenml so that its regions can compete in a plan.

Two small contracts (``greenml.provider.contract``): ``PlanningProvider`` (regions, offers,
capabilities) and ``LaunchingProvider`` (create, terminate, find, states, classify, describe,
typed settings). ``Provider`` and ``CatalogProvider`` implement both with safe defaults.
This package exports every name a provider author needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenml.errors import ConfigError, closest
from greenml.provider.base import CatalogProvider, Provider
from greenml.provider.capability import CAPABILITIES, Capability
from greenml.provider.contract import LaunchingProvider, PlanningProvider
from greenml.provider.settings import (
    boolean,
    check_settings,
    comma_list,
    parse_settings,
    positive_number,
    setting,
    settings_help,
    text,
)

if TYPE_CHECKING:
    from greenml.launch.types import (
        TAG_CO2E,
        TAG_INDEX,
        TAG_LAUNCH_ID,
        TAG_NAME,
        Failure,
        InstanceRequest,
        Journal,
        Resource,
    )
    from greenml.provider.boot import BootPlatform, boot_script
    from greenml.provider.quota import Quota
    from greenml.retry import parse_retry_after

#: The names only launching needs, and where they live: loaded when first asked for, so a
#: plugin that imports ``greenml.provider`` to plan loads none of the launch code.
_LAUNCHING = {
    **dict.fromkeys(("TAG_CO2E", "TAG_INDEX", "TAG_LAUNCH_ID", "TAG_NAME", "Failure",
                     "InstanceRequest", "Journal", "Resource"), "greenml.launch.types"),
    "BootPlatform": "greenml.provider.boot", "boot_script": "greenml.provider.boot",
    "Quota": "greenml.provider.quota", "parse_retry_after": "greenml.retry",
}


def __getattr__(name: str) -> Any:
    if name not in _LAUNCHING:
        raise AttributeError(f"module 'greenml.provider' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAUNCHING[name]), name)
    globals()[name] = value
    return value


#: What a provider author imports: the contracts, what a launch hands it and what it hands
#: back, the tags and boot script every cloud uses, typed settings, and the helpers for its
#: errors.
__all__ = [
    "CAPABILITIES", "BootPlatform", "TAG_CO2E", "TAG_INDEX", "TAG_LAUNCH_ID", "TAG_NAME",
    "Capability",
    "CatalogProvider", "ConfigError", "Failure", "InstanceRequest", "Journal",
    "LaunchingProvider", "PlanningProvider", "Provider", "Quota", "Resource", "boolean",
    "boot_script",
    "check_settings", "closest", "comma_list", "parse_retry_after", "parse_settings",
    "positive_number", "setting", "settings_help", "text",
]
