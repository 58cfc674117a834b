"""The carbon sources' HTTP layer: import cost of its client library, and a live-source plan.

Prints:
* the import cost of urllib3 (what ``greenml.carbon.http`` imports when a live source is
  first asked) and of httpx where installed, each over the standard-library modules the
  client needs anyway (``http.client``, ``ssl``, ``logging``), medians of ``-X importtime``;
* ``greenml plan --carbon-source electricitymaps,embedded`` end to end against a local
  Electricity Maps fake (tests/carbon_fakes.py) with an empty cache each run: wall time and
  the number of requests the fake answered (the same on every run, or the figure is wrong);
* the same plan with ``--carbon-source embedded`` (no HTTP), for the difference.

Run: ``python benchmarks/bench_carbon_http.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

BASE = "import http.client, ssl, logging, json, base64, urllib.parse"
PLAN = ["plan", "--accelerator", "A100", "--count", "8", "--hours", "72", "--json"]


def import_ms(statement: str, runs: int = 15) -> float:
    """Median of the summed top-level cumulative import times of ``statement``."""
    found = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                              capture_output=True, text=True, check=True)
        total = 0
        for line in done.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit() and \
                    parts[2].startswith(" ") and not parts[2].startswith("  "):
                total += int(parts[1])
        found.append(total / 1000)
    return statistics.median(found)


def has(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True).returncode == 0


def plan_runs(sources: str, runs: int, env: dict[str, str], fake) -> tuple[list[float], list[int]]:
    walls, requests = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            before = len(fake.requests) if fake else 0
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "greenml.cli", *PLAN,
                                   "--carbon-source", sources], capture_output=True, text=True,
                                  env={**env, "GREENML_CACHE_DIR": cache})
            walls.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"greenml plan failed: {done.stderr}")
            requests.append(len(fake.requests) - before if fake else 0)
    return walls, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    base = import_ms(BASE)
    print(f"stdlib the client needs anyway ({BASE[7:]}): {base:.1f} ms")
    for library in ("urllib3", "httpx"):
        if has(library):
            alone, over = import_ms(f"import {library}"), import_ms(f"{BASE}; import {library}")
            print(f"import {library}: {alone:.1f} ms alone, {over - base:+.1f} ms over the "
                  "stdlib above")
        else:
            print(f"import {library}: not installed")

    from carbon_fakes import ElectricityMapsFake

    token = "bench-token-0000"
    fake = ElectricityMapsFake(token, lambda zone, when: 200.0, zones=None)
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy") and not k.startswith(("ELECTRICITYMAPS_",
                                                                           "GREENML_CARBON_"))}
        env.update(ELECTRICITYMAPS_API_TOKEN=token, ELECTRICITYMAPS_API_URL=fake.api_url)
        subprocess.run([sys.executable, "-m", "greenml.cli", "--version"], env=env,
                       capture_output=True)  # warm the file cache
        for sources in ("embedded", "electricitymaps,embedded"):
            walls, requests = plan_runs(sources, runs, env, fake if "electr" in sources
                                        else None)
            print(f"greenml plan --carbon-source {sources}: median {statistics.median(walls):.3f}"
                  f" s, min {min(walls):.3f} s over {runs} runs; requests per run "
                  f"{sorted(set(requests))}")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
