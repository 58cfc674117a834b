"""Finding the installed ``greenml`` entry points without importing ``importlib.metadata``.

``importlib.metadata.entry_points(group=...)`` imports email, zipfile, csv and pathlib and
parses every installed distribution's entry points: 60-70 ms of a cold ``greenml plan`` on the
reference machine, where this reads the file system the same way in about 3 ms
(``benchmarks/bench_plan.py``). It reads it afresh on every call, with nothing cached across
processes, so installing or removing a plugin shows at once.

The same distributions are found as ``importlib.metadata`` finds them: each ``*.dist-info``
or ``*.egg-info`` directory directly in a ``sys.path`` directory, the first of each
(normalized) name along ``sys.path`` winning. Where that finder is not the whole story (a zip
file or an ``.egg`` on ``sys.path``, another finder in ``sys.meta_path`` that finds
distributions), ``importlib.metadata`` itself answers.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import attrs


@attrs.frozen
class Distribution:
    """What greenml reads of a distribution: ``metadata["Name"]`` and ``version``, as
    ``importlib.metadata.Distribution`` has them."""

    metadata: Mapping[str, str]
    version: str


@attrs.frozen
class EntryPoint:
    """One entry point: ``name = value`` in ``group`` of distribution ``dist``."""

    name: str
    value: str
    group: str
    dist: Distribution

    def load(self) -> Any:
        """The object the entry point names (``module`` or ``module:attr.attr``), imported."""
        import importlib

        module, _, attr = self.value.partition(":")
        obj = importlib.import_module(module.strip())
        for part in filter(None, attr.partition("[")[0].strip().split(".")):
            obj = getattr(obj, part)
        return obj


def find(group: str) -> list[Any]:
    """The entry points of ``group`` of every installed distribution (``importlib.metadata``'s
    own objects where it has to answer; see the module's docstring)."""
    if not _plain_path():
        from importlib import metadata

        return list(metadata.entry_points(group=group))
    return [ep for info in _distributions() for ep in _entry_points(info, group)]


def _plain_path() -> bool:
    """Whether every distribution is in a directory on ``sys.path`` (no zip, no egg, no other
    distribution finder), where scanning the directories finds exactly what
    ``importlib.metadata`` finds."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None):
            return False
    return not any(not isinstance(entry, str) or entry.lower().endswith(".egg")
                   or os.path.isfile(entry) for entry in sys.path)


def _distributions() -> Iterator[str]:
    """The metadata directory of every distribution, the first of each name along sys.path."""
    seen: set[str] = set()
    for entry in sys.path:
        try:
            children = os.listdir(entry or ".")
        except OSError:
            continue
        for child in children:
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            name = re.sub(r"[-_.]+", "_", low.rpartition(".")[0].partition("-")[0])
            if name not in seen:
                seen.add(name)
                yield os.path.join(entry or ".", child)


def _entry_points(info: str, group: str) -> list[EntryPoint]:
    """The entry points of ``group`` in the metadata directory ``info`` (none: not read)."""
    text = _read(info, "entry_points.txt")
    if text is None or group not in text:
        return []
    pairs: list[tuple[str, str]] = []
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.strip()))
    if not pairs:
        return []
    dist = _distribution(info)
    return [EntryPoint(name, value, group, dist) for name, value in pairs]


def _distribution(info: str) -> Distribution:
    """Name and version from the METADATA (or PKG-INFO) headers, as the email parser reads
    them: the first of each, up to the first blank line."""
    text = _read(info, "METADATA") or _read(info, "PKG-INFO") or ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        if colon and not line[0].isspace():
            found.setdefault(key.strip().lower(), value.strip())
    return Distribution({"Name": found.get("name", "")}, found.get("version", ""))


def _read(folder: str, name: str) -> str | None:
    try:
        with open(os.path.join(folder, name), encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError):
        return None
