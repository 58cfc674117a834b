"""A provider's ``offers.csv`` compiled into columns (``offers.columns.json``) at build time.

Parsing thousands of CSV rows into validated ``Offer`` objects was most of a cold ``greenml
plan``; the compiled file loads straight into an ``OfferTable`` (one JSON parse, no object per
offer). ``plugins/build_catalogs.py`` writes it next to each ``offers.csv`` with ``write``,
from the very ``Offer`` objects parsing the CSV gives, so it holds nothing the CSV does not.

It records the CSV's CRC-32 and size. ``load`` uses it only while they match the CSV beside
it and returns None otherwise (a CSV edited by hand since, a file of another format), and the
caller parses the CSV instead: a stale compiled file costs time, never a wrong figure.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from greenml.datafiles import offer_from_row, parse
from greenml.errors import CatalogError
from greenml.offer_table import NUMBERS, TEXT, OfferTable

FILE = "offers.columns.json"
SOURCE = "offers.csv"
#: Bumped when the layout changes; a file of another format is not used (the CSV is).
FORMAT = 1


def digest(data: bytes) -> str:
    """What identifies a CSV's content (a checksum, not a security measure)."""
    return f"crc32:{zlib.crc32(data):08x}:size:{len(data)}"


def load(package: str, provider: str) -> OfferTable | None:
    """``package``'s compiled offers for ``provider``; None when there is no compiled file or
    it no longer matches the CSV (then parse the CSV)."""
    from greenml.packagedata import read_bytes

    compiled = read_bytes(package, FILE)
    if compiled is None:
        return None
    label = f"{package.replace('.', '/')}/{FILE}"
    try:
        data = json.loads(compiled)
    except ValueError as exc:
        raise CatalogError(f"{label}: not JSON ({exc}); rebuild it with "
                           "plugins/build_catalogs.py") from None
    source = read_bytes(package, SOURCE)
    if (not isinstance(data, dict) or data.get("format") != FORMAT or source is None
            or data.get("source") != {SOURCE: digest(source)}):
        return None
    try:
        return _table(data["offers"], provider)
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"{label}: unreadable ({type(exc).__name__}: {exc}); rebuild it "
                           "with plugins/build_catalogs.py") from None


def _table(columns: dict[str, Any], provider: str) -> OfferTable:
    def coded(name: str) -> tuple[tuple[Any, ...], list[int]]:
        values, codes = tuple(columns[name]["values"]), columns[name]["codes"]
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"{name}: values must be text")
        if codes and (min(codes) < 0 or max(codes) >= len(values)):
            raise ValueError(f"{name}: a code is out of range")
        return values, codes

    regions, place = coded("region")
    numbers = {name: columns[name] for name in NUMBERS}
    for name, values in numbers.items():
        if not set(map(type, values)) <= {int, float, type(None)}:
            raise ValueError(f"{name}: values must be numbers or null")
    return OfferTable([(provider, r) for r in regions], place,
                      {name: coded(name) for name in TEXT}, numbers)


def write(package: str, provider: str) -> Path:
    """Compile ``package``'s ``offers.csv`` (offers of ``provider``) into ``FILE`` beside it.

    The rows go through the same parsing as a plan's fallback (every field validated), so a
    bad row fails here, naming its line, rather than in a user's plan.
    """
    import importlib

    folders = [Path(p) for p in importlib.import_module(package).__path__]
    folder = next((f for f in folders if (f / SOURCE).is_file()), None)
    if folder is None:
        raise CatalogError(f"{package}: no {SOURCE} in {', '.join(map(str, folders))}")
    table = OfferTable.from_offers(parse(package, SOURCE, offer_from_row(provider)))
    if {p for p, _ in table.places} - {provider}:
        raise CatalogError(f"{package}/{SOURCE}: offers of another provider than {provider!r}")
    columns: dict[str, Any] = {
        "region": {"values": [r for _, r in table.places], "codes": table.place}}
    columns.update({name: {"values": list(table.text[name][0]), "codes": table.text[name][1]}
                    for name in TEXT})
    columns.update({name: table.numbers[name] for name in NUMBERS})
    # One column per line, so that a rebuilt catalog diffs column by column.
    body = ",\n".join(f"  {json.dumps(name)}: {json.dumps(column, allow_nan=False)}"
                      for name, column in columns.items())
    source = {SOURCE: digest((folder / SOURCE).read_bytes())}
    head = f'{{"format": {FORMAT}, "source": {json.dumps(source)},\n"offers": {{\n'
    (folder / FILE).write_text(f"{head}{body}\n}}}}\n", encoding="utf-8")
    return folder / FILE
