"""Package data files (CSV): rows or columns with file and line, numbers, the documented defaults.

Nothing here builds a region, offer or accelerator (``datafiles`` does), so the value types
may read the documented defaults without an import cycle.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from greenml.errors import CatalogError, GreenmlError
from greenml.figure import Figure

T = TypeVar("T")


def read_bytes(package: str, filename: str) -> bytes | None:
    """A data file of a package, or None when it has none.

    Straight from the package's folders where it is installed as files (the usual case);
    ``importlib.resources`` only for a package inside a zip, since importing it costs
    about 25 ms of every command.
    """
    import importlib
    from pathlib import Path

    module = importlib.import_module(package)
    folders = list(getattr(module, "__path__", ()))
    if folders and all(Path(f).is_dir() for f in folders):
        for folder in folders:
            path = Path(folder) / filename
            if path.is_file():
                return path.read_bytes()
        return None
    from importlib import resources

    resource = resources.files(package).joinpath(filename)
    return resource.read_bytes() if resource.is_file() else None


def _text(package: str, filename: str) -> tuple[str, io.StringIO]:
    """A package's CSV file as text, with the label errors name it by."""
    label = f"{package.replace('.', '/')}/{filename}"
    data = read_bytes(package, filename)
    if data is None:
        raise FileNotFoundError(f"{label}: no such file")
    return label, io.StringIO(data.decode("utf-8"), newline="")


def rows(package: str, filename: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Yield (file name, line number, row) for each data row of a CSV in a package."""
    label, text = _text(package, filename)
    reader = csv.DictReader(text)
    for row in reader:
        yield label, reader.line_num, row


def columns(package: str, filename: str, *names: str) -> Iterator[tuple[str, int, list[str]]]:
    """Yield (file name, line number, the ``names`` columns' values) for each data row.

    ``rows`` without a dict per row, for a file every plan reads whole. A column missing
    from the header, or a row too short to have it, raises CatalogError naming the file
    (and the line).
    """
    label, text = _text(package, filename)
    reader = csv.reader(text)
    header = next(reader, [])
    for name in names:
        if name not in header:
            raise CatalogError(f"{label}: missing column {name!r}")
    at = [header.index(name) for name in names]
    last = max(at, default=-1)
    for row in reader:
        if not row:
            continue
        if len(row) <= last:
            raise CatalogError(f"{label}, line {reader.line_num}: {len(row)} columns, "
                               f"the header has {len(header)}")
        yield label, reader.line_num, [row[i] for i in at]


def parse(
    package: str, filename: str, build: Callable[[dict[str, str]], T]
) -> tuple[T, ...]:
    """Build one value per row; any error is re-raised naming file, line and field."""
    out = []
    for label, line, row in rows(package, filename):
        try:
            out.append(build(row))
        except KeyError as exc:
            raise CatalogError(f"{label}, line {line}: missing column {exc.args[0]!r}") from None
        except (GreenmlError, ValueError, TypeError) as exc:
            raise CatalogError(f"{label}, line {line}: {exc}") from None
    return tuple(out)


def number(row: dict[str, str], name: str) -> float | None:
    """A float column; empty means unknown. A bad value names its column."""
    return to_number(row[name], name)


def to_number(text: str, name: str) -> float | None:
    """The float in a column's text; empty means unknown. A bad value names the column."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}: not a number: {text!r}") from None


@functools.cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English short name."""
    return {row["code"]: row["name"] for _, _, row in rows("greenml.data", "countries.csv")}


@functools.cache
def defaults() -> dict[str, Figure]:
    """The documented assumptions (default utilization, the baseline datacenter)."""

    def build(row: dict[str, Any]) -> Figure:
        value = number(row, "value")
        if value is None:
            raise ValueError("value: required")
        return Figure(row["name"], value, row["unit"], row["source"], row["year"], row["note"])

    return {f.name: f for f in parse("greenml.data", "defaults.csv", build)}
