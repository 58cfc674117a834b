"""Reading the shared reference data and writing package data, the same way for every builder.

Output must be deterministic, so that a rebuild from unchanged sources changes no byte: rows
come sorted, lines end in "\\n", numbers are written in their shortest exact form (1.10 ->
1.1, 768.0 -> 768) and composed prices are rounded to 6 decimals (the precision of the
source prices).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data"


def read_csv(path: Path, skip_lines: int = 0) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts; header names and cells stripped of blanks."""
    with path.open(newline="", encoding="utf-8") as handle:
        for _ in range(skip_lines):
            handle.readline()
        reader = csv.DictReader(handle)
        rows = []
        for row in reader:
            rows.append({(k or "").strip(): (v or "").strip() for k, v in row.items()})
        return rows


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    """Write rows (already sorted) with "\\n" line endings and minimal quoting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(text)


def to_float(text: str) -> float | None:
    """The number in a cell, or None when the cell is empty or not a plain number."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def fmt_num(value: float | str | None) -> str:
    """Shortest exact text of a number: 1.10 -> '1.1', 768.0 -> '768', None -> ''."""
    if value is None or value == "":
        return ""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    return repr(number)


def fmt_price(value: float) -> str:
    """A (possibly summed) price rounded to the 6 decimals the sources use."""
    return fmt_num(round(value, 6))


def years_in(text: str) -> list[int]:
    """All 4-digit years (1900-2099) mentioned in a text."""
    return [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", text)]


def newest_year(text: str) -> int:
    """The latest year a text mentions (0 when none)."""
    return max(years_in(text), default=0)


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


@dataclass
class BuildLog:
    """What a builder skipped or noticed, for its report and the docs page."""

    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_row(rows: list[dict[str, str]], key: str, value: str) -> dict[str, str]:
    """The single row whose column `key` equals `value` (error when absent or repeated)."""
    matches = [r for r in rows if r.get(key) == value]
    if len(matches) != 1:
        raise SystemExit(f"expected one row with {key}={value!r}, found {len(matches)}")
    return matches[0]


def search(pattern: str, text: str) -> re.Match[str]:
    """re.search that fails loudly: the figures quoted in source notes must be found."""
    match = re.search(pattern, text)
    if not match:
        raise SystemExit(f"pattern {pattern!r} not found in {text!r}")
    return match


@dataclass
class Sources:
    """All shared input files, loaded once and handed to every builder."""

    accelerators: list[dict[str, str]]
    table1: list[dict[str, str]]
    table3: list[dict[str, str]]
    claims: list[dict[str, str]]
    ga_tdp: list[dict[str, str]]
    mlco2_gpus: list[dict[str, str]]
    cloud_regions: list[dict[str, str]]
    pue: list[dict[str, str]]
    instances: list[dict[str, str]]
    gcp_vms: list[dict[str, str]]


def load_sources(shared: Path) -> Sources:
    """Read every input file under the shared data folder."""
    return Sources(
        accelerators=read_csv(shared / "accelerators.csv"),
        table1=read_csv(shared / "patterson2021_table1.csv"),
        table3=read_csv(shared / "patterson2021_table3_avg_power.csv"),
        claims=read_csv(shared / "patterson2021_claims.csv"),
        ga_tdp=read_csv(shared / "raw" / "greenalgorithms_latest_TDP_gpu.csv", skip_lines=1),
        mlco2_gpus=read_csv(shared / "raw" / "mlco2_impact_gpus.csv"),
        cloud_regions=read_csv(shared / "cloud_regions.csv"),
        pue=read_csv(shared / "pue.csv"),
        instances=read_csv(shared / "instance_types.csv"),
        gcp_vms=read_csv(shared / "raw" / "skypilot-format" / "gcp_vms.csv"),
    )


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A builder's command line: ``--shared PATH``, described by its docstring's first line."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help=f"shared reference data folder (default: {DEFAULT_SHARED})")
    return parser
