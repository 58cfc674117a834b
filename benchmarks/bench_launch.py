"""Launching against a local EC2 endpoint (moto behind the tests' EC2 front).

Measures a gang of 16 instances against one instance (greenml creates gang members in
parallel; target <= 2x), and the ledger's share of a launch. The endpoint runs in its own
process. moto answers RunInstances in tens of milliseconds of pure CPU on this machine's two
cores, so the raw figure shows moto's throughput as much as greenml's; a second pass adds a
fixed per-call latency (as EC2's API has) to show how much of it greenml overlaps. Prints its
figures: ``python benchmarks/bench_launch.py``. Needs the test extra (moto) and greenml-aws.

``--against REV`` instead pairs the launch's overhead with an earlier git revision's, against
the same EC2 double: the revision is exported as ``against.py`` does, and worker processes of
each tree (``PYTHONPATH``) alternate, each timing a dry run of a gang of 16, a launch of one
instance and a launch of a gang of 16 (``--calls`` each, after one untimed warm-up), then
``down`` (not timed). Prints the medians and after / before (target <= 1.10x).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins/greenml-aws/tests"))

from aws_fake import _steer, publish_dlami_parameters  # noqa: E402

import greenml  # noqa: E402

RUNS = 5


def timed_launch(count: int, ledger: Path, name: str) -> tuple[float, int]:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, providers="aws",
                                    regions="eu-north-1"))
    start = time.perf_counter()
    launch = plan.launch(name=name, run="true", ledger=ledger)
    elapsed = time.perf_counter() - start
    greenml.down(name, ledger=ledger)
    return elapsed, len(launch.instances)


def ledger_cost_s(instances: int, path: Path) -> float:
    """The ledger writes of one launch of ``instances`` instances, alone."""
    book = greenml.Ledger(path)
    launch_id = f"bench-{time.perf_counter_ns()}"
    start = time.perf_counter()
    book.begin_launch(launch_id, launch_id, {})
    for i in range(instances):
        book.intent(f"{launch_id}-{i}", launch_id, "aws", "eu-north-1", "", f"x-{i}")
        book.result(f"{launch_id}-{i}", "created", f"i-{i}")
    book.attempt(launch_id, greenml.Attempt("aws", "eu-north-1", "p4d.24xlarge", ok=True))
    book.set_launch(launch_id, "running")
    return time.perf_counter() - start


def gang_vs_one(ledger: Path, label: str, tag: str) -> tuple[float, float]:
    one = [timed_launch(8, ledger, f"one-{tag}-{i}")[0] for i in range(RUNS)]
    gang = [timed_launch(128, ledger, f"gang-{tag}-{i}") for i in range(RUNS)]
    assert all(n == 16 for _, n in gang)
    one_s, gang_s = statistics.median(one), statistics.median(t for t, _ in gang)
    print(f"{label}: launch 1 instance {one_s * 1000:.0f} ms; gang of 16 {gang_s * 1000:.0f} ms "
          f"= {gang_s / one_s:.2f}x one instance (serial would be ~16x; target <= 2x) "
          f"[median of {RUNS}]")
    return one_s, gang_s


#: A worker of one tree: times each launch kind ``argv[1]`` times; prints {kind: [seconds]}.
#: ``Plan.launch`` where the tree has it, else ``Plan.provision`` (before issue 13).
WORKER = """
import json, sys, time
import greenml
calls, ledger = int(sys.argv[1]), sys.argv[2]
def job(count):
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, providers="aws",
                                    regions="eu-north-1"))
one, gang = job(8), job(128)
def go(plan):
    return plan.launch if hasattr(type(plan), "launch") else plan.provision
kinds = {"dry run, gang of 16": (gang, True), "launch 1 instance": (one, False),
         "launch gang of 16": (gang, False)}
times = {k: [] for k in kinds}
for i in range(calls + 1):
    for kind, (plan, dry) in kinds.items():
        name = f"w{time.perf_counter_ns()}"
        start = time.perf_counter()
        launch = go(plan)(name=name, run="true", dry_run=dry, ledger=ledger)
        elapsed = time.perf_counter() - start
        if not dry:
            assert len(launch.instances) == (16 if plan is gang else 1)
            greenml.down(name, ledger=ledger)
        if i:
            times[kind].append(elapsed)
print(json.dumps(times))
"""


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The EC2 double in its own process, with the DLAMI parameters published."""
    server = subprocess.Popen([sys.executable, str(Path(sys.modules["aws_fake"].__file__))],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    endpoint = json.loads(server.stdout.readline())["endpoint_url"]
    publish_dlami_parameters(endpoint, ["eu-north-1"])
    return server, endpoint


def paired(revision: str, rounds: int, calls: int) -> None:
    """Worker processes of ``revision`` and of the working tree, alternating, against one
    EC2 double; the median of every timed launch of each kind, and after / before."""
    from against import REPO, compile_tree, environment, export

    before = export(revision)
    compile_tree(REPO)
    trees = {"before": before, "after": REPO}
    print(f"before: {revision} (exported to {before}); after: the working tree {REPO}")
    server, endpoint = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                   "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-north-1",
                   "AWS_CONFIG_FILE": f"{tmp}/none", "AWS_SHARED_CREDENTIALS_FILE": f"{tmp}/none",
                   "GREENML_LEDGER": f"{tmp}/default-ledger.sqlite3"}
            times: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
            for i in range(rounds):
                for name in (("before", "after") if i % 2 == 0 else ("after", "before")):
                    env = {**environment(trees[name]), **aws}
                    result = subprocess.run(
                        [sys.executable, "-c", WORKER, str(calls), f"{tmp}/{name}.sqlite3"],
                        capture_output=True, text=True, env=env, cwd=tmp)
                    if result.returncode:
                        raise SystemExit(f"{name} worker failed:\n{result.stderr[-3000:]}")
                    for kind, values in json.loads(result.stdout.splitlines()[-1]).items():
                        times[name].setdefault(kind, []).extend(values)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"launch overhead against the local EC2 double, median of {rounds * calls} launches "
          f"each ({rounds} alternating worker processes of {calls} per tree):")
    for kind in times["after"]:
        b, a = (statistics.median(times[n][kind]) for n in ("before", "after"))
        print(f"  {kind:<20} before {b * 1000:7.1f} ms; after {a * 1000:7.1f} ms; "
              f"after / before {a / b:.2f}x (target <= 1.10x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="REV",
                        help="pair the launch overhead with this git revision's")
    parser.add_argument("--rounds", type=int, default=6,
                        help="with --against: worker processes per tree, alternating")
    parser.add_argument("--calls", type=int, default=5,
                        help="with --against: timed launches of each kind per worker")
    args = parser.parse_args(argv)
    if args.against:
        paired(args.against, args.rounds, args.calls)
        return
    server = subprocess.Popen([sys.executable, str(Path(sys.modules["aws_fake"].__file__))],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    endpoint = json.loads(server.stdout.readline())["endpoint_url"]
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-north-1",
    })
    publish_dlami_parameters(endpoint, ["eu-north-1"])
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger.sqlite3"
        timed_launch(8, ledger, "warmup")
        one_s, gang_s = gang_vs_one(ledger, "local moto, no added latency", "raw")
        _steer(endpoint, "delay", action="RunInstances", seconds=0.5, times=None)
        gang_vs_one(ledger, "with 500 ms of EC2-like latency per RunInstances", "slow")
        for n in (1, 16):
            cost = statistics.median(ledger_cost_s(n, Path(tmp) / "ledger-only.sqlite3")
                                     for _ in range(RUNS * 4))
            share = cost / (one_s if n == 1 else gang_s)
            print(f"ledger writes for a launch of {n:>2} instance(s): {cost * 1000:.1f} ms "
                  f"({share:.1%} of that launch against local moto; fsync on every commit)")
    server.terminate()
    server.wait(timeout=30)


if __name__ == "__main__":
    main()
