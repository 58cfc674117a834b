"""What a run measured, read from wherever it was written: the ``greenml-measure=`` lines of
a launch's consoles, a record file (``--measured``), or CodeCarbon's ``emissions.csv``.

Each becomes one ``measurement`` dict: hours (the longest node's wall time), kWh per device
class and in total (summed over nodes), the GPUs seen and their average power, the methods,
what could not be measured, and where it came from. A source that measured nothing gives a
measurement with ``nothing_measured`` and no kWh: never a figure made up to fill the gap.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from greenml.errors import InputError
from greenml.measure.sampler import JOULES_PER_KWH, LINE_PREFIX

#: CodeCarbon's emissions.csv columns read: seconds, kWh (total, GPU, CPU, RAM), kg CO2e.
CODECARBON_COLUMNS = ("duration", "energy_consumed", "emissions", "gpu_energy", "cpu_energy",
                      "ram_energy")


def console_records(text: str) -> list[dict[str, Any]]:
    """Every ``greenml-measure=`` record in a console's text (a console may prefix a line
    with a timestamp; a line cut short by the console is skipped)."""
    found = []
    for line in text.splitlines():
        at = line.find(LINE_PREFIX)
        if at < 0:
            continue
        try:
            record = json.loads(line[at + len(LINE_PREFIX):])
        except ValueError:
            continue
        if isinstance(record, dict) and "greenml_measure" in record:
            found.append(record)
    return found


def from_records(records: Sequence[Mapping[str, Any]], source: str) -> dict[str, Any]:
    """One measurement from the sampler records of a run's nodes (one record each)."""
    devices = [dict(d, node=i) for i, r in enumerate(records) for d in r.get("devices") or ()]
    kwh: dict[str, float] = {}
    for d in devices:
        kwh[d["kind"]] = kwh.get(d["kind"], 0.0) + float(d["kwh"])
    gpus = [d for d in devices if d["kind"] == "gpu"]
    gpu_hours = sum(float(d["hours"]) for d in gpus)
    out: dict[str, Any] = {
        "source": source, "nodes": len(records),
        "hours": max((float(r.get("hours") or 0.0) for r in records), default=0.0),
        "kwh": {**kwh, **({"total": sum(kwh.values())} if kwh else {})},
        "gpus": len(gpus),
        "gpu_average_w": (kwh["gpu"] * JOULES_PER_KWH / (gpu_hours * 3600)
                          if gpus and gpu_hours > 0 else None),
        "methods": sorted({d["method"] for d in devices}),
        "gap_s": sum(float(d.get("gap_s") or 0.0) for d in devices),
        "unmeasured": [u["why"] for r in records for u in r.get("unmeasured") or ()
                       if isinstance(u, Mapping) and "why" in u],
        "started_at": min((r["started_at"] for r in records if r.get("started_at")),
                          default=""),
        "ended_at": max((r["ended_at"] for r in records if r.get("ended_at")), default=""),
        "trace": [r.get("trace") or [] for r in records],
    }
    if not devices:
        why = "; ".join(str(r["nothing_measured"]) for r in records if r.get("nothing_measured"))
        out["nothing_measured"] = why or "the records list no device"
    return out


def read_measured(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A measurement from a file the sampler wrote (its JSON record, one per line for several
    nodes, or a console's text with ``greenml-measure=`` lines)."""
    text = _read(path, "measured")
    records = console_records(text)
    if not records:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise InputError("measured", f"{path}: not a greenml measurement record ({exc})"
                             ) from None
    if not records or not all(isinstance(r, dict) and "greenml_measure" in r for r in records):
        raise InputError("measured", f"{path}: not a greenml measurement record (no "
                                     "greenml_measure field)")
    if any(r.get("sampling") for r in records):
        raise InputError("measured", f"{path}: the sampler was still running when it was "
                                     "copied (no final record yet)")
    return from_records(records, f"greenml sampler record {path}")


def read_codecarbon(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A measurement from CodeCarbon's ``emissions.csv``: its last row (CodeCarbon appends a
    row per run). CodeCarbon's own kg CO2e is kept as ``codecarbon_co2e_kg``, beside the
    figure priced with the plan's PUE and intensity."""
    rows = list(csv.DictReader(_read(path, "codecarbon").splitlines()))
    if not rows:
        raise InputError("codecarbon", f"{path}: no rows")
    missing = [c for c in ("duration", "energy_consumed") if c not in rows[-1]]
    if missing:
        raise InputError("codecarbon", f"{path}: not a CodeCarbon emissions.csv (no "
                                       f"{', '.join(missing)} column)")
    row = rows[-1]
    numbers = {c: _number(row.get(c), path) for c in CODECARBON_COLUMNS}
    if numbers["duration"] is None or numbers["energy_consumed"] is None:
        raise InputError("codecarbon", f"{path}: the last row has no duration or "
                                       "energy_consumed")
    kwh = {kind: numbers[f"{column}_energy"] for kind, column in
           (("gpu", "gpu"), ("cpu", "cpu"), ("dram", "ram"))}
    out: dict[str, Any] = {
        "source": f"CodeCarbon emissions.csv {path} (last row)", "nodes": 1,
        "hours": numbers["duration"] / 3600,
        "kwh": {**{k: v for k, v in kwh.items() if v is not None},
                "total": numbers["energy_consumed"]},
        "gpus": None, "gpu_average_w": None, "methods": ["codecarbon"], "gap_s": 0.0,
        # CodeCarbon stamps a row when it writes it, at the end of the run, in local time
        "unmeasured": [], "started_at": "", "ended_at": row.get("timestamp", ""), "trace": [],
        "codecarbon_co2e_kg": numbers["emissions"],
    }
    return out


def nothing(why: str, source: str = "") -> dict[str, Any]:
    """A measurement that is not one: the launch's consoles gave no record, and why."""
    return {"source": source, "nodes": 0, "hours": None, "kwh": {}, "gpus": None,
            "gpu_average_w": None, "methods": [], "gap_s": 0.0, "unmeasured": [],
            "started_at": "", "ended_at": "", "trace": [], "nothing_measured": why}


def last_per_node(texts: Iterable[str]) -> list[dict[str, Any]]:
    """The last record of each console that has one (a re-run appends a newer one)."""
    return [found[-1] for found in (console_records(t) for t in texts) if found]


def _read(path: str | os.PathLike[str], field: str) -> str:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InputError(field, f"must be a file path, got {path!r}")
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(field, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(field, f"{path}: not a text file") from None


def _number(value: str | None, path: str | os.PathLike[str]) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise InputError("codecarbon", f"{path}: {value!r} is not a number") from None
    if not number >= 0 or number == float("inf"):
        raise InputError("codecarbon", f"{path}: {value!r} is not a measurement")
    return number
