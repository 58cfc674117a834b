"""Reading package data (CSV) into value types; a bad row names the file, line and field."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .errors import CatalogError, GreenmlError
from .model import PUE, Accelerator, Figure, Offer, Region

T = TypeVar("T")


def rows(package: str, filename: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Yield (file name, line number, row) for each data row of a CSV in a package."""
    from importlib import resources

    resource = resources.files(package).joinpath(filename)
    label = f"{package.replace('.', '/')}/{filename}"
    reader = csv.DictReader(io.StringIO(resource.read_text(encoding="utf-8"), newline=""))
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
