#!/usr/bin/env python3
"""Build greenml-gcp's catalog (greenml_gcp/data) from the shared reference data.

Usage::

    python plugins/greenml-gcp/build_catalog.py [--shared PATH] [--data FOLDER]

Writes ``regions.csv``, ``offers.csv`` and ``offers.columns.json`` into FOLDER (default: the
package's data folder) and nothing else; ``plugins/build_catalogs.py`` runs it after building
greenml's core data. The rules every plugin shares (PUE, grid zones, whole accelerators, the
checks) are in ``plugins/catalog_build``; GCP's own choices are here:

Regions
    The GCP regions of ``cloud_regions.csv`` (47, less europe-west5, which has no location).
    PUE: a ``site`` row of the region (the trailing-twelve-month figures captured by Cloud
    Carbon Footprint or Green Algorithms), else the fleet 1.10 (Q2 2021, the latest exact
    fleet figure). ``zones`` is the sorted union of ``AvailabilityZone`` per ``Region`` in
    ``raw/skypilot-format/gcp_vms.csv``.

Offers
    GCP bills GPUs apart from the VM, so prices are composed into full VM prices:

    * a2/a3/a4/g2: the ``derived_total`` rows (host + GPUs), keeping the source's flag on
      rows whose host price is 0.0. A ``host_only`` row without a ``derived_total`` is
      composed with the same region's ``gpu_only`` row for its GPU count, else skipped.
    * N1 + attached GPU (T4, V100, P100, P4 exist only as ``gpu_only`` parts):
      ``n1-standard-{8k}`` + k GPUs for the counts GCP allows (``N1_GPU_COUNTS``) where
      that host shape exists in the region in ``gcp_vms.csv``. ``instance_type`` is the N1
      machine type; (instance_type, accelerator, accelerators_per_instance) identifies the
      offer. Price = host + GPUs, on-demand and spot alike (spot empty if a part lacks one).
    * TPU: ``tpu_slice`` rows as whole-slice offers (chips per slice as in the file;
      ``price_basis`` shortened to ``TPU_BASIS``). A slice price that repeats unchanged
      across slice sizes of one TPU generation in one region (700.0 for tpu-v6e in a few
      regions) is a placeholder: such an on-demand price drops the row, such a spot price is
      left empty.
    * ``host_only`` and ``gpu_only`` rows are parts, never offers.

Variants: a3-megagpu (H100-MEGA) = H100 SXM5.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # plugins/, where the shared catalog_build lives
    sys.path.insert(0, str(HERE.parent))

from catalog_build.common import (  # noqa: E402
    BuildLog,
    Sources,
    fmt_num,
    fmt_price,
    to_float,
)
from catalog_build.offers import AcceleratorNames, offer, provider_rows  # noqa: E402
from catalog_build.plugin import ProviderBuilder, main  # noqa: E402

GRID_ZONES = {
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
}

# (instance-type regex, accelerator string in the source, canonical name)
INSTANCE_RULES = ((r"^a3-megagpu-", "H100-MEGA", "H100"),)

N1_GPU_COUNTS = {"T4": (1, 2, 4), "V100": (1, 2, 4, 8), "P100": (1, 2, 4), "P4": (1, 2, 4)}
N1_MAX_VCPUS = 96
TPU_BASIS = "tpu_slice (whole slice; accelerators_per_instance = chips)"
COMPOSED_BASIS = (
    "composed: {host} host + {count} x {gpu} (researcher-composed from host_only and "
    "gpu_only parts, same region)"
)


def gcp_zones(src: Sources) -> dict[str, str]:
    """Region -> ';'-joined sorted availability zones from the GCP catalogue."""
    zones: dict[str, set[str]] = defaultdict(set)
    for row in src.gcp_vms:
        if row["AvailabilityZone"]:
            zones[row["Region"]].add(row["AvailabilityZone"])
    return {region: ";".join(sorted(names)) for region, names in zones.items()}


def part_prices(row: dict[str, str]) -> tuple[float, float | None]:
    """(on-demand, spot or None) of a price part."""
    return float(row["price_usd_per_hour"]), to_float(row["spot_price_usd_per_hour"])


def add_parts(host: tuple[float, float | None], gpu: tuple[float, float | None]) -> tuple[str, str]:
    """Composed (on-demand, spot) texts; spot empty unless both parts have one."""
    spot = "" if host[1] is None or gpu[1] is None else fmt_price(host[1] + gpu[1])
    return fmt_price(host[0] + gpu[0]), spot


#: gpu_only rows keyed by (accelerator, count, region).
GpuParts = dict[tuple[str, str, str], dict[str, str]]


def gpu_parts(src: Sources) -> GpuParts:
    """GCP gpu_only rows keyed by (accelerator, count, region)."""
    return {
        (r["accelerator"], fmt_num(r["accelerator_count"]), r["region"]): r
        for r in provider_rows(src, "gcp", "gpu_only")
    }


def check_derived_totals(src: Sources, gpus: GpuParts, log: BuildLog) -> None:
    """Note derived_total rows that differ from host_only + gpu_only of the same region."""
    hosts = {(r["instance_type"], r["region"]): r for r in provider_rows(src, "gcp", "host_only")}
    off = 0
    for row in provider_rows(src, "gcp", "derived_total"):
        host = hosts.get((row["instance_type"], row["region"]))
        gpu = gpus.get((row["accelerator"], fmt_num(row["accelerator_count"]), row["region"]))
        if host and gpu:
            parts = float(host["price_usd_per_hour"]) + float(gpu["price_usd_per_hour"])
            off += abs(parts - float(row["price_usd_per_hour"])) > 1e-4
    log.notes.append(f"gcp derived_total rows differing from host_only + gpu_only: {off}")


def derived_offers(src: Sources, names: AcceleratorNames) -> list[dict[str, str]]:
    """a2/a3/a4/g2 full-VM prices from derived_total rows (source flags kept)."""
    return [offer(row, names(row["instance_type"], row["accelerator"]))
            for row in provider_rows(src, "gcp", "derived_total")]


def host_only_offers(src: Sources, gpus: GpuParts, names: AcceleratorNames, log: BuildLog
                     ) -> list[dict[str, str]]:
    """host_only rows lacking a derived_total: compose with the region's gpu_only part."""
    derived_rows = provider_rows(src, "gcp", "derived_total")
    derived = {(r["instance_type"], r["region"]) for r in derived_rows}
    offers = []
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
        name = names(row["instance_type"], row["accelerator"])
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


def n1_offers(src: Sources, gpus: GpuParts, names: AcceleratorNames) -> list[dict[str, str]]:
    """n1-standard-{8k} host + k attached GPUs, where both parts exist in the region."""
    hosts, offers = n1_hosts(src), []
    for (gpu_name, count, region), gpu in sorted(gpus.items()):
        if gpu_name not in N1_GPU_COUNTS or int(count) not in N1_GPU_COUNTS[gpu_name]:
            continue
        machine = f"n1-standard-{min(8 * int(count), N1_MAX_VCPUS)}"
        host = hosts.get((machine, region))
        if host is None:
            continue
        host_prices = (float(host["Price"]), to_float(host["SpotPrice"]))
        ondemand, spot = add_parts(host_prices, part_prices(gpu))
        offers.append(offer(
            gpu, names.alias(gpu_name), instance_type=machine, vcpus=fmt_num(host["vCPUs"]),
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


def tpu_offers(src: Sources, names: AcceleratorNames, log: BuildLog) -> list[dict[str, str]]:
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
        offers.append(offer(row, names.alias(row["accelerator"]),
                            spot_usd_per_hour=fmt_num(spot), price_basis=TPU_BASIS))
    for (accelerator, region, price), slices in sorted(dropped.items()):
        log.skipped.append(
            f"gcp {accelerator} {region}, {len(slices)} slices ({', '.join(sorted(slices))}): "
            f"on-demand {price} for every slice size (placeholder)"
        )
    log.notes.append(f"gcp TPU spot prices blanked as placeholders: {blanked}")
    return offers


def gcp_offers(src: Sources, names: AcceleratorNames, log: BuildLog) -> list[dict[str, str]]:
    """Derived totals, composed host_only, N1 + GPU, TPU slices."""
    gpus = gpu_parts(src)
    check_derived_totals(src, gpus, log)
    return (derived_offers(src, names) + host_only_offers(src, gpus, names, log)
            + n1_offers(src, gpus, names) + tpu_offers(src, names, log))


BUILDER = ProviderBuilder(
    provider="gcp", label="GCP", data=HERE / "greenml_gcp" / "data", expected_regions=46,
    expected_fleet_pue=1.10, grid_zones=GRID_ZONES, offers=gcp_offers, rules=INSTANCE_RULES,
    region_zones=gcp_zones,
)

if __name__ == "__main__":
    sys.exit(main(BUILDER, __doc__))
