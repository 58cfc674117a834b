"""Numeric ``GREENML_*`` environment variables, checked where they are read.

A malformed value (``abc``, ``nan``, ``1e400``, out of range) is an InputError naming the
variable and what it accepts, so the command exits 2 with that one line.
"""

from __future__ import annotations

import math
import os

from greenml.errors import InputError


def number(name: str, default: float, *, least: float = 0.0, most: float | None = None,
           unit: str = "") -> float:
    """The finite number in ``$name`` (``default`` when unset or blank), within
    [``least``, ``most``]."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= least and (most is None or value <= most)):
        span = f">= {least:g}" if most is None else f"from {least:g} to {most:g}"
        noun = f"a number of {unit}" if unit else "a number"
        raise InputError(name, f"must be {noun} {span}, got {raw!r}")
    return value


def strict_plugins() -> bool:
    """``GREENML_STRICT_PLUGINS``: re-raise a plugin's failure instead of recording it."""
    return os.environ.get("GREENML_STRICT_PLUGINS", "") not in ("", "0", "false", "no")
