"""Public helpers for testing greenml and its plugins: small value factories with test sources.

Every figure these make carries a source that says it is a test figure, so a test double can
never pass for real data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .model import PUE, Accelerator, Intensity, Offer, Region


def accelerator(name: str, power_w: float | None = 400, tflops: float | None = 312,
                memory_gb: float = 80, family: str = "", measured: bool = False) -> Accelerator:
    """An accelerator with a TDP (or a measured average) and a dense BF16 throughput."""
    return Accelerator(
        name=name, family=family, vendor="test", memory_gb=memory_gb,
        tdp_w=None if measured else power_w,
        avg_power_w=power_w if measured else None,
        avg_power_basis="measured_system" if measured else "",
        avg_power_source="test measurement" if measured else "",
        dense_bf16_tflops=tflops, source="test datasheet", year="2024",
    )


def region(provider: str, name: str, country: str, g_per_kwh: float, pue: float = 1.1,
           zones: tuple[str, ...] = ()) -> Region:
    """A region with a test PUE and a test annual-average grid intensity."""
    return Region(
        provider=provider, name=name, location=f"{name} city", country=country,
        pue=PUE(pue, "test PUE", "2024"),
        intensity=Intensity(g_per_kwh, "test grid", "2024"),
        zones=zones,
    )


def offer(provider: str, region_name: str, instance_type: str, acc: str, per_instance: int,
          usd: float | None, spot: float | None = None) -> Offer:
    """An offer with test prices."""
    return Offer(
        provider=provider, region=region_name, instance_type=instance_type, accelerator=acc,
        accelerators_per_instance=per_instance, ondemand_usd_per_hour=usd,
        spot_usd_per_hour=spot, price_basis="test", price_source="test prices",
        price_date="2026-01-01",
    )


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """Run the installed ``greenml`` command in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    script = Path(sys.executable).parent / "greenml"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "greenml.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout)
