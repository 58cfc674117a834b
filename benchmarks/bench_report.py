"""What the plan's and the report's outputs cost: ``plan.to_pandas()`` on the embedded
catalog, warm; ``greenml plan --chart`` end to end against the same command without it; and
``greenml report NAME`` end to end, with and without ``--chart``.

``python benchmarks/bench_report.py [--runs N]``. The DataFrame is timed in one process after
a first call (pandas imported, options built), so it measures the flattening itself; the
chart command runs in fresh processes, alternated with the plain command so a busy machine
slows both alike, and the difference is what drawing costs. Medians throughout.

The report is timed on a ledger of its own (a temp dir, as ``tests/test_report.py`` builds
it): one launch against the memory double, its run measured by greenml's real boot script
under bash with a fake ``nvidia-smi`` (eight GPUs at 150 W). ``greenml report NAME
--measured FILE`` runs in fresh processes (the record file is the console's text, so no
provider plugin is needed there); ``greenml report NAME`` reading the console back through
``greenml logs`` is timed in this process, where the console double is registered.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

BIN = Path(sys.executable).parent
JOB = ["--accelerator", "A100", "--count", "8", "--hours", "72"]


def frame_seconds(runs: int) -> tuple[float, float, int, int]:
    """(first call, warm median, rows, columns) of plan.to_pandas() on a fresh plan each run."""
    import greenml

    job = greenml.Job(accelerator="A100", count=8, hours=72)
    start = time.perf_counter()
    frame = greenml.plan(job).to_pandas()
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        plan = greenml.plan(job)
        start = time.perf_counter()
        frame = plan.to_pandas()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), frame.shape[0], frame.shape[1]


def command_seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN / "greenml"), "plan", *JOB, *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measured_launch(folder: Path) -> tuple[str, Path]:
    """A ledger in ``folder`` with one launch (``bert``) whose console holds the boot script's
    ``greenml-measure=`` line; (the console's text, its copy as a file)."""
    import greenml
    from greenml import registry
    from greenml.provider import Capability, Resource, boot_script
    from greenml.testing import MemoryProvider, ProviderPlugin
    from greenml.testing.boot import boot_machine

    class ConsoleMemory(MemoryProvider):
        capabilities: ClassVar[frozenset[str]] = (MemoryProvider.capabilities
                                                  | {Capability.LOGS})
        consoles: ClassVar[dict[str, str]] = {}

        def console_output(self, resource: Resource) -> str:
            return self.consoles.get(resource.resource_id, "")

    os.environ["GREENML_LEDGER"] = str(folder / "ledger.sqlite3")
    os.environ["GREENML_DISABLE_PLUGINS"] = "1"
    registry.reset()
    registry.default().manager.register(ProviderPlugin(ConsoleMemory()), name="greenml-console")
    job = greenml.Job(accelerator="A100", count=8, hours=10, providers="memory")
    made = greenml.launch(greenml.plan(job), name="bert", run="python train.py",
                          retry=greenml.RetryPolicy(attempts=3, base_delay_s=0.01,
                                                    jitter=False))
    (folder / "node").mkdir()
    machine = boot_machine(folder / "node", GREENML_NVML="0",
                           GREENML_SAMPLE_INTERVAL_S="0.05",
                           GREENML_POWERCAP_ROOT=str(folder / "no-powercap"))
    fake = "".join(f'echo "{i}, NVIDIA A100-SXM4-80GB, 150"\n' for i in range(8))
    (machine.bin / "nvidia-smi").write_text("#!/bin/sh\n" + fake)
    (machine.bin / "nvidia-smi").chmod(0o755)
    done = machine.run(boot_script("sleep 1; echo trained"), timeout_s=120)
    if done.returncode != 0:
        raise SystemExit(f"the boot script failed: {done.stderr}")
    text = machine.console.read_text()
    ConsoleMemory.consoles[made.instances[0].resource_id] = text
    record = folder / "console.txt"
    record.write_text(text)
    return text, record


def report_command_seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN / "greenml"), "report", "bert", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_report(runs: int) -> None:
    import greenml
    from greenml.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, record = measured_launch(folder)
        first = greenml.report("bert")
        if not first.measured:
            raise SystemExit(f"the launch was not measured: {first.facts}")
        warm: list[float] = []
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for _ in range(runs):
                start = time.perf_counter()
                cli_main(["report", "bert"])
                warm.append(time.perf_counter() - start)
        svg = folder / "report.svg"
        plain, chart = [], []
        for _ in range(runs):
            plain.append(report_command_seconds(["--measured", str(record)]))
            chart.append(report_command_seconds(["--measured", str(record), "--chart",
                                                 str(svg)]))
        size_kb = svg.stat().st_size / 1024
    p, c = statistics.median(plain), statistics.median(chart)
    print(f"greenml report bert (console read back through greenml logs, in process): "
          f"median {statistics.median(warm) * 1000:.1f} ms; {runs} runs")
    print(f"greenml report bert --measured FILE (fresh process): median {p:.2f} s; with "
          f"--chart report.svg: {c:.2f} s (+{c - p:.2f} s to draw; the SVG is "
          f"{size_kb:.0f} KiB); {runs} runs each")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    first, warm, rows, columns = frame_seconds(runs)
    print(f"plan.to_pandas(): {rows} rows x {columns} columns; first call (pandas import, "
          f"options built) {first * 1000:.0f} ms, then median {warm * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "plan.svg"
        plain, chart = [], []
        for _ in range(runs):
            plain.append(command_seconds([]))
            chart.append(command_seconds(["--chart", str(svg)]))
        size_kb = svg.stat().st_size / 1024
    p, c = statistics.median(plain), statistics.median(chart)
    print(f"greenml plan: median {p:.2f} s; with --chart plan.svg: {c:.2f} s "
          f"(+{c - p:.2f} s to draw; the SVG is {size_kb:.0f} KiB); {runs} runs each")
    bench_report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
