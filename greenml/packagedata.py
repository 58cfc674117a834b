"""Package data files (CSV): rows with their file and line, numbers, the documented defaults.

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


def rows(package: str, filename: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Yield (file name, line number, row) for each data row of a CSV in a package."""
    label = f"{package.replace('.', '/')}/{filename}"
    data = read_bytes(package, filename)
    if data is None:
        raise FileNotFoundError(f"{label}: no such file")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    for row in reader:
        yield label, reader.line_num, row


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
    text = row[name].strip()
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
