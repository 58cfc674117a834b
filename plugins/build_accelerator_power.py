"""One power basis for every accelerator: average system power per processor.

Used by ``build_catalogs.py`` (standard library only, no network). Patterson et al. 2021
measured the average power of whole training systems and divided it by the processors: the
chip plus its share of the host (CPU, memory, network). That is the figure an energy estimate
needs, so every accelerator row of ``greenml/data/accelerators.csv`` carries it:

* ``measured`` where Patterson et al. 2021 Table 3 publishes it (TPU v2, TPU v3, P100, V100);
* otherwise derived from a published chip power figure by ONE rule, applied to every part:
  system power = factor x chip power. The chip power is the TDP; where none is published,
  the figure named in ``catalog_sources/accelerator_power.csv`` (a maximum board or chip
  power, an analyst's chip figure) or the measured maximum chip power of the Cloud TPU docs.
* The factor is the mean, over the four measured processors, of measured system power /
  chip TDP, rounded to 3 decimals. It is written to ``greenml/data/defaults.csv`` (row
  ``system_power_per_chip_power``; the other rows are left as they are), so that an
  accelerator a plugin adds with only a TDP is derived by the same rule at run time.

Parts without any published figure keep an empty power and the reason in
``system_power_source``; the planner excludes them with it.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
POWER_FILE = HERE / "catalog_sources" / "accelerator_power.csv"
DEFAULTS_FILE = REPO / "greenml" / "data" / "defaults.csv"
DOC_FILE = REPO / "docs" / "accelerator-power.md"

FACTOR_NAME = "system_power_per_chip_power"
COLUMNS = ("system_power_w", "system_power_basis", "system_power_from_w",
           "system_power_source", "system_power_year")
MEASURED = "measured"
DERIVED_FROM_TDP = "derived from TDP"
MEASURED_SOURCE = ("Patterson et al. 2021 Table 3 (measured average system power per processor, "
                   "host share included)")
NO_FIGURE = "no published power figure in the stored sources"
DECIMALS = 3  # the factor; derived watts are rounded to 0.1 W


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def power_sources(path: Path = POWER_FILE) -> dict[str, dict[str, str]]:
    """Project-owned chip power figures (and reasons for parts without one), by name."""
    rows = read_csv(path)
    by_name = {r["name"]: r for r in rows}
    assert len(by_name) == len(rows), f"{path}: a name is repeated"
    for row in rows:
        assert row["source"] and row["note"], f"{path}: {row['name']} needs a source and a note"
        assert bool(row["chip_power_w"]) == bool(row["kind"]), f"{path}: {row['name']}"
    return by_name


def calibration(table3: list[dict[str, str]], measures: dict[str, str],
                rows: list[dict[str, str]]) -> list[dict[str, str | float]]:
    """Per Table 3 processor: the catalogue row it measures, measured W, chip TDP W, ratio."""
    by_name = {r["name"]: r for r in rows}
    points: list[dict[str, str | float]] = []
    for entry in table3:
        row = by_name[measures[entry["processor"]]]
        measured, tdp = float(entry["average_system_power_w"]), float(row["tdp_w"])
        points.append({"processor": entry["processor"], "name": row["name"], "measured_w": measured,
                       "tdp_w": tdp, "ratio": measured / tdp, "tdp_source": row["source"]})
    return points


def rule_factor(points: list[dict[str, str | float]]) -> float:
    """Mean of measured / TDP over the measured processors (each processor weighs the same)."""
    return round(statistics.fmean(float(p["ratio"]) for p in points), DECIMALS)


def fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def derived_w(chip_w: float, factor: float) -> float:
    return round(chip_w * factor, 1)


def apply(rows: list[dict[str, str]], measured: dict[str, tuple[str, str]],
          chip_max: dict[str, tuple[str, str]], sources: dict[str, dict[str, str]],
          factor: float) -> None:
    """Fill COLUMNS on every row: measured, else derived from TDP, from the project file's chip
    figure, or from a measured maximum chip power; else empty with the reason."""
    names = {r["name"] for r in rows}
    assert set(sources) <= names, f"unknown names in {POWER_FILE.name}: {set(sources) - names}"
    for row in rows:
        name, extra = row["name"], sources.get(row["name"])
        if extra and extra["chip_power_w"]:
            assert not row["tdp_w"] and name not in measured, f"{name}: two chip power figures"
        if name in measured:
            watts, note = measured[name]
            row.update(zip(COLUMNS, (watts, MEASURED, "", MEASURED_SOURCE + note, "2021"),
                           strict=True))
        elif row["tdp_w"]:
            row.update(zip(COLUMNS, (fmt(derived_w(float(row["tdp_w"]), factor)),
                                     DERIVED_FROM_TDP, row["tdp_w"], row["source"], row["year"]),
                           strict=True))
        elif extra and extra["chip_power_w"]:
            chip = float(extra["chip_power_w"])
            row.update(zip(COLUMNS, (fmt(derived_w(chip, factor)), f"derived from {extra['kind']}",
                                     fmt(chip), extra["source"], extra["year"]), strict=True))
        elif name in chip_max:
            watts, source = chip_max[name]
            row.update(zip(COLUMNS, (fmt(derived_w(float(watts), factor)),
                                     "derived from max chip power (measured)", watts, source,
                                     row["year"]), strict=True))
        else:
            reason = f"{extra['note']}: {extra['source']}" if extra else NO_FIGURE
            row.update(zip(COLUMNS, ("", "", "", reason, extra["year"] if extra else ""),
                           strict=True))


def check(rows: list[dict[str, str]], factor: float) -> None:
    """One basis: every figure is measured or factor x its chip figure, with source and year."""
    for row in rows:
        if not row["system_power_w"]:
            assert not row["system_power_basis"] and row["system_power_source"], row
            continue
        assert row["system_power_source"] and row["system_power_year"], row
        basis = row["system_power_basis"]
        assert basis == MEASURED or basis.startswith("derived from "), row
        if basis != MEASURED:
            expected = derived_w(float(row["system_power_from_w"]), factor)
            assert float(row["system_power_w"]) == expected, row
        for column in COLUMNS:
            assert "|" not in row[column], (row["name"], column)  # a cell of the docs table


def no_power(rows: list[dict[str, str]]) -> list[str]:
    return [r["name"] for r in rows if not r["system_power_w"]]


def factor_row(points: list[dict[str, str | float]], factor: float) -> dict[str, str]:
    """The defaults.csv row that carries the rule, with its derivation."""
    parts = "; ".join(f"{p['processor']} {fmt(float(p['measured_w']))}/{fmt(float(p['tdp_w']))}"
                      for p in points)
    return {
        "name": FACTOR_NAME, "value": fmt(factor),
        "unit": "W average system power per W of published chip power",
        "source": "mean of measured average system power (Patterson et al. 2021 Table 3) / chip "
                  f"TDP (Patterson et al. 2021 Tables 1 and 4) over the measured processors: "
                  f"{parts}",
        "year": "2021",
        "note": "greenml rule: average system power per processor = this x the published chip "
                "power (TDP) where no measurement is published; computed by "
                "plugins/build_catalogs.py (docs/accelerator-power.md)",
    }


def upsert_default(row: dict[str, str], path: Path = DEFAULTS_FILE) -> None:
    """Replace (or append) the one line of ``row['name']``; every other line stays as it is."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        [row[c] for c in ("name", "value", "unit", "source", "year", "note")])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    mine = [i for i, line in enumerate(lines) if line.startswith(f"{row['name']},")]
    if mine:
        lines[mine[0]] = buffer.getvalue()
    else:
        lines.append(buffer.getvalue())
    path.write_text("".join(lines), encoding="utf-8")


def _cell(text: str) -> str:
    return text.replace("\n", " ")


def figures_table(rows: list[dict[str, str]]) -> list[str]:
    """The docs table: one line per accelerator row (tests compare it with the CSV)."""
    lines = ["| accelerator | system power W | basis | from chip W | source of the figure | year |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        basis = r["system_power_basis"] or "none: excluded from plans"
        lines.append(f"| {r['name']} | {r['system_power_w']} | {basis} | "
                     f"{r['system_power_from_w']} | {_cell(r['system_power_source'])} | "
                     f"{r['system_power_year']} |")
    return lines


def _ratios(points: list[dict[str, str | float]], gpu: bool) -> str:
    return ", ".join(f"{p['name']} {float(p['ratio']):.2f}" for p in points
                     if str(p["name"]).startswith("TPU") != gpu)


def _form_factor_lines(rows: list[dict[str, str]]) -> str:
    """The PCIe / NVL variants: which share their family's SXM peak, which have their own."""
    by_name = {r["name"]: r for r in rows}

    def peak(row: dict[str, str]) -> str:
        return row["dense_bf16_tflops"] or row["dense_fp16_tflops"]

    same, lower = [], []
    for r in rows:
        ref = by_name.get(r["family"])
        if r["family"] == r["name"] or not r["form_factor"].startswith("PCIe") or not ref:
            continue
        if peak(r) and peak(r) == peak(ref):
            same.append(f"{r['name']} {peak(r)} TFLOPS at {r['tdp_w']} W against "
                        f"{ref['name']} at {ref['tdp_w']} W")
        elif peak(r):
            lower.append(f"{r['name']} {peak(r)} against {peak(ref)}")
    return (f"Where its datasheet peak equals the SXM peak ({'; '.join(same)}), greenml's "
            "runtime assumes that peak, and the option's note says so: no stored source "
            "gives a sustained throughput for the PCIe part, which may run slower at its "
            f"lower power limit. Others have lower datasheet peaks ({'; '.join(lower)} "
            "TFLOPS), and their runtime scales by them.")


def render_doc(rows: list[dict[str, str]], points: list[dict[str, str | float]],
               factor: float) -> str:
    """docs/accelerator-power.md; every number in it comes from the data."""
    pooled = sum(float(p["measured_w"]) for p in points) / sum(float(p["tdp_w"]) for p in points)
    ratios = [float(p["ratio"]) for p in points]
    spread = max(abs(r / factor - 1) for r in ratios)
    calib = ["| processor | catalogue row | measured system power W | chip TDP W | ratio |",
             "|---|---|---|---|---|"]
    calib += [f"| {p['processor']} | {p['name']} | {fmt(float(p['measured_w']))} | "
              f"{fmt(float(p['tdp_w']))} | {float(p['ratio']):.3f} |" for p in points]
    calib.append(f"| **mean** | | | | **{factor:.{DECIMALS}f}** |")
    counts = {"measured": sum(r["system_power_basis"] == MEASURED for r in rows),
              "derived": sum(r["system_power_basis"].startswith("derived") for r in rows),
              "none": len(no_power(rows))}
    by_name = {r["name"]: r for r in rows}
    notes = []
    v4 = by_name.get("TPU-v4")
    mean = re.search(r"min/mean/max [\d.]+/([\d.]+)/", v4["system_power_source"]) if v4 else None
    if v4 and v4["system_power_w"] and mean:
        notes.append(
            f"* **TPU v4** has no published TDP. It is derived from the measured maximum chip "
            f"power of the Cloud TPU docs ({v4['system_power_from_w']} W), which gives "
            f"{v4['system_power_w']} W: below the chip-only mean the same docs report "
            f"({mean.group(1)} W), so the rule understates it (a measured maximum is lower "
            "than a TDP, which the factor is calibrated on).")
    if "K80" in by_name:
        notes.append(f"* **K80**: its TDP ({by_name['K80']['tdp_w']} W) is per dual-GPU board "
                     "(see [data sources](data-sources.md)).")
    text = f"""# Accelerator power: one basis

Every option greenml ranks is costed with the same kind of power figure, the one Patterson
et al. 2021 measured: the **average system power per processor**, the chip plus its share of
the host (CPU, memory, network) while it trains. Energy is then

```text
kWh = hours x processors x average system power per processor (W) x PUE / 1000
```

A TDP is a chip's thermal design limit, not what a training system draws; a measured chip
mean leaves the host out. Mixing either with a measured system figure ranks parts on
different bases, so greenml ships one figure per accelerator, on one basis, with its source
and year (`system_power_*` columns of `greenml/data/accelerators.csv`;
`greenml accelerators` prints it, `option.explain()` names the basis of every option's power).

## The rule

* **Measured** where Patterson et al. 2021 Table 3 publishes it ({counts['measured']} rows;
  V100-32GB shares the V100 figure).
* **Derived** everywhere else ({counts['derived']} rows), by one rule applied to every part:
  system power = **{factor:.{DECIMALS}f}** x the published chip power. The chip power is the
  TDP; where no TDP is published, the vendor's maximum board or chip power, or an analyst's
  chip figure, each named in the row (`plugins/catalog_sources/accelerator_power.csv`).
* **None** ({counts['none']} rows): no published figure was found; those accelerators are
  excluded from plans, with the reason in the table below.

The factor is the mean, over the measured processors, of measured system power / chip TDP
(Patterson et al. 2021 Table 3; TDPs of Tables 1 and 4). `plugins/build_catalogs.py`
computes it from the data and writes it to `greenml/data/defaults.csv` (row
`{FACTOR_NAME}`); an accelerator a plugin adds with only a TDP is derived by the
same rule when it is estimated.

{chr(10).join(calib)}

Why the mean of the ratios: each measured processor is one observation of how a training
system's draw relates to its chip's TDP, and that ratio is what carries over to another
part, whatever its TDP, so each processor weighs the same. The pooled ratio (total measured
/ total TDP = {pooled:.3f}) would let the part with the largest TDP dominate.

What one factor costs: the ratios range from {min(ratios):.2f} to {max(ratios):.2f}. The GPUs drew
close to their TDP ({_ratios(points, gpu=True)}), the TPUs far below it
({_ratios(points, gpu=False)}), so a derived GPU figure is probably low and a derived TPU
figure probably high, by up to {spread:.0%}. A published measurement replaces a derived figure
whenever one appears.

## What the rule does not see

* **Form factors.** A PCIe or NVL part has a lower TDP than its SXM sibling, so its derived
  power is lower by the TDP ratio. {_form_factor_lines(rows)}
{chr(10).join(notes)}

## Figures

Generated from `greenml/data/accelerators.csv` by `plugins/build_catalogs.py`; a test checks
that this table matches the file. "from chip W" is the chip figure a derived value comes from.

{chr(10).join(figures_table(rows))}
"""
    return text
