"""The CLI end to end and the warm plan, paired against an earlier git revision in one run.

``python benchmarks/bench_plan.py --against 15b4599`` (or ``python benchmarks/against.py
15b4599``). The revision is exported with ``git archive`` into the temporary folder (the
repository is left as it is) and byte-compiled; both trees then run through the same
``greenml`` console script of this environment, with ``PYTHONPATH`` naming the tree's
``greenml`` and plugin folders, from the temporary folder (so no checkout shadows them) and
without ``OPENBLAS_NUM_THREADS``. Runs alternate (``python -c pass``, before, after) so that
a busy machine slows all three alike; the figures are medians.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLUGINS = ("aws", "gcp", "azure", "onprem")
PLAN = ["plan", "--accelerator", "A100", "--count", "8", "--hours", "72"]
#: What greenml imports and cannot do without: the floor under any ``greenml plan``.
FLOOR = "import numpy, attrs, pluggy, platformdirs, argparse, json, csv, pathlib, datetime"
WARM = """
import statistics, sys, time
import greenml
job = greenml.Job(accelerator="A100", count=8, hours=72)
greenml.plan(job)
times = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    greenml.plan(job)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def export(revision: str) -> Path:
    """The tree at ``revision``, exported once into the temporary folder and byte-compiled."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify",
                          f"{revision}^{{commit}}"], capture_output=True, text=True,
                         check=True).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"greenml-bench-{sha[:12]}"
    if not (tree / ".exported").exists():
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], capture_output=True,
                                 check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.10/3.11 security fixes
                tar.extractall(tree, filter="data")
            else:
                tar.extractall(tree)  # noqa: S202 - our own repository's archive
        (tree / ".exported").touch()
    compile_tree(tree)
    return tree


def compile_tree(tree: Path) -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "greenml"),
                    str(tree / "plugins")], check=True, capture_output=True)


def environment(tree: Path) -> dict[str, str]:
    """This environment, with ``tree``'s greenml and plugins first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tree), *(str(tree / "plugins" / f"greenml-{p}") for p in PLUGINS)])
    return env


def run_s(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env,
                   cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def paired(before: Path, after: Path, runs: int) -> dict[str, float]:
    """Median seconds of ``python -c pass``, of the CLI in each tree, of the imports under it
    (``FLOOR``) and of numpy's import with OpenBLAS's default thread pool and with one
    thread, runs alternating."""
    plain = environment(after)
    one_thread = {**plain, "OPENBLAS_NUM_THREADS": "1"}
    commands = {
        "pass": ([sys.executable, "-c", "pass"], None),
        "before": ([str(BIN / "greenml"), *PLAN], environment(before)),
        "after": ([str(BIN / "greenml"), *PLAN], plain),
        "floor": ([sys.executable, "-c", FLOOR], one_thread),
        "numpy": ([sys.executable, "-c", "import numpy"], plain),
        "numpy, one thread": ([sys.executable, "-c", "import numpy"], one_thread),
    }
    for command, env in commands.values():
        run_s(command, env)  # warm the disk cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(runs):
        order = list(commands)[i % len(commands):] + list(commands)[:i % len(commands)]
        for name in order:
            times[name].append(run_s(*commands[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def warm_plan_s(tree: Path, calls: int) -> float:
    result = subprocess.run([sys.executable, "-c", WARM, str(calls)], capture_output=True,
                            text=True, check=True, env=environment(tree),
                            cwd=tempfile.gettempdir())
    return float(result.stdout)


def import_profile(tree: Path, top: int) -> list[str]:
    """The ``top`` imports of a cold ``greenml plan`` by cumulative time (-X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "greenml.cli", *PLAN],
                            capture_output=True, text=True, env=environment(tree),
                            cwd=tempfile.gettempdir())
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), int(parts[0]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return [f"{cumulative / 1000:7.1f} ms (self {own / 1000:5.1f}) {name}"
            for cumulative, own, name in rows[:top]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the git revision to compare with, e.g. 15b4599")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--importtime", type=int, default=0, metavar="N",
                        help="also print the N slowest imports (cumulative) of each tree")
    args = parser.parse_args(argv)
    before = export(args.revision)
    compile_tree(REPO)
    print(f"before: {args.revision} (exported to {before}); after: the working tree {REPO}")

    t = paired(before, REPO, args.runs)
    print(f"greenml {' '.join(PLAN)}, end to end, median of {args.runs} paired runs:")
    print(f"  python -c pass {t['pass'] * 1000:.0f} ms; before {t['before'] * 1000:.0f} ms "
          f"({t['before'] / t['pass']:.1f}x python -c pass); after {t['after'] * 1000:.0f} ms "
          f"({t['after'] / t['pass']:.1f}x python -c pass; target <= 12x)")
    print(f"  after / before: {t['after'] / t['before']:.2f}x (target <= 0.6x)")
    print(f"  under it: the imports greenml cannot do without ({FLOOR[7:]}) "
          f"{t['floor'] * 1000:.0f} ms ({t['floor'] / t['pass']:.1f}x python -c pass), "
          f"greenml's own work after {(t['after'] - t['floor']) * 1000:.0f} ms; import numpy "
          f"{t['numpy'] * 1000:.0f} ms with OpenBLAS's thread pool, "
          f"{t['numpy, one thread'] * 1000:.0f} ms with one thread ({os.cpu_count()} CPUs)")

    calls = 20 * args.runs
    warm = {name: statistics.median(warm_plan_s(tree, calls) for _ in range(3))
            for name, tree in (("before", before), ("after", REPO))}
    print(f"warm greenml.plan(A100 x 8, 72 h), median of {calls} calls (3 processes): before "
          f"{warm['before'] * 1000:.2f} ms, after {warm['after'] * 1000:.2f} ms "
          f"({warm['after'] / warm['before']:.2f}x; target <= 1x)")

    if args.importtime:
        for name, tree in (("before", before), ("after", REPO)):
            print(f"slowest imports, {name} (python -X importtime -m greenml.cli "
                  f"{' '.join(PLAN)}):")
            print("\n".join(f"  {line}" for line in import_profile(tree, args.importtime)))


if __name__ == "__main__":
    main()
