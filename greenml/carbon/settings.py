"""The environment variables the carbon sources read, each read when it is used.

Reading at use (not at import) means a changed environment applies to the next request.
A malformed number is an InputError naming the variable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: Every variable the built-in sources read, with what it does (``docs/carbon.md`` lists them).
VARIABLES = {
    "ELECTRICITYMAPS_API_TOKEN": "Electricity Maps API token (sent as the auth-token header)",
    "ELECTRICITYMAPS_API_URL": "Electricity Maps API base, default https://api.electricitymap.org/v3",
    "ELECTRICITYMAPS_EMISSION_FACTOR_TYPE": "lifecycle (default) or direct",
    "WATTTIME_USERNAME": "WattTime user name (HTTP Basic on /login)",
    "WATTTIME_PASSWORD": "WattTime password",
    "WATTTIME_API_URL": "WattTime API base, default https://api.watttime.org",
    "WATTTIME_SIGNAL_TYPE": "co2_moer (marginal, default) or co2_aoer (average)",
    "GREENML_UK_CARBON_API_URL": "UK carbon intensity API base, default "
                                 "https://api.carbonintensity.org.uk",
    "GREENML_CACHE_DIR": "cache directory, default the user cache directory (platformdirs)",
    "GREENML_CARBON_CACHE_TTL_S": "seconds a cached reading stays fresh, default 900; 0 disables",
    "GREENML_CARBON_CONNECT_TIMEOUT_S": "seconds to connect, default 5",
    "GREENML_CARBON_READ_TIMEOUT_S": "seconds to wait for each read, default 20",
    "GREENML_CARBON_ATTEMPTS": "attempts per request on 429, 5xx or a network error, default 3",
    "GREENML_CARBON_DEADLINE_S": "seconds each source may spend answering in one plan (all "
                                 "requests, retries and waits), default 30",
}

DEFAULT_CACHE_TTL_S = 900.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 20.0
DEFAULT_ATTEMPTS = 3
#: Long enough for a working service to answer a plan's regions; short enough that a dead or
#: dripping one costs a plan half a minute, not the minutes its retries and reads would.
DEFAULT_DEADLINE_S = 30.0


def text(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def number(name: str, default: float, minimum: float = 0.0) -> float:
    """A finite number >= ``minimum`` from ``$name`` (see ``greenml.environment.number``)."""
    from greenml.environment import number as checked

    return checked(name, default, least=minimum)


def cache_dir() -> Path:
    """Where cached readings live: ``$GREENML_CACHE_DIR`` or the user's cache directory."""
    from pathlib import Path

    given = text("GREENML_CACHE_DIR")
    if given:
        return Path(given).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("greenml"))


def cache_ttl_s() -> float:
    return number("GREENML_CARBON_CACHE_TTL_S", DEFAULT_CACHE_TTL_S)


def connect_timeout_s() -> float:
    return number("GREENML_CARBON_CONNECT_TIMEOUT_S", DEFAULT_CONNECT_TIMEOUT_S, 0.001)


def read_timeout_s() -> float:
    return number("GREENML_CARBON_READ_TIMEOUT_S", DEFAULT_READ_TIMEOUT_S, 0.001)


def attempts() -> int:
    return max(1, int(number("GREENML_CARBON_ATTEMPTS", DEFAULT_ATTEMPTS, 1)))


def deadline_s() -> float:
    return number("GREENML_CARBON_DEADLINE_S", DEFAULT_DEADLINE_S, 0.001)


def check() -> None:
    """Read every numeric variable once, so that a malformed one (``abc``, ``nan``) stops a
    plan that asks a live source with an InputError naming it (exit 2), instead of being
    taken for that source's failure and fallen back from."""
    cache_ttl_s()
    connect_timeout_s()
    read_timeout_s()
    attempts()
    deadline_s()
