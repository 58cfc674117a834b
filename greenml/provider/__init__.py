"""The provider contract: what a plugin hands greenml so that its regions can compete in a plan.

Two small contracts (``greenml.provider.contract``): ``PlanningProvider`` (regions, offers,
capabilities) and ``LaunchingProvider`` (create, terminate, find, states, classify, describe,
typed settings). ``Provider`` and ``CatalogProvider`` implement both with safe defaults.
This package exports every name a provider author needs.
"""

from __future__ import annotations

from greenml.errors import ConfigError, closest
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
from greenml.provider.base import CatalogProvider, Provider
from greenml.provider.boot import BootPlatform, boot_script
from greenml.provider.capability import CAPABILITIES, Capability
from greenml.provider.contract import LaunchingProvider, PlanningProvider
from greenml.provider.quota import Quota
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
from greenml.retry import parse_retry_after

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
