"""A disk cache for validated readings: one JSON file per key, written atomically, with a TTL.

Keys are (source, zone, kind, time bucket, and what else the request depended on). Files are
named by a hash of the key and hold only readings, never a header, token or password, so a
rejected response or a secret can never be served from the cache; an entry that would hold a
configured secret anyway (``scrub.holds_secret``) is not written.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from greenml.carbon import settings
from greenml.carbon.http import debug
from greenml.scrub import holds_secret

if TYPE_CHECKING:
    from pathlib import Path

    from greenml.carbon import Reading

#: The clock the cache ages entries by (tests move it).
clock: Callable[[], float] = time.time


class DiskCache:
    """``get(key, max_age_s)`` and ``put(key, value)``; a failing disk only costs a request."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else settings.cache_dir() / "carbon"

    def path(self, key: Sequence[str]) -> Path:
        import hashlib
        import json

        digest = hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:40]
        folder = "".join(c if c.isalnum() or c in "-_" else "_" for c in key[0]) or "source"
        return self.directory / folder / f"{digest}.json"

    def get(self, key: Sequence[str], max_age_s: float) -> Any | None:
        import json

        if max_age_s <= 0:
            return None
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            debug("ignoring unreadable cache file %s: %s", path, exc)
            return None
        stored = data.get("stored_at") if isinstance(data, dict) else None
        if not isinstance(stored, (int, float)):
            return None
        age = clock() - stored
        if age > max_age_s or age < -60:
            return None
        return data.get("value")

    def put(self, key: Sequence[str], value: Any) -> None:
        import json
        import tempfile

        path = self.path(key)
        text = json.dumps({"stored_at": clock(), "value": value})
        if holds_secret(text):
            debug("not caching %s: the entry would hold a secret", path.name)
            return
        tmp = ""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            debug("could not write cache file %s: %s", path, exc)
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def dump(readings: Sequence[Reading]) -> list[list[Any]]:
    return [[r.at.isoformat(), r.g_per_kwh, r.signal, r.kind, r.source, r.zone, r.period_s]
            for r in readings]


def load(value: Any) -> list[Reading] | None:
    """Readings from a cache entry; None when the entry is not what ``dump`` wrote."""
    from datetime import datetime

    from greenml.carbon import Reading

    if not isinstance(value, list):
        return None
    try:
        return [Reading(datetime.fromisoformat(at), g, signal, kind, source, zone, period)
                for at, g, signal, kind, source, zone, period in value]
    except (TypeError, ValueError):
        return None


def cached_readings(key: Sequence[str], fetch: Callable[[], Sequence[Reading] | None],
                    max_age_s: float | None = None) -> list[Reading] | None:
    """Readings for ``key`` from the cache while fresh, else from ``fetch`` (then cached)."""
    cache = DiskCache()
    age = settings.cache_ttl_s() if max_age_s is None else max_age_s
    hit = load(cache.get(key, age))
    if hit is not None:
        debug("cache hit %s", key[:4])
        return hit
    fresh = fetch()
    if fresh is None:
        return None
    readings = list(fresh)
    if age > 0 and readings:
        cache.put(key, dump(readings))
    return readings
