"""A gang's rollback when EC2 will not terminate: bounded retries, one line naming what is
left and the exact ``greenml down NAME``, the ledger keeping it open, no further launches,
and ``greenml down`` removing all of it once EC2 answers again. Real boto3 over HTTP, with
faults injected on TerminateInstances in the EC2 front (aws_fake)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
from aws_fake import ec2_client
from aws_regions import REGIONS

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)
#: HTTP attempts botocore makes per call with greenml's client config (total_max_attempts):
#: one, as greenml's own loop retries terminate (test_aws_retries).
BOTOCORE_ATTEMPTS = 1


def a100_plan(count: int) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, providers="aws"))


def live_ids(fake, region: str) -> list[str]:
    reply = ec2_client(fake, region).describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return sorted(i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"])


def test_a_rollback_ec2_refuses_stops_the_launch_and_names_what_is_left(aws) -> None:
    plan = a100_plan(count=128)  # a gang of 16 p4d.24xlarge
    assert plan.best.region.name == REGIONS[0] and plan.best.instances == 16
    aws.inject_after("RunInstances", "InsufficientInstanceCapacity", after=15, times=None,
                     region=REGIONS[0])
    aws.inject("TerminateInstances", "InternalError", times=None)  # HTTP 500, every time
    with pytest.raises(greenml.RollbackFailed) as info:
        plan.launch(name="big", run="true", retry=FAST)
    error = info.value
    left = live_ids(aws, REGIONS[0])
    assert len(left) == 15, "nothing was terminated"
    assert sorted(r.resource_id for r in error.left if r.kind == "instance") == left
    text = str(error)
    assert "\n" not in text
    assert text.startswith("launch 'big' stopped: a gang member failed on aws/eu-north-1")
    assert "InsufficientInstanceCapacity" in text and "InternalError" in text
    assert "after 3 tries" in text and f"15 instance(s) in aws/{REGIONS[0]}: " in text
    assert all(i in text for i in left)
    assert text.endswith("run 'greenml down big' to remove them")
    assert isinstance(error, greenml.LaunchError) and isinstance(error, greenml.GreenmlError)

    tries = len(aws.calls("TerminateInstances"))
    assert BOTOCORE_ATTEMPTS < tries <= 3 * BOTOCORE_ATTEMPTS, "retried, within the bound"
    assert {c["region"] for c in aws.calls("RunInstances")} == {REGIONS[0]}, \
        "no failover: nothing more was created while the gang could not be removed"

    [record] = greenml.status()
    assert record.state == "needs-down" and record.live
    assert "greenml down big" in record.reason
    alive = sorted(r.resource_id for r in record.resources
                   if r.state == "created" and r.kind == "instance")
    assert alive == left, "the ledger marks each one as still alive"
    with pytest.raises(greenml.InputError, match="still live"):
        plan.launch(name="big", run="true", retry=FAST)

    aws.clear_faults()  # EC2 answers again
    down = run_cli("down", "big", "--yes")
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("terminated aws instance") == 15
    assert live_ids(aws, REGIONS[0]) == []
    [record] = greenml.status("big")
    assert record.state == "down"
    assert {r.state for r in record.resources if r.resource_id} == {"terminated"}


def test_the_cli_exits_non_zero_with_one_line_and_the_down_command(aws) -> None:
    aws.inject_after("RunInstances", "InsufficientInstanceCapacity", after=2, times=None,
                     region=REGIONS[0])
    aws.inject("TerminateInstances", "InternalError", times=None)
    result = run_cli("launch", "--accelerator", "A100", "--count", "24", "--hours", "10",
                     "--provider", "aws", "--name", "cli-big", "--run", "true")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr
    assert result.stderr.startswith("greenml: error: launch 'cli-big' stopped: ")
    assert "run 'greenml down cli-big' to remove them" in result.stderr
    assert "testing-secret-key-do-not-print" not in result.stdout + result.stderr
    left = live_ids(aws, REGIONS[0])
    assert len(left) == 2 and all(i in result.stderr for i in left)
    status = run_cli("status")
    # 2 of 3 instances, and the gang's placement and security groups
    assert status.returncode == 0 and "needs-down" in status.stdout and "4/5" in status.stdout

    stuck = run_cli("down", "cli-big", "--yes")  # EC2 still failing: said, not hidden
    assert stuck.returncode == 1 and stuck.stderr.count("\n") == 1
    # 2 instances and the gang's 2 groups
    assert "could not terminate 4 resource(s) of 'cli-big' on aws" in stuck.stderr
    assert "run 'greenml down cli-big' again" in stuck.stderr
    assert len(live_ids(aws, REGIONS[0])) == 2

    aws.clear_faults()
    assert greenml.down("cli-big") and live_ids(aws, REGIONS[0]) == []
    [record] = greenml.status("cli-big")
    assert record.state == "down"


def test_a_terminate_that_fails_once_is_retried_and_the_launch_fails_over(aws) -> None:
    aws.inject_after("RunInstances", "InsufficientInstanceCapacity", after=2, times=None,
                     region=REGIONS[0])
    aws.inject("TerminateInstances", "InternalError", times=BOTOCORE_ATTEMPTS)  # one try
    plan = a100_plan(count=24)
    launch = plan.launch(name="retried", run="true", retry=FAST)
    assert launch.option.region.name == next(
        o.region.name for o in plan.options if o.region.name != REGIONS[0]), "failed over"
    assert live_ids(aws, REGIONS[0]) == []
    assert len(aws.calls("TerminateInstances")) == BOTOCORE_ATTEMPTS + 1
    assert "gang of 3: 2 created and removed again" in launch.attempts[0].reason


def test_a_rollback_under_a_ledger_lock_counts_what_it_removed(aws, tmp_path) -> None:
    """Another process holds the ledger's write lock while EC2 creates a gang of 8: none of
    the 8 can be recorded, the rollback finds them by tag and removes them, and the message
    says 8 (not 0) and that the ledger was locked."""
    path = tmp_path / "locked.sqlite3"
    # long enough for 8 threads' intents to queue on a slow disk, short for a test
    book = greenml.Ledger(path, busy_timeout_s=5.0)
    aws.delay("RunInstances", 1.0, times=8)
    holder: dict[str, object] = {}

    def hold_the_lock() -> None:
        deadline = time.monotonic() + 60
        while len(aws.calls("RunInstances")) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")  # every intent is written: the results are not
        holder["held"] = True
        while not aws.calls("TerminateInstances") and time.monotonic() < deadline:
            time.sleep(0.01)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    try:
        with pytest.raises(greenml.LaunchError) as info:
            a100_plan(count=64).launch(name="locked", run="true", retry=FAST, ledger=book)
    finally:
        thread.join(timeout=90)
    assert holder.get("held")
    text = str(info.value)
    assert "gang of 8: 8 created and removed again" in text
    assert f"the ledger {path} is locked by another process" in text
    assert "was created but not recorded" in text
    assert live_ids(aws, REGIONS[0]) == []
    [record] = greenml.status(ledger=book, all_launches=True)
    assert record.state == "failed"
    assert [r.state for r in record.resources if r.kind == "instance"] == ["terminated"] * 8


def test_status_json_shows_the_reason_of_a_launch_left_for_down(aws) -> None:
    aws.inject_after("RunInstances", "InsufficientInstanceCapacity", after=1, times=None,
                     region=REGIONS[0])
    aws.inject("TerminateInstances", "InternalError", times=None)
    with pytest.raises(greenml.RollbackFailed):
        a100_plan(count=16).launch(name="left", run="true", retry=FAST)
    [record] = json.loads(run_cli("status", "--json").stdout)
    assert record["state"] == "needs-down" and "greenml down left" in record["reason"]
    aws.clear_faults()
    greenml.down("left")
    assert live_ids(aws, REGIONS[0]) == []
