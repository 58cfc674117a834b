"""How fast greenml plans in time: every region of the embedded catalog with a week of hourly
forecast each, and how that grows with the horizon and the number of regions.

Forecasts are synthetic (a daily wave plus noise per region), served by a CarbonSource with
no network, built once: "warm" means the readings exist and the catalog is loaded, as in a
long-lived process whose carbon cache is fresh. Prints its figures; run on demand:
``python benchmarks/bench_timeshift.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

import greenml
from greenml import Catalog, Job
from greenml.carbon import CarbonSource, Reading
from greenml.testing import accelerator, offer, region

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)


class SyntheticForecast(CarbonSource):
    """Hourly readings for ``days`` from NOW for every region, made once."""

    name = "synthetic"
    signal = "average"

    def __init__(self, regions: list[greenml.Region], days: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.readings: dict[tuple[str, str], list[Reading]] = {}
        for r in regions:
            base = r.intensity.g_per_kwh
            phase = rng.uniform(0, 24)
            self.readings[(r.provider, r.name)] = [
                Reading(NOW + timedelta(hours=h),
                        max(1.0, base * (1 + 0.4 * math.sin((h + phase) / 24 * 2 * math.pi))
                            + rng.uniform(-0.05, 0.05) * base),
                        "average", "forecast", self.name, r.grid_zone or r.name)
                for h in range(days * 24)]

    def forecast(self, region, start, end=None):  # type: ignore[no-untyped-def]
        return self.readings.get((region.provider, region.name))


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def synthetic_catalog(n_regions: int, seed: int = 3) -> Catalog:
    rng = random.Random(seed)
    accs = [accelerator(f"ACC{i}", rng.choice([300, 400, 700]), rng.choice([125, 312, 989]))
            for i in range(8)]
    regions = [region("synth", f"r{i}", "SE", rng.uniform(5, 800)) for i in range(n_regions)]
    offers = [offer("synth", f"r{i}", f"t{a}", f"ACC{a}", 8, rng.uniform(5, 60))
              for i in range(n_regions) for a in range(8)]
    return Catalog(regions, offers, accs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 10 if args.quick else 40

    catalog = greenml.default_catalog()
    week = SyntheticForecast(list(catalog.regions), days=7)
    deadline = NOW + timedelta(days=7)
    jobs = {
        "A100 x8, 24 h": Job(accelerator="A100", count=8, hours=24, deadline=deadline),
        "any accelerator, 24 h on A100": Job(accelerator="any", count=8, hours=24,
                                             hours_on="A100", deadline=deadline),
        "A100 x8, 24 h, interruptible": Job(accelerator="A100", count=8, hours=24,
                                            deadline=deadline, interruptible=True),
    }
    print(f"embedded catalog: {len(catalog.regions)} regions, {len(catalog.offers)} offers; "
          "7 days of hourly forecast per region (168 readings)")
    for label, job in jobs.items():
        result = greenml.plan(job, carbon_sources=[week], now=NOW, notify=False)
        assert result.timeshift is not None
        asked = int((result.timeshift.row_of_region >= 0).sum())
        runtimes = len({round(h, 9) for h in result.timeshift.runtime_h if h == h})
        shifted = median_ms(lambda j=job: greenml.plan(j, carbon_sources=[week], now=NOW,
                                                       notify=False), runs)
        plain = median_ms(lambda j=job: greenml.plan(
            greenml.Job(**{**j.to_dict(), "deadline": None, "interruptible": False}),
            notify=False), runs)
        with_best = median_ms(lambda j=job: greenml.plan(j, carbon_sources=[week], now=NOW,
                                                         notify=False).best, runs)
        print(f"  {label:30s} {asked:3d} regions, {runtimes:2d} runtimes: plan {shifted:5.1f} ms"
              f", plan + .best {with_best:5.1f} ms (target <= 50 ms); the same job without a "
              f"window {plain:4.1f} ms")

    from greenml.plan import forecasts, timeshift

    regions = list(catalog.regions)
    gather = median_ms(lambda: forecasts.gather(regions, [week], NOW, deadline, 24.0), runs)
    fc = forecasts.gather(regions, [week], NOW, deadline, 24.0)
    import numpy as np

    runtimes = np.array([1.0, 6.0, 24.0, 72.0])
    choose = median_ms(lambda: timeshift.choose(fc, runtimes, False), runs)
    print(f"  of which: forecasts -> grid {gather:.1f} ms for {len(regions)} regions; "
          f"choosing starts {choose / runtimes.size:.2f} ms per distinct runtime")

    print("\ngrowth (synthetic catalogs, 8 accelerators, deadline = horizon, job 12 h; ms):")
    sizes = [50, 150, 500] + ([] if args.quick else [1000])
    horizons = [1, 3, 7, 14]
    print("  regions " + "".join(f"{h:>4d} days" for h in horizons))
    for n in sizes:
        cat = synthetic_catalog(n)
        cells = []
        for days in horizons:
            source = SyntheticForecast(list(cat.regions), days=days)
            job = Job(accelerator="ACC0", count=8, hours=12,
                      deadline=NOW + timedelta(days=days))
            cells.append(median_ms(lambda c=cat, s=source, j=job: greenml.plan(
                j, catalog=c, carbon_sources=[s], now=NOW, notify=False), max(5, runs // 4)))
        print(f"  {n:7d} " + "".join(f"{c:9.1f}" for c in cells))


if __name__ == "__main__":
    main()
