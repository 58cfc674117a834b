"""A gang's rendezvous: the time from its last member up to the rendezvous written on all.

Why: a gang's boot scripts wait for their rank, the node count and the head's address, which
greenml writes only once every member exists; this is the launch's added time on the path
to a torchrun job starting. A gang of 16 (A100 x 128: p4d.24xlarge) is launched through the
real AWS plugin (boto3) against the tests' EC2 double (moto behind ``aws_fake``, in its own
process), ``--runs`` times. Each run reports, from the progress callback's events and a timer
around the provider's ``rendezvous(resources, option)``:

* ``last up -> rendezvous written``: the last member's ``up`` event (its RunInstances
  returned; moto's instances are ``running`` at once) to ``rendezvous`` returning;
* ``rendezvous call``: the provider's call alone (on AWS one DescribeInstances for the head's
  address and one CreateTags for every member, the rank and node count having been tagged at
  RunInstances; each tag set checked on every member after the launch);
* ``last up -> launched``: to the ``launched`` event (adds the ledger's final writes).

``--latency-ms`` holds every RunInstances, DescribeInstances and CreateTags reply that long
(EC2's API answers in tens of milliseconds, moto in a few). ``--gcp`` does the same against
the Compute Engine double (``gce_fake``, in this process), where the rendezvous is one
``setMetadata`` per member. ``python benchmarks/bench_rendezvous.py [--runs 5]``; needs
the test extra (moto) and the plugins.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
sys.path.insert(0, str(PLUGINS / "greenml-aws/tests"))
sys.path.insert(0, str(PLUGINS / "greenml-gcp/tests"))

import greenml  # noqa: E402

MEMBERS = 16
ACCELERATORS = 128  # A100 x 128: 16 x p4d.24xlarge on AWS (GCP: see --gcp-count)
TAGS = ("greenml-rank", "greenml-nodes", "greenml-head-addr")


class Clock:
    """The progress events' and the rendezvous call's times (perf_counter seconds)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self.calls: list[tuple[float, float]] = []

    def progress(self, event: Any) -> None:
        self.events.append((time.perf_counter(), event.kind))

    def wrap(self, cls: type) -> None:
        """Time ``cls.rendezvous`` (a benchmark's timer, the call itself unchanged)."""
        inner = cls.rendezvous

        def rendezvous(provider: Any, resources: Any, option: Any) -> None:
            start = time.perf_counter()
            try:
                inner(provider, resources, option)
            finally:
                self.calls.append((start, time.perf_counter()))

        cls.rendezvous = rendezvous

    def run(self) -> dict[str, float]:
        """This run's figures, in seconds; then forgets it."""
        ups = [t for t, kind in self.events if kind == "up"]
        [launched] = [t for t, kind in self.events if kind == "launched"]
        [(start, end)] = self.calls
        assert len(ups) == MEMBERS, f"{len(ups)} members up, expected {MEMBERS}"
        last_up = max(ups)
        figures = {"last up -> rendezvous written": end - last_up,
                   "rendezvous call": end - start,
                   "last up -> launched": launched - last_up}
        self.events, self.calls = [], []
        return figures


def report(label: str, runs: list[dict[str, float]]) -> None:
    print(f"{label} [{len(runs)} runs]:")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"  {key:<31} median {statistics.median(values) * 1000:7.1f} ms, "
              f"max {max(values) * 1000:7.1f} ms")


def measure(runs: int, job: greenml.Job, ledger: Path, clock: Clock,
            check: Callable[[Any], None]) -> list[dict[str, float]]:
    plan = greenml.plan(job)
    figures = []
    for i in range(runs + 1):  # the first warms clients and caches, and is not counted
        launch = plan.launch(name=f"gang-{time.perf_counter_ns()}", run="true", ledger=ledger,
                             progress=clock.progress)
        assert len(launch.instances) == MEMBERS
        check(launch)
        run = clock.run()
        greenml.down(launch.name, ledger=ledger)
        if i:
            figures.append(run)
    return figures


# ---------------------------------------------------------------------- AWS


def aws(runs: int, latency_ms: float, ledger: Path) -> None:
    from aws_fake import _client, _steer, publish_dlami_parameters
    from greenml_aws import AWS

    server = subprocess.Popen([sys.executable, str(PLUGINS / "greenml-aws/tests/aws_fake.py")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        endpoint = json.loads(server.stdout.readline())["endpoint_url"]
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update({
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-north-1",
                "AWS_CONFIG_FILE": f"{tmp}/none", "AWS_SHARED_CREDENTIALS_FILE": f"{tmp}/none",
            })
            publish_dlami_parameters(endpoint, ["eu-north-1"])
            client = _client("ec2", endpoint, "eu-north-1")

            def check(launch: Any) -> None:  # every member tagged, ranks 0..15
                ids = [r.resource_id for r in launch.instances]
                reply = client.describe_instances(InstanceIds=ids)
                tags = [{t["Key"]: t["Value"] for t in i.get("Tags", [])}
                        for r in reply["Reservations"] for i in r["Instances"]]
                assert all(set(TAGS) <= t.keys() for t in tags)
                assert sorted(int(t["greenml-rank"]) for t in tags) == list(range(MEMBERS))

            clock = Clock()
            clock.wrap(AWS)
            job = greenml.Job(accelerator="A100", count=ACCELERATORS, hours=10,
                              providers="aws", regions="eu-north-1")
            report(f"AWS gang of {MEMBERS}, local EC2 double (moto), no added latency",
                   measure(runs, job, ledger, clock, check))
            if latency_ms:
                for action in ("RunInstances", "DescribeInstances", "CreateTags"):
                    _steer(endpoint, "delay", action=action, seconds=latency_ms / 1000,
                           times=None)
                report(f"AWS gang of {MEMBERS}, {latency_ms:.0f} ms held on every "
                       "RunInstances, DescribeInstances and CreateTags reply",
                       measure(runs, job, ledger, clock, check))
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---------------------------------------------------------------------- GCP


def gcp(runs: int, latency_ms: float, ledger: Path, count: int) -> None:
    from gce_fake import FakeCompute
    from greenml_gcp import GCP

    fake = FakeCompute(step_s=0.02)
    fake.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update({  # as the plugin's tests: anonymous, no metadata server
                "GREENML_GCP_ENDPOINT": fake.endpoint_url, "GOOGLE_CLOUD_PROJECT": fake.project,
                "CLOUDSDK_CONFIG": f"{tmp}/none", "NO_GCE_CHECK": "true",
                "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
                "NO_PROXY": "127.0.0.1,localhost",
            })
            for key in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CORE_PROJECT",
                        "GCLOUD_PROJECT"):
                os.environ.pop(key, None)
            greenml.registry.reset()

            def check(launch: Any) -> None:  # every member given metadata, ranks 0..15
                seen = [fake.metadata(r.name) for r in launch.instances]
                assert all(set(TAGS) <= m.keys() for m in seen)
                assert sorted(int(m["greenml-rank"]) for m in seen) == list(range(MEMBERS))

            clock = Clock()
            clock.wrap(GCP)
            job = greenml.Job(accelerator="A100", count=count, hours=10, providers="gcp")
            label = (f"GCP gang of {MEMBERS}, local Compute Engine double (gce_fake, in this "
                     f"process; operations advance every {fake.step_s * 1000:.0f} ms)")
            report(label, measure(runs, job, ledger, clock, check))
            if latency_ms:
                for method in ("insert", "get", "setMetadata", "wait"):
                    fake.delay(method, latency_ms / 1000, times=None)
                report(f"{label}, {latency_ms:.0f} ms held on every insert, get, setMetadata "
                       "and wait reply", measure(runs, job, ledger, clock, check))
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="also run with this latency on the double's replies")
    parser.add_argument("--gcp", action="store_true", help="also the Compute Engine double")
    parser.add_argument("--gcp-only", action="store_true", help="only the Compute Engine double")
    parser.add_argument("--gcp-count", type=int, default=32,
                        help="A100s asked of GCP; the plan's best option must be 16 VMs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.gcp_only:
            aws(args.runs, args.latency_ms, Path(tmp) / "ledger.sqlite3")
        if args.gcp or args.gcp_only:
            gcp(args.runs, args.latency_ms, Path(tmp) / "ledger-gcp.sqlite3", args.gcp_count)


if __name__ == "__main__":
    main()
