"""How fast greenml plans: cold import, warm plan, synthetic catalogs, the CLI end to end.

Prints its figures; run on demand: ``python benchmarks/bench_plan.py [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import greenml
from greenml import Catalog, Job
from greenml.testing import accelerator, offer, region

BIN = Path(sys.executable).parent


def median_run_s(command: list[str], runs: int) -> float:
    """Median wall time of a fresh process, after one warm-up run (disk cache)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_call_s(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_catalog(n_offers: int, seed: int = 1) -> Catalog:
    """n_offers offers over 300 regions and 30 accelerators, with realistic value ranges."""
    rng = random.Random(seed)
    accs = [accelerator(f"ACC{i}", rng.choice([70, 300, 400, 700, 1000]),
                        rng.choice([65, 125, 312, 989, 2250])) for i in range(30)]
    regions = [region("synth", f"r{i}", "SE", rng.uniform(5, 800), rng.uniform(1.05, 1.6))
               for i in range(300)]
    offers = [offer("synth", f"r{rng.randrange(300)}", f"type{i}", f"ACC{rng.randrange(30)}",
                    rng.choice([1, 2, 4, 8]), round(rng.uniform(0.5, 100), 2),
                    round(rng.uniform(0.2, 40), 2) if rng.random() < 0.5 else None)
              for i in range(n_offers)]
    return Catalog(regions, offers, accs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--offers", type=int, action="append", metavar="N",
                        help="synthetic catalog sizes to plan (repeatable; default 10^4, 10^5 "
                        "and, without --quick, 10^6)")
    parser.add_argument("--against", metavar="REVISION",
                        help="only the CLI end to end and the warm plan, paired against this "
                        "git revision (benchmarks/against.py)")
    args = parser.parse_args()
    runs = 5 if args.quick else 20
    if args.against:
        import against

        against.main([args.against, "--runs", str(runs), "--importtime", "12"])
        return

    bare = median_run_s([sys.executable, "-c", "pass"], runs)
    cold = median_run_s([sys.executable, "-c", "import greenml"], runs)
    loaded = median_run_s([sys.executable, "-c",
                           "import greenml; greenml.default_catalog()"], runs)
    print(f"cold start: python -c pass {bare * 1000:.0f} ms; import greenml "
          f"{cold * 1000:.0f} ms (+{(cold - bare) * 1000:.0f} ms; target <= +100 ms); "
          f"import + load every plugin's catalog {loaded * 1000:.0f} ms")

    job = Job(accelerator="A100", count=8, hours=72)
    greenml.plan(job)
    warm = median_call_s(lambda: greenml.plan(job), runs * 10)
    warm_best = median_call_s(lambda: greenml.plan(job).best, runs * 10)
    any_job = Job(accelerator="any", count=8, flops=3.1e23)
    warm_any = median_call_s(lambda: greenml.plan(any_job), runs * 10)
    n = len(greenml.default_catalog().offers)
    print(f"plan on the embedded catalog ({n} offers), median warm: A100 job "
          f"{warm * 1000:.2f} ms (+ .best {warm_best * 1000:.2f} ms); any-accelerator FLOPs job "
          f"{warm_any * 1000:.2f} ms (target <= 10 ms)")

    from greenml import datasets
    from greenml.plan import robustness

    plan = greenml.plan(job)
    family = datasets.family(datasets.get(None))
    replay = median_call_s(lambda: robustness.check(plan.catalog, family, plan.ranked,
                                                    plan.figures.energy_kwh),
                           runs * 10)
    print(f"robustness check (5 years replayed) inside that warm plan: {replay * 1e6:.0f} us, "
          f"{replay / warm:.0%} of it (target <= 20%)")

    saved = plan.to_json()
    save_s = median_call_s(plan.to_json, runs)
    load_s = median_call_s(lambda: greenml.Plan.from_json(saved), runs)
    print(f"saved plan of that job ({len(plan)} options, {len(saved) / 1e3:,.0f} kB): "
          f"to_json {save_s * 1000:.1f} ms, from_json {load_s * 1000:.1f} ms")

    sizes = args.offers or [10**4, 10**5] + ([] if args.quick else [10**6])
    big_job = Job(accelerator="any", count=8, flops=1e22, max_cost_usd=5e6)
    for size in sizes:
        start = time.perf_counter()
        catalog = synthetic_catalog(size)
        built = time.perf_counter() - start
        start = time.perf_counter()
        catalog.columns  # noqa: B018 - built once per catalog, then cached
        columns = time.perf_counter() - start
        plan_s = median_call_s(lambda c=catalog: greenml.plan(big_job, catalog=c, notify=False),
                               3 if size >= 10**6 else runs)
        result = greenml.plan(big_job, catalog=catalog, notify=False)
        top10 = median_call_s(lambda r=result: [r._view(i, r.ranking.row(i)) for i in range(10)],
                              runs)
        print(f"synthetic {size:>9,} offers: plan {plan_s * 1000:8.1f} ms "
              f"({plan_s / size * 1e9:6.0f} ns/offer; {len(result):,} feasible, "
              f"{len(result.pareto)} on the Pareto front); building 10 options "
              f"{top10 * 1000:.2f} ms; setup: catalog objects {built:.1f} s, columns "
              f"{columns:.2f} s (once per catalog)")

    greenml_bin = str(BIN / "greenml")
    cli = median_run_s([greenml_bin, "plan", "--accelerator", "A100", "--count", "8",
                        "--hours", "72"], runs)
    cli_json = median_run_s([greenml_bin, "plan", "--accelerator", "A100", "--count", "8",
                             "--hours", "72", "--json"], runs)
    print(f"greenml plan --accelerator A100 --count 8 --hours 72, end to end: "
          f"{cli * 1000:.0f} ms; with --json {cli_json * 1000:.0f} ms (target <= 300 ms)")


if __name__ == "__main__":
    main()
