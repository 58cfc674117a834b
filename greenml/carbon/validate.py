"""Checks every service response passes before a value becomes a Reading.

A check that fails raises ``Invalid`` with the reason; the source turns that into a warning
and a rejected response (``http.rejected``), so malformed data is never used. A value from the
answer is quoted through ``shown`` (scrubbed of every secret, shortened), never as it came.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from greenml.scrub import shown

if TYPE_CHECKING:
    from datetime import datetime

#: Above this a value in g CO2e/kWh is not a grid (coal plants emit about 1,000-1,100 g/kWh
#: over their lifecycle): it is taken for a value in other units and rejected.
MAX_PLAUSIBLE_G_PER_KWH = 3000.0


class Invalid(ValueError):
    """A response, or a part of one, that cannot be used; the message says why."""


def mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{what} is {type(value).__name__}, not an object")
    return value


def items(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"{what} is {type(value).__name__}, not a list")
    return value


def when(value: Any, what: str) -> datetime:
    """A timezone-aware time from ISO 8601 text (``Z`` or an offset)."""
    from datetime import datetime

    if not isinstance(value, str) or not value:
        raise Invalid(f"{what} is missing")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{what} {shown(value)} is not an ISO 8601 time") from None
    if parsed.utcoffset() is None:
        raise Invalid(f"{what} {shown(value)} has no time zone")
    return parsed


def g_per_kwh(value: Any, what: str) -> float:
    """A plausible intensity in g CO2e/kWh: a finite number, not negative, not absurd."""
    if value is None:
        raise Invalid(f"{what} is null")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{what} is {shown(value)}, not a number")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise Invalid(f"{what} is {shown(value)}")
    if number > MAX_PLAUSIBLE_G_PER_KWH:
        raise Invalid(f"{what} is {number:g} g/kWh, more than any grid emits (wrong units?)")
    return number
