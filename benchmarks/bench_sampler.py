"""What greenml's sampler costs the run it measures: CPU seconds per sampled second.

``python benchmarks/bench_sampler.py [--seconds S] [--interval-s I]``. The sampler script
runs ``sleep S`` the way a node runs it, in a fresh process, against three stand-ins: no
device at all (the loop by itself), a powercap folder with a package and a DRAM counter
(RAPL reads), and a fake ``nvidia-smi`` (one process started per reading, as with the real
tool; the real one also spends its own CPU time inside NVML, so measure on a GPU machine for
that figure). Its CPU time (user + system, the sampler and every process it starts, less
``sleep``) divided by the wall seconds is the overhead at that interval; per reading, it is
the cost at any interval (the default reads once a second).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLER = Path(__file__).resolve().parent.parent / "greenml" / "measure" / "sampler.py"


def stand_ins(folder: Path) -> dict[str, dict[str, str]]:
    pc = folder / "powercap"
    for entry, name in (("intel-rapl:0", "package-0"), ("intel-rapl:0:0", "dram")):
        (pc / entry).mkdir(parents=True)
        (pc / entry / "name").write_text(name + "\n")
        (pc / entry / "energy_uj").write_text("123456789\n")
        (pc / entry / "max_energy_range_uj").write_text("262143328850\n")
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(
        "#!/bin/sh\n" + "".join(f'echo "{i}, NVIDIA H100 80GB HBM3, 300.0"\n' for i in range(8)))
    (bin_dir / "nvidia-smi").chmod(0o755)
    bare = {"GREENML_NVML": "0", "PATH": "/usr/bin:/bin", "GREENML_POWERCAP_ROOT": "/nonexistent"}
    return {"no device": bare,
            "RAPL (2 counters)": {**bare, "GREENML_POWERCAP_ROOT": str(pc)},
            "nvidia-smi (8 GPUs, fake)": {**bare, "PATH": f"{bin_dir}:/usr/bin:/bin"}}


def cpu_seconds(env: dict[str, str], seconds: float, interval_s: float) -> tuple[float, float]:
    """(CPU seconds of the sampler and what it started, wall seconds) for one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(SAMPLER), "--", "sleep", str(seconds)], check=True,
                   env={**os.environ, **env, "GREENML_SAMPLE_INTERVAL_S": str(interval_s)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval-s", type=float, default=1.0)
    args = parser.parse_args()
    baseline, _ = cpu_seconds({"GREENML_NVML": "0"}, 0.0, args.interval_s)  # start-up only
    print(f"sampler start-up and record: {baseline * 1000:.0f} ms CPU (once per run)")
    print(f"{'stand-in':28} {'CPU s / sampled s':>18} {'CPU ms / reading':>17}")
    with tempfile.TemporaryDirectory() as folder:
        for name, env in stand_ins(Path(folder)).items():
            cpu, wall = cpu_seconds(env, args.seconds, args.interval_s)
            readings = max(wall / args.interval_s, 1.0)
            steady = max(cpu - baseline, 0.0)
            print(f"{name:28} {steady / wall:18.5f} {steady / readings * 1000:17.2f}")


if __name__ == "__main__":
    main()
