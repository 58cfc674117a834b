"""greenml/data/accelerators.csv: one row per accelerator variant, figures with their source.

Rows: the rows of shared ``accelerators.csv``, the Patterson et al. 2021 processors, and
every ``accelerator`` string of ``instance_types.csv`` (reached directly or through
``aliases``; case-insensitive uniqueness of all names and aliases is asserted, so spellings
that equal a name ignoring case, such as ``tpu-v3`` for ``TPU-v3``, are not repeated as
aliases). Figures, in this order of preference:

1. shared ``accelerators.csv`` (dense BF16/FP16 columns only, never the sparse one);
2. for variants it lacks: Green Algorithms ``TDP_gpu.csv`` (TDP), mlco2/impact ``gpus.csv``
   (TDP, memory; its ``TFLOPS16`` column is NOT used: it mixes vector, tensor and sparse
   figures), Patterson et al. 2021 (P100: TDP 300 W from Table 1, peak 19 TFLOPS from
   footnote 4 - the P100 has no tensor cores, so its FP16 peak is dense), figures quoted in
   the notes of shared ``accelerators.csv`` (NVIDIA A10, GB200) and GPU memory from the GCP
   price catalogue's GpuInfo (P4).

What no source gives stays empty; nothing is estimated. ``memory_gb`` is the vendor's nominal
figure (TPU v3/v4, Trainium and Inferentia are specified in GiB).

System power (``build_accelerator_power.py``): one basis for every row, the average system
power per processor of Patterson et al. 2021 (chip plus its share of the host): measured
where Table 3 gives it, else derived from the published chip power (TDP; else the figure of
``catalog_sources/accelerator_power.csv``, or the measured maximum chip power of the Cloud
TPU docs) by one factor computed from Table 3. The shared row for V100 covers SXM2 16 and
32 GB, so the Table 3 V100 figure is given to both SXM2 rows.

``year`` is the year of the vendor specification the figures describe, extended to the year
a measured average power was published (e.g. V100 ``2017-2021``); rows without any figure
carry the year of the price-catalogue snapshot that lists them.

Which variant a catalogue string that names only a family means is each plugin's rule (its
``build_catalog.py``); the accelerators themselves are greenml's, shared by every plugin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import build_accelerator_power as power

from catalog_build.common import Sources, find_row, fmt_num, search, years_in

COLUMNS = (
    "name", "family", "aliases", "vendor", "form_factor", "memory_gb", "tdp_w",
    *power.COLUMNS, "dense_bf16_tflops",
    "dense_fp16_tflops", "source", "year",
)


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
        **dict.fromkeys(COLUMNS, ""),
        "name": spec.name, "family": spec.family, "aliases": ";".join(spec.aliases),
        "vendor": spec.vendor, **figures, "year": spec.year,
    }


def build_accelerators(src: Sources) -> list[dict[str, str]]:
    """All accelerator rows, sorted by name."""
    return sorted((accelerator_row(src, s) for s in CATALOGUE), key=lambda r: r["name"].lower())


def check_instance_accelerators(src: Sources, lookup: dict[str, str]) -> None:
    """Every accelerator string of instance_types.csv resolves to one catalogue row."""
    missing = {r["accelerator"] for r in src.instances if r["accelerator"].lower() not in lookup}
    assert not missing, f"accelerators without a catalogue row: {sorted(missing)}"


def check_accelerators(rows: list[dict[str, str]]) -> None:
    """Families name an existing row; every row has a source and a year."""
    names = {r["name"] for r in rows}
    for row in rows:
        assert " " not in row["name"], row["name"]
        assert row["family"] in names, row
        assert row["source"] and years_in(row["year"]), row
        assert bool(row["system_power_w"]) == bool(row["system_power_basis"]), row

