"""Runs that end themselves and gangs that meet on Compute Engine, through the real
google-cloud-compute clients against gce_fake: the insert's ``maxRunDuration`` with
``instanceTerminationAction=DELETE``, ``--keep`` leaving them out, and a gang's rank, node
count and head address written as each member's metadata once all are up."""

from __future__ import annotations

from test_gcp_launch import TEN_HOURS_LIMIT_S

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def a100_gang() -> greenml.Plan:
    """Four a2-highgpu-2g VMs in us-west1-b (see test_gcp_launch)."""
    return greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10, providers="gcp"))


def t4_plan() -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="T4", count=2, hours=10, providers="gcp"))


def test_compute_engine_deletes_the_vm_at_the_time_limit(gcp) -> None:
    greenml.launch(t4_plan(), name="limit", run="true", retry=FAST, max_hours=2.5)
    [instance] = gcp.instances()
    assert instance["scheduling"]["maxRunDuration"] == {"seconds": "9000"}
    assert instance["scheduling"]["instanceTerminationAction"] == "DELETE"
    script = gcp.metadata(instance["name"])["startup-script"]
    assert " sleep 9000 >/dev/null 2>&1 </dev/null & greenml_sleep=$!" in script  # watchdog
    [record] = greenml.status()
    assert record.kept is False


def test_keep_leaves_out_the_time_limit_and_the_self_delete(gcp) -> None:
    greenml.launch(t4_plan(), name="kept", run="true", retry=FAST, keep=True)
    [instance] = gcp.instances()
    assert "maxRunDuration" not in instance["scheduling"]
    assert "instanceTerminationAction" not in instance["scheduling"]
    script = gcp.metadata(instance["name"])["startup-script"]
    assert "greenml_end() {  # end this machine (and its billing)\n  :\n}" in script
    [record] = greenml.status()
    assert record.kept is True


def test_a_dry_run_shows_the_time_limit(gcp) -> None:
    dry = run_cli("launch", "--accelerator", "T4", "--count", "2", "--hours", "10",
                  "--provider", "gcp", "--name", "dry", "--run", "true", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (f"--max-run-duration {TEN_HOURS_LIMIT_S}s --instance-termination-action DELETE"
            in dry.stdout)
    assert gcp.calls("insert") == []


def test_a_gang_gets_distinct_ranks_and_one_head_through_metadata(gcp) -> None:
    launch = a100_gang().launch(name="gang", run="torchrun train.py", retry=FAST)
    names = [r.name for r in launch.instances]
    assert len(names) == 4
    live = {i["name"]: i for i in gcp.instances()}
    head = live[names[0]]["networkInterfaces"][0]["networkIP"]
    assert head.startswith("10.128.0.")
    seen = [gcp.metadata(n) for n in names]
    assert [m["greenml-rank"] for m in seen] == ["0", "1", "2", "3"]
    assert {m["greenml-nodes"] for m in seen} == {"4"}
    assert {m["greenml-head-addr"] for m in seen} == {head}
    # the items set at creation stay: the boot script and the driver install
    assert all("startup-script" in m and m["install-nvidia-driver"] == "True" for m in seen)
    calls = gcp.calls("setMetadata")
    assert len(calls) == 4 and all(c["outcome"] == "answered" for c in calls)
    assert all(c["body"]["fingerprint"] for c in calls)
    script = seen[1]["startup-script"]
    assert "  r=$(greenml_gce_md instance/attributes/greenml-rank) || return 1" in script


def test_a_single_vm_needs_no_rendezvous(gcp) -> None:
    t4_plan().launch(name="one", run="true", retry=FAST)
    [instance] = gcp.instances()
    assert gcp.calls("setMetadata") == []
    assert "greenml-rank" not in gcp.metadata(instance["name"])


def test_a_stale_fingerprint_is_read_again(gcp) -> None:
    """Another writer changed a member's metadata in between: 412, read, write again."""
    gcp.inject("setMetadata", "conditionNotMet", times=1)
    launch = a100_gang().launch(name="raced", run="true", retry=FAST)
    assert [gcp.metadata(r.name)["greenml-rank"] for r in launch.instances] == [
        "0", "1", "2", "3"]
    assert [c["outcome"] for c in gcp.calls("setMetadata")].count("injected") == 1
