"""Stand-ins for the hardware the sampler reads, not for greenml: an ``nvidia-smi`` that prints
recorded readings, and a folder laid out like /sys/class/powercap whose counters the test
advances (and wraps)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Recorded readings, one call after another (the last repeats): GPU 0 climbs, GPU 1 has no
#: power reading (as nvidia-smi shows an old or passive GPU).
READINGS = ["100.5", "200.5", "300.5"]


def fake_nvidia_smi(folder: Path, readings: list[str] = READINGS) -> Path:
    """An ``nvidia-smi`` that answers the sampler's query with the next recorded reading."""
    folder.mkdir(parents=True, exist_ok=True)
    calls = folder / "calls"
    lines = "\n".join(f"{i}) echo '0, NVIDIA H100 80GB HBM3, {w}' ;;"
                      for i, w in enumerate(readings))
    script = folder / "nvidia-smi"
    script.write_text(f"""#!/bin/bash
[ "$1" = "--query-gpu=index,name,power.draw" ] || exit 9
n=$(cat {calls} 2>/dev/null || echo 0); echo $((n + 1)) > {calls}
case $n in
{lines}
*) echo '0, NVIDIA H100 80GB HBM3, {readings[-1]}' ;;
esac
echo '1, NVIDIA H100 80GB HBM3, [N/A]'
""")
    script.chmod(0o755)
    return folder


def powercap(root: Path, package_uj: int = 1_000_000, dram_uj: int = 5_000,
             wrap_uj: int = 262_143_328_850) -> Path:
    """/sys/class/powercap as Linux lays it out: every domain at the top, package and dram."""
    for entry, name, value in (("intel-rapl:0", "package-0", package_uj),
                               ("intel-rapl:0:0", "dram", dram_uj),
                               ("intel-rapl:0:1", "core", 7)):
        folder = root / entry
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "name").write_text(name + "\n")
        (folder / "energy_uj").write_text(f"{value}\n")
        (folder / "max_energy_range_uj").write_text(f"{wrap_uj}\n")
    return root


def set_counter(root: Path, entry: str, value: int) -> None:
    (root / entry / "energy_uj").write_text(f"{value}\n")


def use_hardware(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake nvidia-smi first on PATH, a powercap folder under ``folder``, NVML off."""
    monkeypatch.setenv("PATH", f"{fake_nvidia_smi(folder / 'bin')}:{os.environ['PATH']}")
    monkeypatch.setenv("GREENML_NVML", "0")
    monkeypatch.setenv("GREENML_POWERCAP_ROOT", str(powercap(folder / "powercap")))
    return folder
