#!/usr/bin/env python3
"""Build greenml's embedded data catalogs from the shared reference data.

Usage::

    python plugins/build_catalogs.py [--shared PATH]

PATH defaults to ``../shared/data`` relative to the repository root. The script reads only
the files under PATH (no network, standard library only), writes the package data files
listed in ``OUTPUTS`` plus ``docs/data-sources.md``, prints counts, runs the consistency
checks and exits non-zero when one fails. Output is deterministic: rows are sorted, lines
end in "\\n", numbers are written in their shortest exact form (1.10 -> 1.1, 768.0 -> 768)
and composed prices are rounded to 6 decimals (the precision of the source prices).

Choices made
============

Accelerators (greenml/data/accelerators.csv)
    One row per accelerator variant: the rows of shared ``accelerators.csv``, the Patterson
    et al. 2021 processors, and every ``accelerator`` string of ``instance_types.csv``
    (reached directly or through ``aliases``; case-insensitive uniqueness of all names and
    aliases is asserted, so spellings that equal a name ignoring case, such as ``tpu-v3``
    for ``TPU-v3``, are not repeated as aliases). Figures, in this order of preference:

    1. shared ``accelerators.csv`` (dense BF16/FP16 columns only, never the sparse one);
    2. for variants it lacks: Green Algorithms ``TDP_gpu.csv`` (TDP), mlco2/impact
       ``gpus.csv`` (TDP, memory; its ``TFLOPS16`` column is NOT used: it mixes vector,
       tensor and sparse figures), Patterson et al. 2021 (P100: TDP 300 W from Table 1,
       peak 19 TFLOPS from footnote 4 - the P100 has no tensor cores, so its FP16 peak is
       dense), figures quoted in the notes of shared ``accelerators.csv`` (NVIDIA A10,
       GB200) and GPU memory from the GCP price catalogue's GpuInfo (P4).

    What no source gives stays empty; nothing is estimated. ``memory_gb`` is the vendor's
    nominal figure (TPU v3/v4, Trainium and Inferentia are specified in GiB).

    System power (``build_accelerator_power.py``): one basis for every row, the average
    system power per processor of Patterson et al. 2021 (chip plus its share of the host):
    measured where Table 3 gives it, else derived from the published chip power (TDP; else
    the figure of ``catalog_sources/accelerator_power.csv``, or the measured maximum chip
    power of the Cloud TPU docs) by one factor computed from Table 3. The shared row for V100
    covers SXM2 16 and 32 GB, so the Table 3 V100 figure is given to both SXM2 rows.

    ``year`` is the year of the vendor specification the figures describe, extended to the
    year a measured average power was published (e.g. V100 ``2017-2021``); rows without any
    figure carry the year of the price-catalogue snapshot that lists them.

Per-instance accelerator variants (``INSTANCE_RULES``)
    A few catalogue strings name a family, not a variant. Rules keyed on provider and
    instance type pick the variant: AWS p4d = A100 40GB SXM4, p4de = A100 80GB SXM4; Azure
    NC A100 v4 = A100 80GB PCIe, ND96amsr A100 v4 = A100 80GB SXM4, ND96asr v4 = A100 40GB
    SXM4, NC/NCC H100 v5 = H100 NVL, ND H100 v5 = H100 SXM5; GCP a3-megagpu (H100-MEGA) =
    H100 SXM5. An Azure A100/H100 instance no rule covers is an error.

Regions (plugins/greenml-<p>/greenml_<p>/data/regions.csv)
    One row per region of the provider in ``cloud_regions.csv``.

    Intensity: one row per region by ``source_type`` priority provider_published >
    tool_default > derived_country > derived_subnational_or_country > tool_default_legacy,
    then the newest year (largest 4-digit year in the ``year`` text) within that class; a
    tie is an error. Value, source, year and source_type are kept verbatim. All of these
    are location-based annual averages: ``signal`` = ``average``. ``cfe_percent`` is
    Google's CFE % of the chosen row (GCP only; no source gives one for AWS or Azure).

    PUE: the most specific figure in ``pue.csv``. A ``site`` row naming the region (GCP: the
    trailing-twelve-month figures captured by Cloud Carbon Footprint or Green Algorithms)
    beats the provider fleet figure. The fleet figure is the newest ``fleet`` row whose PUE
    is an exact number and is not a design target: AWS 1.14 (calendar 2025, provider page),
    GCP 1.10 (Q2 2021, the latest exact fleet figure in the file), Azure 1.185 (Microsoft
    TTM statement). ``same`` sources and year-less periods inherit from the row they refer
    to.

    ``grid_zone``: ``GRID_ZONES`` maps each region's location to an Electricity Maps zone
    id (sub-national zone where the grid is split: US balancing authorities, JP, IN, AU,
    CA, BR, SE, NO, DK, IT, MY, CL); empty only where the location is unknown.
    ``zones`` (GCP only) is the sorted union of ``AvailabilityZone`` per ``Region`` in
    ``raw/skypilot-format/gcp_vms.csv``.

Offers (plugins/greenml-<p>/greenml_<p>/data/offers.csv)
    AWS: ``vm_total`` rows; the rows without a public on-demand price are skipped (listed in
    the docs); no spot price (no source). Azure: ``vm_total`` rows as they are.

    GCP prices are composed into full VM prices:

    * a2/a3/a4/g2: the ``derived_total`` rows (host + GPUs), keeping the source's flag on
      rows whose host price is 0.0. A ``host_only`` row without a ``derived_total`` is
      composed with the same region's ``gpu_only`` row for its GPU count, else skipped.
    * N1 + attached GPU (T4, V100, P100, P4 exist only as ``gpu_only`` parts):
      ``n1-standard-{8k}`` + k GPUs for the counts GCP allows (``N1_GPU_COUNTS``) where
      that host shape exists in the region in ``gcp_vms.csv``. ``instance_type`` is the N1
      machine type; (instance_type, accelerator, accelerators_per_instance) identifies the
      offer. Price = host + GPUs, on-demand and spot alike (spot empty if a part lacks one).
    * TPU: ``tpu_slice`` rows as whole-slice offers (chips per slice as in the file;
      ``price_basis`` shortened to ``TPU_BASIS``, the docs explain the chip count). A
      slice price that repeats unchanged across slice sizes of one TPU generation in one
      region (700.0 for tpu-v6e in a few regions) is a placeholder: such an on-demand price
      drops the row, such a spot price is left empty.
    * ``host_only`` and ``gpu_only`` rows are parts, never offers.

    Offers in a region missing from regions.csv are reported and skipped.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import build_accelerator_power as power
import build_intensity as intensity

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data"
PROVIDERS = ("aws", "gcp", "azure")

OUTPUTS = {
    "accelerators": REPO / "greenml" / "data" / "accelerators.csv",
    "countries": REPO / "greenml" / "data" / "countries.csv",
    "docs": REPO / "docs" / "data-sources.md",
    "datasets": REPO / "greenml" / "data" / "intensity_datasets.csv",
    "zone_intensity": REPO / "greenml" / "data" / intensity.ZONE_FILE,
    "google_intensity": REPO / "greenml" / "data" / intensity.GOOGLE_FILE,
}
for _p in PROVIDERS:
    _data = REPO / "plugins" / f"greenml-{_p}" / f"greenml_{_p}" / "data"
    OUTPUTS[f"{_p}_regions"] = _data / "regions.csv"
    OUTPUTS[f"{_p}_offers"] = _data / "offers.csv"

ACCELERATOR_COLUMNS = (
    "name", "family", "aliases", "vendor", "form_factor", "memory_gb", "tdp_w",
    *power.COLUMNS, "dense_bf16_tflops",
    "dense_fp16_tflops", "source", "year",
)
COUNTRY_COLUMNS = ("code", "name", "source")
REGION_COLUMNS = (
    "region", "location", "country", "latitude", "longitude", "grid_zone",
    "grid_zone_source", "zones", "pue", "pue_source", "pue_year",
)
OFFER_COLUMNS = (
    "instance_type", "accelerator", "accelerators_per_instance", "vcpus", "memory_gb",
    "region", "ondemand_usd_per_hour", "spot_usd_per_hour", "price_basis", "price_source",
    "price_date",
)

# --------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Accelerators
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """Identity of one accelerator row: name, family, vendor, shared id, year, aliases."""

    name: str
    family: str
    vendor: str
    shared_id: str  # accelerator_id in shared accelerators.csv, "" when absent there
    year: str
    aliases: tuple[str, ...] = field(default_factory=tuple)


CATALOGUE = (
    # NVIDIA data-centre GPUs present in shared accelerators.csv
    Spec("V100", "V100", "NVIDIA", "nvidia-v100-sxm2", "2017-2021",
         ("V100-16GB", "V100-SXM2", "V100-SXM2-16GB", "Tesla V100", "nvidia-tesla-v100",
          "nvidia-v100-sxm2", "V100 GPU")),
    Spec("V100-PCIe", "V100", "NVIDIA", "nvidia-v100-pcie", "2017",
         ("V100-PCIE-16GB", "Tesla V100 PCIe", "nvidia-v100-pcie")),
    Spec("A100", "A100", "NVIDIA", "nvidia-a100-40gb-sxm", "2020",
         ("A100-40GB", "A100-SXM", "A100-SXM4", "A100-SXM4-40GB", "A100-40GB-SXM",
          "nvidia-tesla-a100", "nvidia-a100-40gb-sxm")),
    Spec("A100-80GB", "A100", "NVIDIA", "nvidia-a100-80gb-sxm", "2020",
         ("A100-80GB-SXM", "A100-SXM4-80GB", "nvidia-a100-80gb", "nvidia-a100-80gb-sxm")),
    Spec("A100-PCIe", "A100", "NVIDIA", "nvidia-a100-40gb-pcie", "2020",
         ("A100-40GB-PCIe", "A100-PCIE-40GB", "nvidia-a100-40gb-pcie")),
    Spec("A100-80GB-PCIe", "A100", "NVIDIA", "nvidia-a100-80gb-pcie", "2021",
         ("A100-PCIE-80GB", "nvidia-a100-80gb-pcie")),
    Spec("H100", "H100", "NVIDIA", "nvidia-h100-sxm", "2022",
         ("H100-SXM", "H100-SXM5", "H100-80GB", "H100-SXM5-80GB", "H100-MEGA",
          "nvidia-h100-80gb", "nvidia-h100-mega-80gb", "nvidia-h100-sxm")),
    Spec("H100-PCIe", "H100", "NVIDIA", "nvidia-h100-pcie", "2022",
         ("H100-PCIE-80GB", "nvidia-h100-pcie")),
    Spec("H100-NVL", "H100", "NVIDIA", "nvidia-h100-nvl", "2023",
         ("H100-NVL-94GB", "nvidia-h100-nvl")),
    Spec("H200", "H200", "NVIDIA", "nvidia-h200-sxm", "2024",
         ("H200-SXM", "H200-141GB", "nvidia-h200-141gb", "nvidia-h200-sxm")),
    Spec("H200-NVL", "H200", "NVIDIA", "nvidia-h200-nvl", "2024", ("nvidia-h200-nvl",)),
    Spec("B200", "B200", "NVIDIA", "nvidia-b200-hgx", "2024",
         ("B200-HGX", "nvidia-b200", "nvidia-b200-hgx")),
    Spec("L4", "L4", "NVIDIA", "nvidia-l4", "2023", ("NVIDIA L4", "nvidia-l4")),
    Spec("T4", "T4", "NVIDIA", "nvidia-t4", "2018", ("Tesla T4", "nvidia-tesla-t4", "nvidia-t4")),
    Spec("A10G", "A10G", "NVIDIA", "nvidia-a10g", "2021", ("NVIDIA A10G", "nvidia-a10g")),
    Spec("L40S", "L40S", "NVIDIA", "nvidia-l40s", "2023", ("NVIDIA L40S", "nvidia-l40s")),
    # Google TPUs (per chip)
    Spec("TPU-v2", "TPU-v2", "Google", "google-tpu-v2", "2017-2021",
         ("v2", "TPUv2", "TPU v2", "google-tpu-v2")),
    Spec("TPU-v3", "TPU-v3", "Google", "google-tpu-v3", "2018-2021",
         ("v3", "TPUv3", "TPU v3", "google-tpu-v3")),
    Spec("TPU-v4", "TPU-v4", "Google", "google-tpu-v4", "2021",
         ("v4", "TPUv4", "TPU v4", "google-tpu-v4")),
    Spec("TPU-v5e", "TPU-v5e", "Google", "google-tpu-v5e", "2023",
         ("tpu-v5litepod", "tpu-v5-lite-podslice", "v5e", "v5litepod",
          "TPU v5e", "google-tpu-v5e")),
    Spec("TPU-v5p", "TPU-v5p", "Google", "google-tpu-v5p", "2023",
         ("tpu-v5p-slice", "v5p", "TPU v5p", "google-tpu-v5p")),
    Spec("TPU-v6e", "TPU-v6e", "Google", "google-tpu-v6e", "2024",
         ("tpu-v6e-slice", "v6e", "Trillium", "TPU v6e", "google-tpu-v6e")),
    # AWS silicon (per chip)
    Spec("Trainium", "Trainium", "AWS", "aws-trainium1", "2022",
         ("trn1", "trn1n", "Trainium1", "aws-trainium1")),
    Spec("Trainium2", "Trainium2", "AWS", "aws-trainium2", "2024", ("trn2", "aws-trainium2")),
    Spec("Trainium3", "Trainium3", "AWS", "aws-trainium3", "2025", ("trn3", "aws-trainium3")),
    Spec("Inferentia", "Inferentia", "AWS", "aws-inferentia1", "2019",
         ("inf1", "Inferentia1", "aws-inferentia1")),
    Spec("Inferentia2", "Inferentia2", "AWS", "aws-inferentia2", "2023",
         ("inf2", "aws-inferentia2")),
    # AMD Instinct
    Spec("MI250X", "MI250X", "AMD", "amd-mi250x", "2021", ("Instinct MI250X", "amd-mi250x")),
    Spec("MI300X", "MI300X", "AMD", "amd-mi300x", "2023", ("Instinct MI300X", "amd-mi300x")),
    # Variants absent from shared accelerators.csv (figures: see extra_figures)
    Spec("V100-32GB", "V100", "NVIDIA", "", "2018-2021",
         ("V100-SXM2-32GB", "Tesla V100-SXM2-32GB")),
    Spec("P100", "P100", "NVIDIA", "", "2016-2021",
         ("Tesla P100", "P100-16GB", "nvidia-tesla-p100", "P100 GPU")),
    Spec("P4", "P4", "NVIDIA", "", "2016", ("Tesla P4", "nvidia-tesla-p4")),
    Spec("K80", "K80", "NVIDIA", "", "2014", ("Tesla K80", "nvidia-tesla-k80")),
    Spec("A10", "A10", "NVIDIA", "", "2021", ("NVIDIA A10", "nvidia-a10")),
    Spec("GB200", "GB200", "NVIDIA", "", "2024", ("NVIDIA GB200", "nvidia-gb200")),
    Spec("M60", "M60", "NVIDIA", "", "2026", ("Tesla M60", "nvidia-tesla-m60")),
    Spec("K520", "K520", "NVIDIA", "", "2026", ("GRID K520",)),
    Spec("L40", "L40", "NVIDIA", "", "2026", ("NVIDIA L40",)),
    Spec("B300", "B300", "NVIDIA", "", "2026", ("NVIDIA B300", "nvidia-b300")),
    Spec("RTX-PRO-6000", "RTX-PRO-6000", "NVIDIA", "", "2026",
         ("RTX PRO 6000 Blackwell", "RTX PRO 6000", "RTX-PRO-6000-Blackwell")),
    Spec("MI25", "MI25", "AMD", "", "2026", ("Radeon Instinct MI25", "Instinct MI25")),
    Spec("Radeon-Pro-V520", "Radeon-Pro-V520", "AMD", "", "2026",
         ("Radeon Pro V520", "AMD Radeon Pro V520", "V520")),
    Spec("Qualcomm-AI100", "Qualcomm-AI100", "Qualcomm", "", "2026",
         ("Qualcomm AI 100", "Cloud AI 100", "AI100")),
    Spec("Mali-G78", "Mali-G78", "Arm", "", "2026", ("Mali-G78MP12", "Arm Mali-G78")),
)

# Patterson et al. 2021 Table 3 processor -> {catalogue row it measures: note on the source}.
PATTERSON_TABLE3 = {
    "TPU v2": {"TPU-v2": ""},
    "TPU v3": {"TPU-v3": ""},
    "P100 GPU": {"P100": ""},
    "V100 GPU": {
        "V100": "",
        "V100-32GB": " (V100 GPU; the shared V100 row covers SXM2 16 and 32 GB)",
    },
}

LISTED_ONLY_SOURCE = {
    "aws": "listed in instance_types.csv (AWS: github tsaol/aws-gpu @7412fd2, 2026-01-21)",
    "azure": "listed in instance_types.csv (Azure: github anycloud-sh/catalog @62ff0a9, "
    "2026-05-20)",
}
NO_FIGURES = "; no specification figure in the stored sources"


@dataclass
class Sources:
    """All shared input files, loaded once."""

    shared: Path
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
        shared=shared,
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


def patterson_peak_tflops(src: Sources, processor: str) -> str:
    """Peak TFLOPS per chip from claim C17 ('P100 19; TPU v2 46; ...')."""
    claim = find_row(src.claims, "id", "C17")["value"]
    peaks = dict(part.strip().rsplit(" ", 1) for part in claim.split(";"))
    return peaks[processor]


def patterson_tdp(src: Sources, processor: str) -> str:
    """Chip TDP used in Patterson Table 1 (one value across the processor's rows)."""
    values = {r["chip_tdp_w"] for r in src.table1 if r["processor"] == processor}
    if len(values) != 1:
        raise SystemExit(f"Patterson Table 1 TDP for {processor}: {values}")
    return values.pop()


def gcp_gpu_memory_gb(src: Sources, accelerator: str) -> str:
    """GPU memory (GiB) from GpuInfo of the GCP price catalogue (one value expected)."""
    sizes = {
        search(r"'SizeInMiB': (\d+)", r["GpuInfo"]).group(1)
        for r in src.gcp_vms
        if r["AcceleratorName"] == accelerator
    }
    if len(sizes) != 1:
        raise SystemExit(f"GpuInfo memory for {accelerator}: {sizes}")
    return fmt_num(int(sizes.pop()) / 1024)


def shared_figures(row: dict[str, str]) -> dict[str, str]:
    """Figures of a shared accelerators.csv row, mapped to the catalogue columns."""
    return {
        "form_factor": row["form_factor"],
        "memory_gb": fmt_num(row["memory_gb"]),
        "tdp_w": fmt_num(row["tdp_w"]),
        "dense_bf16_tflops": fmt_num(row["peak_dense_bf16_tflops"]),
        "dense_fp16_tflops": fmt_num(row["peak_dense_fp16_tflops"]),
        "source": row["source"],
    }


def shared_row(src: Sources, accelerator_id: str) -> dict[str, str]:
    return find_row(src.accelerators, "accelerator_id", accelerator_id)


def v100_32gb_figures(src: Sources) -> dict[str, str]:
    """V100 SXM2 32 GB: mlco2 TDP/memory, FP16 tensor peak of the shared V100 SXM2 row."""
    v100 = shared_row(src, "nvidia-v100-sxm2")
    m = find_row(src.mlco2_gpus, "name", "Tesla V100-SXM2-32GB")
    return {
        "form_factor": "SXM2", "memory_gb": fmt_num(m["memory"]),
        "tdp_w": fmt_num(m["tdp_watts"]),
        "dense_fp16_tflops": fmt_num(v100["peak_dense_fp16_tflops"]),
        "source": f"TDP and memory: mlco2/impact data/gpus.csv 'Tesla V100-SXM2-32GB' "
        f"({m['source']}); FP16 tensor peak: shared accelerators.csv V100 SXM2 (16/32 GB) row "
        f"({v100['source']})",
    }


def p100_figures(src: Sources) -> dict[str, str]:
    """P100: Patterson TDP and peak, mlco2 memory."""
    m = find_row(src.mlco2_gpus, "name", "Tesla P100")
    tdp, peak = patterson_tdp(src, "P100"), patterson_peak_tflops(src, "P100")
    return {
        "memory_gb": fmt_num(m["memory"]), "tdp_w": tdp, "dense_fp16_tflops": peak,
        "source": f"TDP {tdp} W: Patterson et al. 2021 Table 1; peak {peak} TFLOPS: Patterson "
        "et al. 2021 footnote 4 (FP16; no tensor cores, so dense); memory: mlco2/impact "
        f"data/gpus.csv 'Tesla P100' ({m['source']})",
    }


def p4_figures(src: Sources) -> dict[str, str]:
    """P4: Green Algorithms TDP, GCP catalogue GPU memory."""
    g = find_row(src.ga_tdp, "model", "NVIDIA Tesla P4")
    return {
        "memory_gb": gcp_gpu_memory_gb(src, "P4"), "tdp_w": fmt_num(g["TDP"]),
        "source": f"TDP: Green Algorithms data/latest/TDP_gpu.csv @30df2fe ({g['source']}); "
        "memory: anycloud-sh/catalog gcp/vms.csv @62ff0a9 GpuInfo",
    }


def k80_figures(src: Sources) -> dict[str, str]:
    """K80: Green Algorithms TDP (whole board), mlco2 memory (per GPU)."""
    g = find_row(src.ga_tdp, "model", "NVIDIA Tesla K80")
    m = find_row(src.mlco2_gpus, "name", "Tesla K80")
    return {
        "memory_gb": fmt_num(m["memory"]), "tdp_w": fmt_num(g["TDP"]),
        "source": f"TDP (whole dual-GPU board): Green Algorithms data/latest/TDP_gpu.csv "
        f"@30df2fe ({g['source']}); memory per GPU: mlco2/impact data/gpus.csv 'Tesla K80' "
        f"({m['source']})",
    }


def a10_figures(src: Sources) -> dict[str, str]:
    """NVIDIA A10: figures quoted in the notes of the shared A10G row."""
    note = shared_row(src, "nvidia-a10g")["notes"]
    watts, memory, bf16 = search(r"NVIDIA A10 \((\d+) W, (\d+) GB\) is ([\d.]+) dense",
                                 note).groups()
    return {
        "memory_gb": memory, "tdp_w": watts, "dense_bf16_tflops": bf16,
        "source": f"NVIDIA A10 figures quoted in shared accelerators.csv (notes of the "
        f"nvidia-a10g row: {watts} W, {memory} GB, {bf16} dense BF16 TFLOPS); NVIDIA datasheet "
        "not re-verified",
    }


def gb200_figures(src: Sources) -> dict[str, str]:
    """GB200 (per GPU): figures quoted in the notes of the shared B200 row."""
    note = shared_row(src, "nvidia-b200-hgx")["notes"]
    watts, bf16 = search(r"GB200 variant at (\d+) W: ([\d.]+) dense BF16", note).groups()
    return {
        "tdp_w": watts, "dense_bf16_tflops": bf16,
        "source": "B200 in GB200 configuration, per GPU: glennklockwood.com/garden/processors/"
        f"B200 as quoted in shared accelerators.csv (notes of the nvidia-b200-hgx row: "
        f"{watts} W, {bf16} dense BF16 TFLOPS)",
    }


# Variants absent from shared accelerators.csv that some other source gives figures for.
EXTRA_FIGURES = {
    "V100-32GB": v100_32gb_figures,
    "P100": p100_figures,
    "P4": p4_figures,
    "K80": k80_figures,
    "A10": a10_figures,
    "GB200": gb200_figures,
}


def listed_only_source(src: Sources, spec: Spec) -> str:
    """Source text for a row without figures: the catalogue(s) that list it."""
    names = {spec.name.lower(), *(a.lower() for a in spec.aliases)}
    providers = sorted({r["provider"] for r in src.instances if r["accelerator"].lower() in names})
    return "; ".join(LISTED_ONLY_SOURCE[p] for p in providers) + NO_FIGURES


def measured_power(src: Sources) -> dict[str, tuple[str, str]]:
    """Catalogue row -> (watts, source note) measured in Patterson et al. 2021 Table 3."""
    return {name: (fmt_num(row["average_system_power_w"]), note)
            for row in src.table3 for name, note in PATTERSON_TABLE3[row["processor"]].items()}


def chip_max_power(src: Sources) -> dict[str, tuple[str, str]]:
    """Catalogue row -> (watts, source): measured maximum chip power of the Cloud TPU docs, for
    rows without a TDP (TPU v4)."""
    found = {}
    for spec in CATALOGUE:
        if not spec.shared_id:
            continue
        hit = re.search(r"min/mean/max ([\d.]+)/([\d.]+)/([\d.]+) W \(Cloud TPU (v\d+) docs\)",
                        shared_row(src, spec.shared_id)["measured_power_w"])
        if hit:
            low, mean, high, gen = hit.groups()
            found[spec.name] = (fmt_num(high), (
                f"Cloud TPU docs cloud.google.com/tpu/docs/{gen}: measured maximum chip power "
                f"(min/mean/max {low}/{mean}/{high} W, chip only)"))
    return found


def add_system_power(src: Sources, rows: list[dict[str, str]]
                     ) -> tuple[list[dict[str, str | float]], float]:
    """Fill the system power columns of every row; (calibration points, the rule's factor)."""
    first_row = {processor: next(iter(rows_measured))
                 for processor, rows_measured in PATTERSON_TABLE3.items()}
    points = power.calibration(src.table3, first_row, rows)
    factor = power.rule_factor(points)
    power.apply(rows, measured_power(src), chip_max_power(src), power.power_sources(), factor)
    return points, factor


def accelerator_row(src: Sources, spec: Spec) -> dict[str, str]:
    """One row of accelerators.csv."""
    if spec.shared_id:
        figures = shared_figures(shared_row(src, spec.shared_id))
    elif spec.name in EXTRA_FIGURES:
        figures = EXTRA_FIGURES[spec.name](src)
    else:
        figures = {"source": listed_only_source(src, spec)}
    return {
        **dict.fromkeys(ACCELERATOR_COLUMNS, ""),
        "name": spec.name, "family": spec.family, "aliases": ";".join(spec.aliases),
        "vendor": spec.vendor, **figures, "year": spec.year,
    }


def build_accelerators(src: Sources) -> list[dict[str, str]]:
    """All accelerator rows, sorted by name."""
    return sorted((accelerator_row(src, s) for s in CATALOGUE), key=lambda r: r["name"].lower())


def accelerator_lookup(rows: list[dict[str, str]]) -> dict[str, str]:
    """Lower-cased name/alias -> canonical name; asserts case-insensitive uniqueness."""
    lookup: dict[str, str] = {}
    for row in rows:
        for label in [row["name"], *filter(None, row["aliases"].split(";"))]:
            key = label.lower()
            assert key not in lookup, f"name/alias {label!r} used twice"
            lookup[key] = row["name"]
    return lookup


# --------------------------------------------------------------------------------------
# Countries (ISO 3166-1 alpha-2, all 249 officially assigned codes)
# --------------------------------------------------------------------------------------

ISO_3166_1 = """
AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AI Anguilla
AL Albania|AM Armenia|AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria
AU Australia|AW Aruba|AX Åland Islands|AZ Azerbaijan|BA Bosnia and Herzegovina|BB Barbados
BD Bangladesh|BE Belgium|BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin
BL Saint Barthélemy|BM Bermuda|BN Brunei Darussalam|BO Bolivia (Plurinational State of)
BQ Bonaire, Sint Eustatius and Saba|BR Brazil|BS Bahamas|BT Bhutan|BV Bouvet Island
BW Botswana|BY Belarus|BZ Belize|CA Canada|CC Cocos (Keeling) Islands
CD Congo, Democratic Republic of the|CF Central African Republic|CG Congo|CH Switzerland
CI Côte d'Ivoire|CK Cook Islands|CL Chile|CM Cameroon|CN China|CO Colombia|CR Costa Rica
CU Cuba|CV Cabo Verde|CW Curaçao|CX Christmas Island|CY Cyprus|CZ Czechia|DE Germany
DJ Djibouti|DK Denmark|DM Dominica|DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia
EG Egypt|EH Western Sahara|ER Eritrea|ES Spain|ET Ethiopia|FI Finland|FJ Fiji
FK Falkland Islands (Malvinas)|FM Micronesia (Federated States of)|FO Faroe Islands
FR France|GA Gabon|GB United Kingdom of Great Britain and Northern Ireland|GD Grenada
GE Georgia|GF French Guiana|GG Guernsey|GH Ghana|GI Gibraltar|GL Greenland|GM Gambia
GN Guinea|GP Guadeloupe|GQ Equatorial Guinea|GR Greece
GS South Georgia and the South Sandwich Islands|GT Guatemala|GU Guam|GW Guinea-Bissau
GY Guyana|HK Hong Kong|HM Heard Island and McDonald Islands|HN Honduras|HR Croatia|HT Haiti
HU Hungary|ID Indonesia|IE Ireland|IL Israel|IM Isle of Man|IN India
IO British Indian Ocean Territory|IQ Iraq|IR Iran (Islamic Republic of)|IS Iceland|IT Italy
JE Jersey|JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|KI Kiribati
KM Comoros|KN Saint Kitts and Nevis|KP Korea (Democratic People's Republic of)
KR Korea, Republic of|KW Kuwait|KY Cayman Islands|KZ Kazakhstan
LA Lao People's Democratic Republic|LB Lebanon|LC Saint Lucia|LI Liechtenstein|LK Sri Lanka
LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia|LY Libya|MA Morocco|MC Monaco
MD Moldova, Republic of|ME Montenegro|MF Saint Martin (French part)|MG Madagascar
MH Marshall Islands|MK North Macedonia|ML Mali|MM Myanmar|MN Mongolia|MO Macao
MP Northern Mariana Islands|MQ Martinique|MR Mauritania|MS Montserrat|MT Malta|MU Mauritius
MV Maldives|MW Malawi|MX Mexico|MY Malaysia|MZ Mozambique|NA Namibia|NC New Caledonia
NE Niger|NF Norfolk Island|NG Nigeria|NI Nicaragua|NL Netherlands (Kingdom of the)|NO Norway
NP Nepal|NR Nauru|NU Niue|NZ New Zealand|OM Oman|PA Panama|PE Peru|PF French Polynesia
PG Papua New Guinea|PH Philippines|PK Pakistan|PL Poland|PM Saint Pierre and Miquelon
PN Pitcairn|PR Puerto Rico|PS Palestine, State of|PT Portugal|PW Palau|PY Paraguay|QA Qatar
RE Réunion|RO Romania|RS Serbia|RU Russian Federation|RW Rwanda|SA Saudi Arabia
SB Solomon Islands|SC Seychelles|SD Sudan|SE Sweden|SG Singapore
SH Saint Helena, Ascension and Tristan da Cunha|SI Slovenia|SJ Svalbard and Jan Mayen
SK Slovakia|SL Sierra Leone|SM San Marino|SN Senegal|SO Somalia|SR Suriname|SS South Sudan
ST Sao Tome and Principe|SV El Salvador|SX Sint Maarten (Dutch part)|SY Syrian Arab Republic
SZ Eswatini|TC Turks and Caicos Islands|TD Chad|TF French Southern Territories|TG Togo
TH Thailand|TJ Tajikistan|TK Tokelau|TL Timor-Leste|TM Turkmenistan|TN Tunisia|TO Tonga
TR Türkiye|TT Trinidad and Tobago|TV Tuvalu|TW Taiwan, Province of China
TZ Tanzania, United Republic of|UA Ukraine|UG Uganda|UM United States Minor Outlying Islands
US United States of America|UY Uruguay|UZ Uzbekistan|VA Holy See
VC Saint Vincent and the Grenadines|VE Venezuela (Bolivarian Republic of)
VG Virgin Islands (British)|VI Virgin Islands (U.S.)|VN Viet Nam|VU Vanuatu
WF Wallis and Futuna|WS Samoa|YE Yemen|YT Mayotte|ZA South Africa|ZM Zambia|ZW Zimbabwe
"""
ISO_SOURCE = "ISO 3166-1 alpha-2"
ISO_COUNT = 249


def build_countries() -> list[dict[str, str]]:
    """Rows of countries.csv from the embedded ISO 3166-1 list."""
    entries = [e.strip() for e in ISO_3166_1.replace("\n", "|").split("|") if e.strip()]
    rows = []
    for entry in entries:
        code, name = entry.split(" ", 1)
        rows.append({"code": code, "name": name, "source": ISO_SOURCE})
    return sorted(rows, key=lambda r: r["code"])


# --------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------

GRID_ZONE_SOURCE = "greenml mapping of region location to Electricity Maps zone ids (2026)"

# Electricity Maps zone id per region location (see module docstring).
GRID_ZONES = {
    "aws": {
        "us-east-1": "US-MIDA-PJM", "us-east-2": "US-MIDA-PJM", "us-west-1": "US-CAL-CISO",
        "us-west-2": "US-NW-BPAT", "us-gov-east-1": "US-MIDA-PJM",
        "us-gov-west-1": "US-NW-BPAT", "af-south-1": "ZA", "ap-east-1": "HK",
        "ap-south-1": "IN-WE", "ap-south-2": "IN-SO", "ap-southeast-1": "SG",
        "ap-southeast-2": "AU-NSW", "ap-southeast-3": "ID", "ap-southeast-4": "AU-VIC",
        "ap-southeast-5": "MY-WM", "ap-northeast-1": "JP-TK", "ap-northeast-2": "KR",
        "ap-northeast-3": "JP-KN", "ca-central-1": "CA-QC", "ca-west-1": "CA-AB",
        "cn-north-1": "CN", "cn-northwest-1": "CN", "eu-central-1": "DE",
        "eu-central-2": "CH", "eu-west-1": "IE", "eu-west-2": "GB", "eu-west-3": "FR",
        "eu-south-1": "IT-NO", "eu-south-2": "ES", "eu-north-1": "SE-SE3",
        "il-central-1": "IL", "me-south-1": "BH", "me-central-1": "AE", "sa-east-1": "BR-CS",
    },
    "gcp": {
        "africa-south1": "ZA", "asia-east1": "TW", "asia-east2": "HK",
        "asia-northeast1": "JP-TK", "asia-northeast2": "JP-KN", "asia-northeast3": "KR",
        "asia-south1": "IN-WE", "asia-south2": "IN-NO", "asia-southeast1": "SG",
        "asia-southeast2": "ID", "asia-southeast3": "TH", "australia-southeast1": "AU-NSW",
        "australia-southeast2": "AU-VIC", "europe-central2": "PL", "europe-north1": "FI",
        "europe-north2": "SE-SE3", "europe-southwest1": "ES", "europe-west1": "BE",
        "europe-west10": "DE", "europe-west12": "IT-NO", "europe-west2": "GB",
        "europe-west3": "DE", "europe-west4": "NL", "europe-west5": "", "europe-west6": "CH",
        "europe-west8": "IT-NO", "europe-west9": "FR", "me-central1": "QA",
        "me-central2": "SA", "me-west1": "IL", "northamerica-northeast1": "CA-QC",
        "northamerica-northeast2": "CA-ON", "northamerica-south1": "MX",
        "southamerica-east1": "BR-CS", "southamerica-west1": "CL-SEN",
        "us-central1": "US-MIDW-MISO", "us-central2": "US-CENT-SWPP",
        "us-east1": "US-CAR-SC", "us-east2": "US-SE-SOCO", "us-east4": "US-MIDA-PJM",
        "us-east5": "US-MIDA-PJM", "us-east7": "US-TEN-TVA", "us-south1": "US-TEX-ERCO",
        "us-west1": "US-NW-BPAT", "us-west2": "US-CAL-LDWP", "us-west3": "US-NW-PACE",
        "us-west4": "US-NW-NEVP",
    },
    "azure": {
        "australiacentral": "AU-NSW", "australiacentral2": "AU-NSW",
        "australiaeast": "AU-NSW", "australiasoutheast": "AU-VIC", "austriaeast": "AT",
        "belgiumcentral": "BE", "brazilsouth": "BR-CS", "brazilsoutheast": "BR-CS",
        "canadacentral": "CA-ON", "canadaeast": "CA-QC", "centralindia": "IN-WE",
        "centralus": "US-MIDW-MISO", "chilecentral": "CL-SEN", "denmarkeast": "DK-DK2",
        "eastasia": "HK", "eastus": "US-MIDA-PJM", "eastus2": "US-MIDA-PJM",
        "eastus3": "US-SE-SOCO", "finlandcentral": "FI", "francecentral": "FR",
        "francesouth": "FR", "germanynorth": "DE", "germanywestcentral": "DE",
        "greececentral": "GR", "indiasouthcentral": "IN-SO", "indonesiacentral": "ID",
        "israelcentral": "IL", "italynorth": "IT-NO", "japaneast": "JP-TK",
        "japanwest": "JP-KN", "jioindiacentral": "IN-WE", "jioindiawest": "IN-WE",
        "koreacentral": "KR", "koreasouth": "KR", "malaysiawest": "MY-WM",
        "mexicocentral": "MX", "newzealandnorth": "NZ", "northcentralus": "US-MIDA-PJM",
        "northeurope": "IE", "norwayeast": "NO-NO1", "norwaywest": "NO-NO2",
        "polandcentral": "PL", "qatarcentral": "QA", "saudiarabiasouthcentral": "SA",
        "southafricanorth": "ZA", "southafricawest": "ZA", "southcentralus": "US-TEX-ERCO",
        "southeastasia": "SG", "southindia": "IN-SO", "spaincentral": "ES",
        "swedencentral": "SE-SE3", "swedensouth": "SE-SE4", "switzerlandnorth": "CH",
        "switzerlandwest": "CH", "taiwannorth": "TW", "uaecentral": "AE", "uaenorth": "AE",
        "uksouth": "GB", "ukwest": "GB", "usgovarizona": "US-SW-AZPS",
        "usgovtexas": "US-TEX-ERCO", "usgovvirginia": "US-MIDA-PJM",
        "westcentralus": "US-NW-WACM", "westeurope": "NL", "westindia": "IN-WE",
        "westus": "US-CAL-CISO", "westus2": "US-NW-GCPD", "westus3": "US-SW-AZPS",
    },
}

EXPECTED_FLEET_PUE = {"aws": 1.14, "gcp": 1.10, "azure": 1.185}


def region_groups(src: Sources, provider: str) -> dict[str, list[dict[str, str]]]:
    """cloud_regions.csv rows of one provider, grouped by region (file order kept)."""
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in src.cloud_regions:
        if row["provider"] == provider:
            groups[row["region"]].append(row)
    return groups


def resolve_pue_rows(src: Sources) -> list[dict[str, str]]:
    """pue.csv rows with 'same' sources and year-less periods taken from the row referred to."""
    resolved: list[dict[str, str]] = []
    previous: dict[str, str] | None = None
    for row in src.pue:
        row = dict(row)
        if row["source"] == "same":
            assert previous is not None, "first pue.csv row cannot say 'same'"
            row["source"] = previous["source"]
            if not years_in(row["period"]) and row["period"].rstrip(")") in previous["period"]:
                row["period"] = previous["period"]
        else:
            previous = row
        resolved.append(row)
    return resolved


def fleet_pue(pue_rows: list[dict[str, str]], provider: str) -> dict[str, str]:
    """Newest exact, non-design fleet PUE of a provider."""
    fleet = [
        r for r in pue_rows
        if r["scope"] == "fleet" and r["provider"] == provider and to_float(r["pue"])
        and "design" not in r["pue_type"]
    ]
    chosen = max(fleet, key=lambda r: newest_year(r["period"]))
    assert to_float(chosen["pue"]) == EXPECTED_FLEET_PUE[provider], chosen
    return chosen


def region_pue(pue_rows: list[dict[str, str]], provider: str, region: str) -> dict[str, str]:
    """The site PUE row naming the region, else the provider's fleet row."""
    sites = [
        r for r in pue_rows
        if r["scope"] == "site" and r["provider"] == provider and r["region_or_site"] == region
    ]
    assert len(sites) <= 1, f"several site PUE rows for {region}"
    return sites[0] if sites else fleet_pue(pue_rows, provider)


def gcp_zones(src: Sources) -> dict[str, str]:
    """Region -> ';'-joined sorted availability zones from the GCP catalogue."""
    zones: dict[str, set[str]] = defaultdict(set)
    for row in src.gcp_vms:
        if row["AvailabilityZone"]:
            zones[row["Region"]].add(row["AvailabilityZone"])
    return {region: ";".join(sorted(names)) for region, names in zones.items()}


def region_row(
    provider: str, rows: list[dict[str, str]], pue: dict[str, str], zones: str
) -> dict[str, str]:
    """One row of a provider's regions.csv."""
    first = rows[0]
    region = first["region"]
    return {
        "region": region, "location": first["location"], "country": first["country_iso"],
        "latitude": fmt_num(first["latitude"]), "longitude": fmt_num(first["longitude"]),
        "grid_zone": GRID_ZONES[provider][region], "grid_zone_source": GRID_ZONE_SOURCE,
        "zones": zones, "pue": fmt_num(pue["pue"]), "pue_source": pue["source"],
        "pue_year": pue["period"],
    }


def build_regions(src: Sources, provider: str) -> list[dict[str, str]]:
    """All regions of a provider, sorted by region id."""
    pue_rows = resolve_pue_rows(src)
    zones = gcp_zones(src) if provider == "gcp" else {}
    groups = region_groups(src, provider)
    assert set(groups) == set(GRID_ZONES[provider]), "GRID_ZONES out of step with regions"
    return [
        region_row(provider, groups[r], region_pue(pue_rows, provider, r), zones.get(r, ""))
        for r in sorted(groups)
    ]


# --------------------------------------------------------------------------------------
# Offers
# --------------------------------------------------------------------------------------

# (provider, instance-type regex, accelerator string in the source, canonical name)
INSTANCE_RULES = (
    ("aws", r"^p4d\.", "A100", "A100"),
    ("aws", r"^p4de\.", "A100-80GB", "A100-80GB"),
    ("azure", r"^Standard_NC\d+ads_A100_v4$", "A100-80GB", "A100-80GB-PCIe"),
    ("azure", r"^Standard_ND96amsr_A100_v4$", "A100-80GB", "A100-80GB"),
    ("azure", r"^Standard_ND96asr_v4$", "A100", "A100"),
    ("azure", r"^Standard_NCC?\d+adi?s_H100_v5$", "H100", "H100-NVL"),
    ("azure", r"^Standard_ND96isr_H100_v5$", "H100", "H100"),
    ("gcp", r"^a3-megagpu-", "H100-MEGA", "H100"),
)
# Source strings that name a family on this provider: a rule above must decide the variant.
RULE_REQUIRED = {"azure": {"A100", "A100-80GB", "H100"}}

N1_GPU_COUNTS = {"T4": (1, 2, 4), "V100": (1, 2, 4, 8), "P100": (1, 2, 4), "P4": (1, 2, 4)}
N1_MAX_VCPUS = 96
TPU_BASIS = "tpu_slice (whole slice; accelerators_per_instance = chips)"
COMPOSED_BASIS = (
    "composed: {host} host + {count} x {gpu} (researcher-composed from host_only and "
    "gpu_only parts, same region)"
)


@dataclass
class OfferLog:
    """What the offer builders skipped or noticed, for the report and the docs."""

    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def canonical_accelerator(
    provider: str, instance_type: str, accelerator: str, lookup: dict[str, str]
) -> str:
    """Canonical accelerator name of a catalogue row (instance rules first, then aliases)."""
    for rule_provider, pattern, source_name, canonical in INSTANCE_RULES:
        if (rule_provider, source_name) == (provider, accelerator) and re.search(
            pattern, instance_type
        ):
            return canonical
    if accelerator in RULE_REQUIRED.get(provider, set()):
        raise SystemExit(f"no variant rule for {provider} {instance_type} ({accelerator})")
    return lookup[accelerator.lower()]


def offer(row: dict[str, str], accelerator: str, **overrides: str) -> dict[str, str]:
    """An offers.csv row from an instance_types.csv row (overrides win)."""
    base = {
        "instance_type": row["instance_type"], "accelerator": accelerator,
        "accelerators_per_instance": fmt_num(row["accelerator_count"]),
        "vcpus": fmt_num(row["vcpus"]), "memory_gb": fmt_num(row["memory_gb"]),
        "region": row["region"], "ondemand_usd_per_hour": fmt_num(row["price_usd_per_hour"]),
        "spot_usd_per_hour": fmt_num(row["spot_price_usd_per_hour"]),
        "price_basis": row["price_basis"], "price_source": row["source"],
        "price_date": row["snapshot_date"],
    }
    base.update(overrides)
    return base


def provider_rows(src: Sources, provider: str, basis_prefix: str) -> list[dict[str, str]]:
    """instance_types.csv rows of a provider whose price_basis starts with a prefix."""
    return [
        r for r in src.instances
        if r["provider"] == provider and r["price_basis"].startswith(basis_prefix)
    ]


def aws_offers(src: Sources, lookup: dict[str, str], log: OfferLog) -> list[dict[str, str]]:
    """AWS: priced vm_total rows; rows without a public price are logged as skipped."""
    for row in provider_rows(src, "aws", "no public"):
        log.skipped.append(
            f"aws {row['instance_type']} ({row['accelerator']} x{row['accelerator_count']}): "
            f"{row['price_basis']}"
        )
    return [
        offer(row, canonical_accelerator("aws", row["instance_type"], row["accelerator"], lookup),
              spot_usd_per_hour="")
        for row in provider_rows(src, "aws", "vm_total")
    ]


def azure_offers(src: Sources, lookup: dict[str, str], log: OfferLog) -> list[dict[str, str]]:
    """Azure: vm_total rows as they are (variant rules applied to the accelerator)."""
    return [
        offer(row, canonical_accelerator("azure", row["instance_type"], row["accelerator"],
                                         lookup))
        for row in provider_rows(src, "azure", "vm_total")
    ]


def part_prices(row: dict[str, str]) -> tuple[float, float | None]:
    """(on-demand, spot or None) of a price part."""
    return float(row["price_usd_per_hour"]), to_float(row["spot_price_usd_per_hour"])


def add_parts(host: tuple[float, float | None], gpu: tuple[float, float | None]) -> tuple[str, str]:
    """Composed (on-demand, spot) texts; spot empty unless both parts have one."""
    spot = "" if host[1] is None or gpu[1] is None else fmt_price(host[1] + gpu[1])
    return fmt_price(host[0] + gpu[0]), spot


def gpu_parts(src: Sources) -> dict[tuple[str, str, str], dict[str, str]]:
    """GCP gpu_only rows keyed by (accelerator, count, region)."""
    return {
        (r["accelerator"], fmt_num(r["accelerator_count"]), r["region"]): r
        for r in provider_rows(src, "gcp", "gpu_only")
    }


def check_derived_totals(src: Sources, log: OfferLog) -> None:
    """Note derived_total rows that differ from host_only + gpu_only of the same region."""
    hosts = {(r["instance_type"], r["region"]): r for r in provider_rows(src, "gcp", "host_only")}
    gpus = gpu_parts(src)
    off = 0
    for row in provider_rows(src, "gcp", "derived_total"):
        host = hosts.get((row["instance_type"], row["region"]))
        gpu = gpus.get((row["accelerator"], fmt_num(row["accelerator_count"]), row["region"]))
        if host and gpu:
            parts = float(host["price_usd_per_hour"]) + float(gpu["price_usd_per_hour"])
            off += abs(parts - float(row["price_usd_per_hour"])) > 1e-4
    log.notes.append(f"gcp derived_total rows differing from host_only + gpu_only: {off}")


def gcp_derived_offers(src: Sources, lookup: dict[str, str]) -> list[dict[str, str]]:
    """GCP a2/a3/a4/g2 full-VM prices from derived_total rows (source flags kept)."""
    return [
        offer(row, canonical_accelerator("gcp", row["instance_type"], row["accelerator"], lookup))
        for row in provider_rows(src, "gcp", "derived_total")
    ]


def gcp_host_only_offers(
    src: Sources, lookup: dict[str, str], log: OfferLog
) -> list[dict[str, str]]:
    """host_only rows lacking a derived_total: compose with the region's gpu_only part."""
    derived_rows = provider_rows(src, "gcp", "derived_total")
    derived = {(r["instance_type"], r["region"]) for r in derived_rows}
    gpus, offers = gpu_parts(src), []
    for row in provider_rows(src, "gcp", "host_only"):
        if (row["instance_type"], row["region"]) in derived:
            continue
        count = fmt_num(row["accelerator_count"])
        gpu = gpus.get((row["accelerator"], count, row["region"]))
        label = f"gcp {row['instance_type']} {row['region']} (host_only, no derived_total)"
        if gpu is None:
            log.skipped.append(f"{label}: no gpu_only {row['accelerator']} x{count} row there")
            continue
        ondemand, spot = add_parts(part_prices(row), part_prices(gpu))
        basis = COMPOSED_BASIS.format(host=row["instance_type"], count=count,
                                      gpu=row["accelerator"])
        name = canonical_accelerator("gcp", row["instance_type"], row["accelerator"], lookup)
        offers.append(offer(row, name, ondemand_usd_per_hour=ondemand, spot_usd_per_hour=spot,
                            price_basis=basis))
    return offers


def n1_hosts(src: Sources) -> dict[tuple[str, str], dict[str, str]]:
    """n1-standard host shapes per (machine type, region); one price per region asserted."""
    hosts: dict[tuple[str, str], dict[str, str]] = {}
    for row in src.gcp_vms:
        if not row["InstanceType"].startswith("n1-standard-"):
            continue
        key = (row["InstanceType"], row["Region"])
        seen = hosts.setdefault(key, row)
        assert (seen["Price"], seen["SpotPrice"]) == (row["Price"], row["SpotPrice"]), key
    return hosts


def gcp_n1_offers(src: Sources, lookup: dict[str, str]) -> list[dict[str, str]]:
    """n1-standard-{8k} host + k attached GPUs, where both parts exist in the region."""
    hosts, offers = n1_hosts(src), []
    for (gpu_name, count, region), gpu in sorted(gpu_parts(src).items()):
        if gpu_name not in N1_GPU_COUNTS or int(count) not in N1_GPU_COUNTS[gpu_name]:
            continue
        machine = f"n1-standard-{min(8 * int(count), N1_MAX_VCPUS)}"
        host = hosts.get((machine, region))
        if host is None:
            continue
        host_prices = (float(host["Price"]), to_float(host["SpotPrice"]))
        ondemand, spot = add_parts(host_prices, part_prices(gpu))
        offers.append(offer(
            gpu, lookup[gpu_name.lower()], instance_type=machine, vcpus=fmt_num(host["vCPUs"]),
            memory_gb=fmt_num(host["MemoryGiB"]), ondemand_usd_per_hour=ondemand,
            spot_usd_per_hour=spot,
            price_basis=COMPOSED_BASIS.format(host=machine, count=count, gpu=gpu_name),
            price_source=f"{gpu['source']}; host price from the same catalogue (gcp_vms.csv)",
        ))
    return offers


def tpu_placeholders(rows: list[dict[str, str]], column: str) -> set[tuple[str, str, str]]:
    """(accelerator, region, price) repeated unchanged across different slice sizes."""
    sizes: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows:
        if row[column]:
            sizes[(row["accelerator"], row["region"], row[column])].add(row["accelerator_count"])
    return {key for key, counts in sizes.items() if len(counts) > 1}


def gcp_tpu_offers(src: Sources, lookup: dict[str, str], log: OfferLog) -> list[dict[str, str]]:
    """Whole-slice TPU offers, placeholder prices removed."""
    rows = provider_rows(src, "gcp", "tpu_slice")
    bad_ondemand = tpu_placeholders(rows, "price_usd_per_hour")
    bad_spot = tpu_placeholders(rows, "spot_price_usd_per_hour")
    offers, blanked = [], 0
    dropped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in rows:
        ondemand_key = (row["accelerator"], row["region"], row["price_usd_per_hour"])
        if ondemand_key in bad_ondemand:
            dropped[ondemand_key].append(row["instance_type"])
            continue
        spot = row["spot_price_usd_per_hour"]
        if (row["accelerator"], row["region"], spot) in bad_spot:
            spot, blanked = "", blanked + 1
        offers.append(offer(row, lookup[row["accelerator"].lower()],
                            spot_usd_per_hour=fmt_num(spot), price_basis=TPU_BASIS))
    for (accelerator, region, price), slices in sorted(dropped.items()):
        log.skipped.append(
            f"gcp {accelerator} {region}, {len(slices)} slices ({', '.join(sorted(slices))}): "
            f"on-demand {price} for every slice size (placeholder)"
        )
    log.notes.append(f"gcp TPU spot prices blanked as placeholders: {blanked}")
    return offers


def gcp_offers(src: Sources, lookup: dict[str, str], log: OfferLog) -> list[dict[str, str]]:
    """GCP offers: derived totals, composed host_only, N1 + GPU, TPU slices."""
    check_derived_totals(src, log)
    return (
        gcp_derived_offers(src, lookup)
        + gcp_host_only_offers(src, lookup, log)
        + gcp_n1_offers(src, lookup)
        + gcp_tpu_offers(src, lookup, log)
    )


OFFER_BUILDERS = {"aws": aws_offers, "gcp": gcp_offers, "azure": azure_offers}


def offer_sort_key(row: dict[str, str]) -> tuple[str, str, float, str]:
    return (row["instance_type"], row["accelerator"], float(row["accelerators_per_instance"]),
            row["region"])


def keep_known_regions(
    provider: str, offers: list[dict[str, str]], regions: set[str], log: OfferLog
) -> list[dict[str, str]]:
    """Drop (and report) offers in regions missing from the provider's regions.csv."""
    kept = []
    for row in offers:
        if row["region"] in regions:
            kept.append(row)
        else:
            warn(f"{provider} offer {row['instance_type']} in unknown region {row['region']!r}")
            log.skipped.append(f"{provider} {row['instance_type']}: unknown region "
                               f"{row['region']!r}")
    return kept


def keep_located(
    provider: str, regions: list[dict[str, str]], log: OfferLog
) -> list[dict[str, str]]:
    """Drop (and report) regions with no country: data residency cannot be checked there."""
    kept = [r for r in regions if r["country"]]
    for row in regions:
        if not row["country"]:
            log.skipped.append(f"{provider} region {row['region']}: no location or country in "
                               "the source, so residency constraints could not be applied")
    return kept


def keep_whole_accelerators(
    provider: str, offers: list[dict[str, str]], log: OfferLog
) -> list[dict[str, str]]:
    """Drop (and report) fractional-GPU sizes: a training gang needs whole accelerators."""
    kept = [r for r in offers if float(r["accelerators_per_instance"]).is_integer()]
    fractional = sorted({r["instance_type"] for r in offers} - {r["instance_type"] for r in kept})
    if fractional:
        log.skipped.append(f"{provider} fractional-GPU sizes ({len(offers) - len(kept)} offers): "
                           f"{', '.join(fractional)}")
    return kept


def build_offers(
    src: Sources, provider: str, lookup: dict[str, str], regions: set[str], log: OfferLog
) -> list[dict[str, str]]:
    """All whole-accelerator offers of a provider in known regions, sorted."""
    offers = keep_whole_accelerators(provider, OFFER_BUILDERS[provider](src, lookup, log), log)
    return sorted(keep_known_regions(provider, offers, regions, log), key=offer_sort_key)


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


def check_instance_accelerators(src: Sources, lookup: dict[str, str]) -> None:
    """Every accelerator string of instance_types.csv resolves to one catalogue row."""
    missing = {r["accelerator"] for r in src.instances if r["accelerator"].lower() not in lookup}
    assert not missing, f"accelerators without a catalogue row: {sorted(missing)}"


def check_countries(countries: list[dict[str, str]], src: Sources) -> None:
    """249 distinct codes, covering every country of cloud_regions.csv."""
    codes = {r["code"] for r in countries}
    assert len(countries) == len(codes) == ISO_COUNT, len(countries)
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in codes)
    used = {r["country_iso"] for r in src.cloud_regions if r["country_iso"]}
    assert used <= codes, f"unknown country codes: {sorted(used - codes)}"


def check_regions(
    provider: str, regions: list[dict[str, str]], expected: int, zones: set[str]
) -> None:
    """Region count, pue with source and year, and a grid zone the default dataset has."""
    assert len(regions) == expected, (provider, len(regions))
    for row in regions:
        for column in ("pue", "pue_source"):
            assert row[column], (provider, row["region"], column)
        assert years_in(row["pue_year"]), (provider, row["region"], row["pue_year"])
        assert row["grid_zone"] in zones, (provider, row["region"], row["grid_zone"])


def check_offers(
    provider: str, offers: list[dict[str, str]], names: set[str], regions: set[str]
) -> None:
    """Known accelerator and region, no duplicate offer key, positive prices."""
    keys = set()
    for row in offers:
        assert row["accelerator"] in names, (provider, row)
        assert row["region"] in regions, (provider, row)
        key = (row["instance_type"], row["accelerator"], row["accelerators_per_instance"],
               row["region"])
        assert key not in keys, (provider, key)
        keys.add(key)
        assert float(row["ondemand_usd_per_hour"]) > 0, (provider, row)
        assert not row["spot_usd_per_hour"] or float(row["spot_usd_per_hour"]) > 0, row
        assert row["price_source"] and row["price_date"], row


def check_accelerators(rows: list[dict[str, str]]) -> None:
    """Families name an existing row; every row has a source and a year."""
    names = {r["name"] for r in rows}
    for row in rows:
        assert " " not in row["name"], row["name"]
        assert row["family"] in names, row
        assert row["source"] and years_in(row["year"]), row
        assert bool(row["system_power_w"]) == bool(row["system_power_basis"]), row


# --------------------------------------------------------------------------------------
# Documentation page
# --------------------------------------------------------------------------------------


def no_power_names(accelerators: list[dict[str, str]]) -> list[str]:
    """Accelerators without a system power figure (no measurement, no chip power)."""
    return power.no_power(accelerators)


def accelerator_table(accelerators: list[dict[str, str]]) -> list[str]:
    """Markdown table: name, family, TDP, system power and its basis."""
    lines = ["| name | family | tdp_w | system_power_w (basis) | year |",
             "|---|---|---|---|---|"]
    for r in accelerators:
        watts = (f"{r['system_power_w']} ({r['system_power_basis']})" if r["system_power_w"]
                 else "")
        lines.append(f"| {r['name']} | {r['family']} | {r['tdp_w']} | {watts} | {r['year']} |")
    return lines


def rules_table() -> list[str]:
    """Markdown table of the per-instance accelerator rules."""
    lines = ["| provider | instance type (regex) | catalogue string | shipped as |",
             "|---|---|---|---|"]
    lines += [f"| {p} | `{rx}` | {s} | {c} |" for p, rx, s, c in INSTANCE_RULES]
    return lines


def counts_table(counts: dict[str, int]) -> list[str]:
    """Markdown table of row counts per shipped file."""
    lines = ["| file | rows |", "|---|---|"]
    lines += [f"| `{OUTPUTS[k].relative_to(REPO)}` | {n} |" for k, n in counts.items()]
    return lines


DOC_HEAD = """# Data sources of the embedded catalogs

All package data is generated by `plugins/build_catalogs.py` from the reference data in
`../shared/data` (see its `README.md` and `SOURCES.csv`). Do not edit the CSV files by hand:
change the script and run `python plugins/build_catalogs.py`. Every figure keeps its source
and year in the row that ships it.

Energy model (Patterson et al. 2021, Sec 2.5): kWh = hours x accelerators x average power
per accelerator (W) x PUE / 1000; kg CO2e = kWh x grid intensity (kg/kWh).
"""

DOC_FILES = """## Files and columns

### `greenml/data/accelerators.csv`

`name,family,aliases,vendor,form_factor,memory_gb,tdp_w,system_power_w,system_power_basis,
system_power_from_w,system_power_source,system_power_year,dense_bf16_tflops,dense_fp16_tflops,
source,year`

* One row per accelerator variant: the rows of shared `accelerators.csv`, the Patterson
  processors (P100, V100, TPU v2, TPU v3) and every accelerator string of the price
  catalogues. `name` is the short name users type; `aliases` (`;`-separated) holds other
  spellings, including the exact catalogue strings (`H100-MEGA`, `tpu-v5litepod`,
  `Radeon Pro V520`, ...). Names and aliases are unique ignoring case, so a spelling that
  equals a name ignoring case (`tpu-v3` for `TPU-v3`) is matched through the name.
* `family` groups variants a user means by the short name (`A100` = A100, A100-80GB,
  A100-PCIe, A100-80GB-PCIe; `H100` = H100, H100-PCIe, H100-NVL; `H200` = H200, H200-NVL;
  `V100` = V100, V100-32GB, V100-PCIe). The family's reference member is the row whose name
  equals the family.
* `memory_gb`, `tdp_w`, `dense_bf16_tflops`, `dense_fp16_tflops`: dense (never sparse)
  tensor throughput. Source order: shared `accelerators.csv`; then Green Algorithms
  `TDP_gpu.csv` (2025-02-05 snapshot) for TDP, mlco2/impact `gpus.csv` for TDP and memory
  (its `TFLOPS16` column is not used: it mixes vector, tensor and sparse figures);
  Patterson et al. 2021 for the P100 (TDP 300 W, Table 1; peak 19 TFLOPS, footnote 4 - no
  tensor cores, so the FP16 peak is dense); figures quoted in the notes of shared
  `accelerators.csv` for the NVIDIA A10 and the GB200; GPU memory of the P4 from the GCP
  catalogue. Empty where no source gives a figure. `memory_gb` is the vendor's nominal
  figure (TPU v3/v4, Trainium and Inferentia are specified in GiB).
* `system_power_*`: average system power per processor (chip plus its share of the host),
  one basis for every row, see [accelerator power](accelerator-power.md). `measured`:
  Patterson et al. 2021 Table 3 (@MEASURED@); the
  shared V100 row covers SXM2 16 and 32 GB, so V100-32GB carries the same figure. Otherwise
  `derived from ...`: one factor (`system_power_per_chip_power` in `defaults.csv`) times the
  chip figure in `system_power_from_w` (the TDP, else the figure and source of
  `plugins/catalog_sources/accelerator_power.csv`, or for TPU v4 the measured maximum chip
  power of the Cloud TPU docs). `system_power_source` / `system_power_year`: the source and
  year of the measured or chip figure; for a row without one, the reason.
* `source`: provenance of the row's figures; `year`: year of the vendor specification the
  figures describe, extended to the publication year of a measured average power; rows
  without figures carry the year of the catalogue snapshot that lists them.

### `greenml/data/countries.csv`

`code,name,source`: the 249 ISO 3166-1 alpha-2 codes with their ISO English short names
(source `ISO 3166-1 alpha-2`). Every `country` of the region files is among them.

### `plugins/greenml-<p>/greenml_<p>/data/regions.csv` (p = aws, gcp, azure)

`region,location,country,latitude,longitude,grid_zone,grid_zone_source,zones,pue,pue_source,
pue_year`

* One row per region of `cloud_regions.csv` (@REGIONS@). Location, ISO
  country and coordinates as in that file (AWS/GCP: metro centroids from TeleGeography;
  Azure: Azure CLI; empty where unknown).
* No intensity: a region's grid intensity comes from its `grid_zone` in the chosen
  dataset (above), the same figure for every provider's regions in one zone.
* PUE: the most specific figure of `pue.csv`. A GCP `site` figure for the region
  (trailing twelve months as captured by Cloud Carbon Footprint, or the Green Algorithms
  2020-09-29 capture) beats the fleet figure. Fleet figures: AWS 1.14 (calendar 2025,
  Amazon sustainability page), GCP 1.10 (Q2 2021 as quoted by CNBC 2022, the latest exact
  Google fleet figure in the file; a 2023-2024 news figure says only "~1.1"), Azure 1.185
  (Microsoft trailing-twelve-month statement quoted by Cloud Carbon Footprint; the 1.12 of
  2022 is a design target, not an operating figure).
* `grid_zone`: Electricity Maps zone id of the region's location, by a greenml mapping
  (`grid_zone_source`); sub-national where Electricity Maps splits the grid (US balancing
  authorities, Japan, India, Australia, Canada, Brazil, Sweden, Norway, Denmark, Italy,
  Malaysia, Chile). Empty only where the location is unknown (GCP europe-west5).
* `zones` (GCP only): sorted availability zones of the region in the GCP price catalogue
  (`raw/skypilot-format/gcp_vms.csv`); empty for regions it does not list.

### `plugins/greenml-<p>/greenml_<p>/data/offers.csv`

`instance_type,accelerator,accelerators_per_instance,vcpus,memory_gb,region,
ondemand_usd_per_hour,spot_usd_per_hour,price_basis,price_source,price_date`

* `accelerator` is the canonical catalogue name; (instance_type, accelerator,
  accelerators_per_instance, region) is unique per provider. `price_source` is the source
  of the catalogue row, `price_date` its snapshot date. Fractional counts (AWS g6f/gr6f,
  Azure NVads A10 v5) are shares of one GPU, as in the source.
* AWS (tsaol/aws-gpu from instances.vantage.sh / AWS Pricing API, 2026-01-21): on-demand
  Linux `vm_total` prices. No spot prices (no source).
* Azure (anycloud-sh/catalog, Azure retail prices, 2026-05-20): pay-as-you-go Linux
  `vm_total` prices with spot prices where listed.
* GCP (anycloud-sh/catalog, GCP Cloud Billing catalog, 2026-05-20): GCP bills GPUs
  separately from the VM, so prices are composed into full VM prices and `price_basis`
  says how:
  * a2 / a3 / a4 / g2: `derived_total = host_only + gpu_only` rows. Rows whose host price
    is 0.0 in the source keep the flag `[host price 0.0 in source - total likely
    understated]` (a4-highgpu-8g). A host_only row without a derived_total is composed
    with the same region's gpu_only part for its GPU count, or skipped when there is none.
  * N1 + attached GPU (T4, V100, P100, P4): `n1-standard-{8k}` host + k GPUs for k in the
    counts GCP allows (T4, P100, P4: 1, 2, 4; V100: 1, 2, 4, 8), where the host shape
    exists in the region. `instance_type` is the N1 machine type (e.g. `n1-standard-8`);
    the pair (accelerator, accelerators_per_instance) tells the offers apart. Price = host
    + GPUs, on-demand and spot alike (spot empty if a part has no spot price).
  * TPU: whole-slice offers (`instance_type` = slice name, e.g. `tpu-v3-8`;
    `accelerators_per_instance` = chips, i.e. half the suffix for v2/v3/v4/v5p, the suffix
    for v5litepod/v6e; price per slice-hour).
  * `host_only` and `gpu_only` rows are parts and never ship as offers.
"""

DOC_CAVEATS = """## Known caveats

* **AWS has no spot prices** in any source; `spot_usd_per_hour` is empty for every AWS
  offer.
* **Accelerators without a power figure** (no `system_power_w`) cannot be costed in energy
  and are excluded by the planner, with the reason of `system_power_source`: {no_power}.
* Only four processors (TPU v2, TPU v3, P100, V100) have a measured system power; every
  other figure is derived by one factor whose calibration ratios range from
  @RATIOS@, see [accelerator power](accelerator-power.md).
* **K80 TDP (300 W) is per dual-GPU board.** The AWS catalogue counts p2.xlarge as 1 K80 but
  p2.8xlarge / p2.16xlarge as 4 / 8, while AWS lists 8 / 16 GPUs (one per GK210 die), so
  K80 counts are inconsistent in the source and shipped as they are.
* **Doubtful accelerator labels in the AWS catalogue, shipped as they are:** g6f / gr6f
  are listed with `L40`, but AWS describes G6f as fractional NVIDIA L4 (1/8 GPU = 3 GB);
  g5g is listed with `Mali-G78MP12`, but g5g instances carry NVIDIA T4G GPUs (16 GB each).
  Azure NVv4 (`MI25`) rows give 1 GPU for every size although NV4as/NV8as/NV16as v4 are
  1/8, 1/4 and 1/2 of an MI25. Azure NCv3 `V100` rows are shipped as `V100` (SXM2); the
  NCv3 GPUs may be the PCIe variant (unverified).
* GCP europe-west5: Google gives no location (`location` says so), so `country`,
  coordinates and `grid_zone` are blank, so it is not shipped.
  GCP us-central2, us-east2 and us-east7 have no coordinates in the stored sources.
* Grid zones are a best-effort location mapping. Less certain cases: GCP us-east1
  (Berkeley County, SC -> `US-CAR-SC`), us-west2 (Los Angeles -> `US-CAL-LDWP`), Azure
  westus3 / usgovarizona (Phoenix area -> `US-SW-AZPS`, could be `US-SW-SRP`),
  westcentralus (Cheyenne -> `US-NW-WACM`).
* Google's 2025 figures (`google-2025`) come from a file-index copy of `data/yearly/2025.csv`
  newer than the fetched snapshot; whether it covers a full year is unverified.
* Grid figures swing from year to year (see the table above); `plan.robustness` says
  whether a plan's winner stays best under every year of its dataset's methodology.
* Coordinates: TeleGeography metro centroids for AWS/GCP (cn-northwest-1 has none); Azure
  CLI coordinates for Azure are Microsoft's own (e.g. francecentral is France's centroid,
  spaincentral's longitude 3.4209 is east of Madrid).
* GCP TPU v6e prices of exactly 700.0 per hour for every slice size (asia-east1,
  southamerica-east1, us-central2 on-demand and spot; southamerica-west1 spot) are
  placeholders: those on-demand rows are dropped and those spot prices left empty.
* Prices are list prices at the snapshot date; they change.
"""


def bullet_list(items: list[str]) -> list[str]:
    return [f"* {item}" for item in items] or ["* none"]


def render_docs(
    accelerators: list[dict[str, str]], counts: dict[str, int], log: OfferLog,
    grid: list[str], power_points: list[dict[str, str | float]],
) -> str:
    """The full docs/data-sources.md page; every figure in its text comes from the data."""
    no_power = ", ".join(f"`{n}`" for n in no_power_names(accelerators))
    low = min(power_points, key=lambda p: float(p["ratio"]))
    high = max(power_points, key=lambda p: float(p["ratio"]))
    def short(point: dict[str, str | float]) -> str:
        return str(point["processor"]).removesuffix(" GPU")

    filled = {
        "@MEASURED@": ", ".join(f"{short(p)} {float(p['measured_w']):g} W" for p in power_points),
        "@REGIONS@": ", ".join(f"{p.upper() if p != 'azure' else 'Azure'} "
                               f"{counts[p + '_regions']}" for p in PROVIDERS),
        "@RATIOS@": (f"{float(low['ratio']):.2f} ({short(low)}) to "
                     f"{float(high['ratio']):.2f} ({short(high)})"),
    }
    files, caveats = DOC_FILES, DOC_CAVEATS.format(no_power=no_power)
    for token, text in filled.items():
        files, caveats = files.replace(token, text), caveats.replace(token, text)
    parts = [
        DOC_HEAD, "## Row counts", "", *counts_table(counts), "", *grid, files,
        "## Accelerator variant rules", "",
        "Catalogue strings that name a family are resolved per provider and instance type:",
        "", *rules_table(), "",
        "Every other catalogue string is resolved through `name` / `aliases`.", "",
        "## Accelerators shipped", "", *accelerator_table(accelerators), "",
        "## Catalogue rows skipped", "", *bullet_list(log.skipped), "",
        "## Build notes", "", *bullet_list(log.notes), "",
        caveats,
    ]
    return "\n".join(parts).rstrip("\n") + "\n"


def write_compiled(provider: str) -> Path:
    """offers.columns.json beside the provider's offers.csv: its offers as columns, which a
    plan loads without building an object per offer (``greenml.compiled``); made from this
    checkout's greenml and plugin, whatever is installed."""
    for folder in (REPO / "plugins" / f"greenml-{provider}", REPO):
        sys.path.insert(0, str(folder))
    from greenml import compiled

    return compiled.write(f"greenml_{provider}.data", provider)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(text)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

# GCP: 47 in the source, less europe-west5, which has no location (see keep_located).
EXPECTED_REGIONS = {"aws": 34, "gcp": 46, "azure": 68}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help=f"shared reference data folder (default: {DEFAULT_SHARED})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    src = load_sources(args.shared.resolve())
    log = OfferLog()

    accelerators = build_accelerators(src)
    power_points, power_factor = add_system_power(src, accelerators)
    check_accelerators(accelerators)
    power.check(accelerators, power_factor)
    lookup = accelerator_lookup(accelerators)
    check_instance_accelerators(src, lookup)
    names = {r["name"] for r in accelerators}
    write_csv(OUTPUTS["accelerators"], ACCELERATOR_COLUMNS, accelerators)
    power.upsert_default(power.factor_row(power_points, power_factor))
    write_text(power.DOC_FILE, power.render_doc(accelerators, power_points, power_factor))

    countries = build_countries()
    check_countries(countries, src)
    write_csv(OUTPUTS["countries"], COUNTRY_COLUMNS, countries)

    zone_rows = intensity.electricitymaps_rows(args.shared.resolve())
    google_rows = intensity.google_rows(args.shared.resolve())
    datasets = intensity.dataset_rows(zone_rows, google_rows)
    write_csv(OUTPUTS["datasets"], intensity.DATASET_COLUMNS, datasets)
    write_csv(OUTPUTS["zone_intensity"], intensity.ZONE_COLUMNS, zone_rows)
    write_csv(OUTPUTS["google_intensity"], intensity.REGION_COLUMNS, google_rows)
    zones = {r["zone"] for r in zone_rows}

    counts = {"accelerators": len(accelerators), "countries": len(countries),
              "datasets": len(datasets), "zone_intensity": len(zone_rows),
              "google_intensity": len(google_rows)}
    all_regions: dict[str, list[dict[str, str]]] = {}
    for provider in PROVIDERS:
        regions = keep_located(provider, build_regions(src, provider), log)
        check_regions(provider, regions, EXPECTED_REGIONS[provider], zones)
        all_regions[provider] = regions
        region_ids = {r["region"] for r in regions}
        offers = build_offers(src, provider, lookup, region_ids, log)
        check_offers(provider, offers, names, region_ids)
        write_csv(OUTPUTS[f"{provider}_regions"], REGION_COLUMNS, regions)
        write_csv(OUTPUTS[f"{provider}_offers"], OFFER_COLUMNS, offers)
        write_compiled(provider)
        counts[f"{provider}_regions"] = len(regions)
        counts[f"{provider}_offers"] = len(offers)

    grid = intensity.docs_section(zone_rows, google_rows, src.cloud_regions, all_regions)
    write_text(OUTPUTS["docs"], render_docs(accelerators, counts, log, grid, power_points))
    for key, count in counts.items():
        print(f"{OUTPUTS[key].relative_to(REPO)}: {count} rows")
        if key.endswith("_offers"):
            compiled_file = OUTPUTS[key].with_name("offers.columns.json")
            print(f"{compiled_file.relative_to(REPO)}: {count} rows, compiled")
    for line in log.skipped:
        print(f"skipped: {line}")
    for line in log.notes:
        print(f"note: {line}")
    print(f"system power factor: {power_factor} (docs/accelerator-power.md)")
    print(f"no power figure: {', '.join(no_power_names(accelerators))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
