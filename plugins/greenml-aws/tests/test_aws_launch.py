"""Launching on AWS end to end: the real boto3, over HTTP, against moto behind the EC2 front."""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from aws_fake import ec2_client
from aws_regions import REGIONS

import greenml
from greenml.launch.types import TAG_CO2E, TAG_LAUNCH_ID, TAG_NAME
from greenml.provider.boot import limit_hours
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def a100_plan(count: int = 8) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, providers="aws"))


def live_instances(fake, region: str) -> list[dict]:
    reply = ec2_client(fake, region).describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [i for r in reply["Reservations"] for i in r["Instances"]]


def tags_of(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_launch_lands_in_the_planned_region_with_type_and_tags(aws) -> None:
    plan = a100_plan()
    launch = plan.launch(name="bert-large", run="python train.py --epochs 3", retry=FAST)
    assert launch.option == plan.best
    [instance] = live_instances(aws, plan.best.region.name)
    assert instance["InstanceType"] == plan.best.offer.instance_type == "p4d.24xlarge"
    tags = tags_of(instance)
    assert tags[TAG_LAUNCH_ID] == launch.launch_id and tags[TAG_NAME] == "bert-large"
    assert float(tags[TAG_CO2E]) == pytest.approx(plan.best.estimate.co2e_kg, abs=0.05)
    assert [r.resource_id for r in launch.instances] == [instance["InstanceId"]]
    [call] = aws.calls("RunInstances")
    assert call["region"] == plan.best.region.name and call["ClientToken"]
    [record] = greenml.status()
    assert (record.name, record.state, record.region) == ("bert-large", "running", "eu-north-1")
    assert [r.state for r in record.resources] == ["created"]


def test_user_data_runs_the_command_verbatim(aws) -> None:
    command = "python train.py --lr '1e-4' && echo \"$HOME\"; rm -rf /tmp/x"
    launch = a100_plan().launch(name="cmd", run=command, retry=FAST)
    client = ec2_client(aws, launch.option.region.name)
    attr = client.describe_instance_attribute(InstanceId=launch.instances[0].resource_id,
                                              Attribute="userData")
    script = base64.b64decode(attr["UserData"]["Value"]).decode()
    assert script.startswith("#!/bin/bash\n")
    [line] = [x for x in script.splitlines() if x.startswith("greenml_run() { ")]
    assert shlex.split(line[len("greenml_run() { "):-len("; }")]) == ["bash", "-lc", command]


def test_a_gang_of_instances(aws) -> None:
    launch = a100_plan(count=24).launch(name="gang", run="true", retry=FAST)
    assert len(launch.instances) == 3 == launch.option.instances
    live = live_instances(aws, launch.option.region.name)
    assert sorted(i["InstanceId"] for i in live) == sorted(r.resource_id for r in launch.instances)
    assert {tags_of(i)["greenml-index"] for i in live} == {"0", "1", "2"}


def test_capacity_error_fails_over_to_the_next_greenest_option(aws) -> None:
    plan = a100_plan()
    aws.inject("RunInstances", "InsufficientInstanceCapacity", times=100, region=REGIONS[0])
    launch = plan.launch(name="failover", run="true", retry=FAST)
    assert launch.option.region.name == REGIONS[1] == plan.option(2).region.name
    first = launch.attempts[0]
    assert (first.region, first.ok, first.code) == (REGIONS[0], False,
                                                    "InsufficientInstanceCapacity")
    assert launch.attempts[-1].ok
    assert live_instances(aws, REGIONS[0]) == []
    [record] = greenml.status()
    assert [a.code for a in record.attempts] == ["InsufficientInstanceCapacity", ""]


def test_vcpu_limit_blocks_the_whole_region(aws) -> None:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10, providers="aws",
                                    regions="eu-central-1,us-west-2"))
    assert [o.region.name for o in plan.options[:2]] == ["us-west-2", "us-west-2"]
    aws.inject("RunInstances", "VcpuLimitExceeded", times=100, region="us-west-2")
    launch = plan.launch(name="quota", run="true", retry=FAST)
    assert launch.option.region.name == "eu-central-1"
    tried = [(a.region, a.instance_type) for a in launch.attempts]
    assert tried[0] == ("us-west-2", "p4d.24xlarge")
    assert ("us-west-2", "p4de.24xlarge") not in tried


def test_throttling_is_retried_with_the_same_token(aws) -> None:
    # greenml retries, botocore makes one try per call (test_aws_retries: the bound)
    aws.inject("RunInstances", "RequestLimitExceeded", times=3, region=REGIONS[0])
    launch = a100_plan().launch(name="throttled", run="true",
                                   retry=greenml.RetryPolicy(attempts=4, base_delay_s=0.01))
    assert launch.option.region.name == REGIONS[0]
    calls = aws.calls("RunInstances")
    assert len(calls) == 4
    assert len({c["ClientToken"] for c in calls}) == 1
    assert len(live_instances(aws, REGIONS[0])) == 1


def test_a_gang_failing_halfway_is_removed_before_moving_on(aws) -> None:
    # EC2 sends InsufficientInstanceCapacity as a 500, which botocore retries: fail them all.
    aws.inject_after("RunInstances", "InsufficientInstanceCapacity", after=2, times=None,
                     region=REGIONS[0])
    launch = a100_plan(count=24).launch(name="halfway", run="true", retry=FAST)
    assert launch.option.region.name == REGIONS[1]
    assert live_instances(aws, REGIONS[0]) == []
    assert len(live_instances(aws, REGIONS[1])) == 3
    assert "gang of 3: 2 created and removed again" in launch.attempts[0].reason
    [record] = greenml.status()
    states = {(r.region, r.state) for r in record.resources}
    assert (REGIONS[0], "terminated") in states and (REGIONS[1], "created") in states


def test_a_retried_create_never_duplicates(aws) -> None:
    plan = a100_plan()
    launch = plan.launch(name="idem", run="true", retry=FAST)
    provider = plan.catalog.providers["aws"]
    request = greenml.provider.InstanceRequest(
        launch_id=launch.launch_id, name="idem", index=0, option=launch.option, zone=None,
        run="true", token=aws.calls("RunInstances")[0]["ClientToken"],
        tags={TAG_LAUNCH_ID: launch.launch_id, TAG_NAME: "idem",
              TAG_CO2E: f"{launch.option.estimate.co2e_kg:.1f}", "greenml-index": "0"},
        max_hours=limit_hours(launch.option.estimate.hours))  # as the launch loop sets it
    again = provider.create_instance(request, greenml.provider.Journal(request, None, "aws"))
    assert again.resource_id == launch.instances[0].resource_id
    assert len(live_instances(aws, launch.option.region.name)) == 1


def test_down_terminates_everything_and_is_idempotent(aws) -> None:
    launch = a100_plan(count=16).launch(name="downme", run="true", retry=FAST)
    removed = greenml.down("downme")
    assert sorted(r.resource_id for r in removed if r.kind == "instance") == sorted(
        r.resource_id for r in launch.instances)
    assert sorted(r.kind for r in removed if r.kind != "instance") == [
        "placement-group", "security-group"]  # the gang's groups go too
    assert live_instances(aws, launch.option.region.name) == []
    assert greenml.down("downme") == []
    [record] = greenml.status("downme")
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}


def test_dry_run_creates_nothing(aws, tmp_path) -> None:
    ledger = tmp_path / "dry.sqlite3"
    launch = a100_plan().launch(name="dry", run="true", dry_run=True, ledger=ledger)
    assert launch.dry_run and launch.instances == []
    assert "p4d.24xlarge" in launch.description and "eu-north-1" in launch.description
    assert "kg CO2e" in launch.description and "$" in launch.description
    assert aws.calls() == []
    assert not ledger.exists()


def test_launched_and_terminated_hooks_fire(aws) -> None:
    seen = []

    class Listener:
        @greenml.hookimpl
        def greenml_launched(self, launch):
            seen.append(("launched", launch.name, launch.option.region.name))

        @greenml.hookimpl
        def greenml_terminated(self, launch):
            seen.append(("terminated", launch.name, launch.region))

    greenml.registry.default().manager.register(Listener())
    a100_plan().launch(name="hooks", run="true", retry=FAST)
    greenml.down("hooks")
    assert seen == [("launched", "hooks", REGIONS[0]), ("terminated", "hooks", REGIONS[0])]


def test_bad_credentials_stop_with_the_reason_and_no_secret(aws) -> None:
    aws.inject("RunInstances", "AuthFailure", times=10, status=401)
    with pytest.raises(greenml.LaunchError) as info:
        a100_plan().launch(name="authfail", run="true", retry=FAST)
    text = str(info.value)
    assert "AuthFailure" in text and "stopped" in text
    assert "testing-secret-key-do-not-print" not in text
    assert len(info.value.attempts) == 1


def test_missing_credentials_are_explained(aws, monkeypatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    ok, reason = greenml.default_catalog().providers["aws"].check_credentials()
    assert not ok and "AWS_ACCESS_KEY_ID" in reason
    with pytest.raises(greenml.LaunchError, match="no AWS credentials"):
        a100_plan().launch(name="nocreds", run="true", retry=FAST)


def test_cli_launch_status_down(aws) -> None:
    result = run_cli("launch", "--accelerator", "A100", "--count", "8", "--hours", "10",
                     "--provider", "aws", "--name", "cli-run", "--run", "python train.py")
    assert result.returncode == 0, result.stderr
    assert "launched 'cli-run'" in result.stdout and "eu-north-1" in result.stdout
    assert "testing-secret-key-do-not-print" not in result.stdout + result.stderr
    status = json.loads(run_cli("status", "--json").stdout)
    assert [s["name"] for s in status] == ["cli-run"]
    assert [r["live_state"] for r in status[0]["resources"]] == [""], "the ledger only"
    refreshed = run_cli("status", "--refresh", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    [live] = [r["live_state"] for r in json.loads(refreshed.stdout)[0]["resources"]]
    assert live in ("pending", "running"), "DescribeInstances, through find_resources"
    refused = run_cli("down", "cli-run")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    down = run_cli("down", "cli-run", "--yes")
    assert down.returncode == 0 and "terminated aws instance" in down.stdout
    again = run_cli("down", "cli-run", "--yes")
    assert again.returncode == 0 and "nothing left" in again.stdout


def test_cli_bad_input(aws) -> None:
    unknown = run_cli("down", "cli-runn", "--yes")
    assert unknown.returncode == 2
    assert unknown.stderr.count("\n") == 1 and "no launch named 'cli-runn'" in unknown.stderr
    no_aws = run_cli("launch", "--accelerator", "TPU-v3", "--count", "8", "--hours", "1",
                     "--provider", "aws", "--name", "tpu", "--run", "true")
    assert no_aws.returncode == 2 and no_aws.stderr.count("\n") == 1
    assert "providers" in no_aws.stderr
    bad_name = run_cli("launch", "--accelerator", "A100", "--hours", "1", "--name", "Bad Name",
                       "--run", "true")
    assert bad_name.returncode == 2 and "--name" in bad_name.stderr


def test_kill_9_mid_launch_leaves_nothing_down_cannot_find(aws, tmp_path) -> None:
    """A real kill -9 between EC2 creating the instance and greenml recording it."""
    aws.delay("RunInstances", 30)
    child = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "greenml"), "launch", "--accelerator",
         "A100", "--count", "8", "--hours", "10", "--provider", "aws", "--name", "crashy",
         "--run", "true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not aws.calls("RunInstances") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the front has forwarded to moto: the instance exists, unrecorded
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert len(live_instances(aws, REGIONS[0])) == 1
    [record] = greenml.status()
    assert record.state == "launching"
    assert [(r.state, r.resource_id) for r in record.resources] == [("intent", "")]
    down = run_cli("down", "crashy", "--yes")
    assert down.returncode == 0, down.stderr
    assert live_instances(aws, REGIONS[0]) == []
    [record] = greenml.status("crashy")
    assert record.state == "down"
    assert {r.state for r in record.resources} == {"terminated"}
    assert any(r.resource_id for r in record.resources)
