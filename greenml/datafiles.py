"""Reading package data (CSV) into value types; a bad row names the file, line and field.

The generic reading (rows, numbers, the documented defaults) is ``packagedata``, which the
value types themselves may use; this module builds regions, offers and accelerators.
"""

from __future__ import annotations

from collections.abc import Callable

from greenml.accelerator import Accelerator
from greenml.model import PUE, Offer, Region
from greenml.packagedata import countries, defaults, number, parse, rows

__all__ = ["accelerator_from_row", "countries", "defaults", "number", "offer_from_row", "parse",
           "region_from_row", "rows"]


def region_from_row(provider: str) -> Callable[[dict[str, str]], Region]:
    def build(row: dict[str, str]) -> Region:
        pue = number(row, "pue")
        if pue is None:
            raise ValueError("pue: required")
        return Region(
            provider=provider,
            name=row["region"],
            location=row["location"],
            country=row["country"],
            pue=PUE(pue, row["pue_source"], row["pue_year"]),
            latitude=number(row, "latitude"),
            longitude=number(row, "longitude"),
            grid_zone=row.get("grid_zone", ""),
            zones=row.get("zones", "").replace(";", ","),
        )

    return build


def offer_from_row(provider: str) -> Callable[[dict[str, str]], Offer]:
    def build(row: dict[str, str]) -> Offer:
        per_instance = number(row, "accelerators_per_instance")
        return Offer(
            provider=provider,
            region=row["region"],
            instance_type=row["instance_type"],
            accelerator=row["accelerator"],
            accelerators_per_instance=int(per_instance) if per_instance else 0,
            vcpus=number(row, "vcpus"),
            memory_gb=number(row, "memory_gb"),
            ondemand_usd_per_hour=number(row, "ondemand_usd_per_hour"),
            spot_usd_per_hour=number(row, "spot_usd_per_hour"),
            price_basis=row["price_basis"],
            price_source=row["price_source"],
            price_date=row["price_date"],
        )

    return build


def accelerator_from_row(row: dict[str, str]) -> Accelerator:
    return Accelerator(
        name=row["name"],
        family=row["family"],
        aliases=row["aliases"].replace(";", ","),
        vendor=row["vendor"],
        form_factor=row["form_factor"],
        memory_gb=number(row, "memory_gb"),
        tdp_w=number(row, "tdp_w"),
        system_power_w=number(row, "system_power_w"),
        system_power_basis=row["system_power_basis"],
        system_power_from_w=number(row, "system_power_from_w"),
        system_power_source=row["system_power_source"],
        system_power_year=row["system_power_year"],
        dense_bf16_tflops=number(row, "dense_bf16_tflops"),
        dense_fp16_tflops=number(row, "dense_fp16_tflops"),
        source=row["source"],
        year=row["year"],
    )
