"""Launching on GCP end to end: greenml's loop and ledger, the real google-cloud-compute REST
clients, over HTTP, against the local Compute Engine (gce_fake)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid

import pytest

import greenml
from greenml.launch.types import TAG_CO2E, TAG_INDEX, TAG_LAUNCH_ID, TAG_NAME
from greenml.provider import InstanceRequest, Journal
from greenml.provider.boot import limit_hours
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)
#: The time limit of a 10 h plan: its hours plus the margin (``limit_hours``), in seconds.
TEN_HOURS_LIMIT_S = round(limit_hours(10) * 3600)
T4_REGIONS = ["northamerica-northeast1", "southamerica-east1"]  # greenest first for 2 x T4


def t4_plan(**job) -> greenml.Plan:
    return greenml.plan(greenml.Job(**{"accelerator": "T4", "count": 2, "hours": 10,
                                       "providers": "gcp", **job}))


def a100_plan(count: int = 8) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, providers="gcp"))


def metadata(instance: dict) -> dict[str, str]:
    return {i["key"]: i["value"] for i in instance["metadata"]["items"]}


def zone_of(instance: dict) -> str:
    return instance["zone"].rsplit("/", 1)[1]


def test_an_n1_launch_lands_in_the_first_zone_offering_its_gpus(gcp) -> None:
    plan = t4_plan()
    best = plan.best
    assert (best.region.name, best.offer.instance_type) == (T4_REGIONS[0], "n1-standard-16")
    launch = plan.launch(name="bert", run="python train.py", retry=FAST)
    # northamerica-northeast1-a and -b offer no T4: skipped before any insert
    assert [(a.zone, a.scope, a.code, a.ok) for a in launch.attempts] == [
        ("northamerica-northeast1-a", "zone", "NotInZone", False),
        ("northamerica-northeast1-b", "zone", "NotInZone", False),
        ("northamerica-northeast1-c", "none", "", True)]
    [instance] = gcp.instances()
    assert zone_of(instance) == "northamerica-northeast1-c" and instance["status"] == "RUNNING"
    assert instance["machineType"].endswith("/zones/northamerica-northeast1-c/machineTypes/"
                                            "n1-standard-16")
    assert instance["guestAccelerators"] == [{
        "acceleratorType": "projects/greenml-test/zones/northamerica-northeast1-c/"
                           "acceleratorTypes/nvidia-tesla-t4", "acceleratorCount": 2}]
    assert instance["scheduling"] == {  # deleted after the plan's 10 h plus 10%
        "onHostMaintenance": "TERMINATE", "provisioningModel": "STANDARD",
        "automaticRestart": True, "maxRunDuration": {"seconds": str(TEN_HOURS_LIMIT_S)},
        "instanceTerminationAction": "DELETE"}
    labels = instance["labels"]
    assert labels[TAG_LAUNCH_ID] == launch.launch_id and labels[TAG_NAME] == "bert"
    assert labels[TAG_INDEX] == "0"
    assert labels[TAG_CO2E] == f"{best.estimate.co2e_kg:.1f}".replace(".", "_")
    disk = instance["disks"][0]
    assert disk["autoDelete"] and disk["initializeParams"]["sourceImage"] == (
        "projects/deeplearning-platform-release/global/images/family/"
        "pytorch-2-9-cu129-ubuntu-2404-nvidia-580")
    assert metadata(instance)["install-nvidia-driver"] == "True"
    [insert] = gcp.calls("insert")
    assert uuid.UUID(insert["query"]["requestId"])
    assert [r.resource_id for r in launch.instances] == [
        f"projects/greenml-test/zones/northamerica-northeast1-c/instances/{instance['name']}"]
    [record] = greenml.status()
    assert (record.name, record.state, record.region) == ("bert", "running", T4_REGIONS[0])


def test_the_startup_script_runs_the_command_verbatim(gcp) -> None:
    command = "python train.py --lr '1e-4' && echo \"$HOME\"; rm -rf /tmp/x"
    t4_plan().launch(name="cmd", run=command, retry=FAST)
    [instance] = gcp.instances()
    script = metadata(instance)["startup-script"]
    assert script.startswith("#!/bin/bash\n")
    [run] = [line for line in script.splitlines() if line.startswith("greenml_run() {")]
    assert shlex.split(run.removeprefix("greenml_run() {").removesuffix("; }")) == [
        "bash", "-lc", command]
    # then the exit code on the console, and the VM deletes itself (else stops)
    assert script.splitlines()[-3:] == ["kill \"$greenml_watchdog\" 2>/dev/null",
                                        "greenml_end", 'exit "$status"']
    assert "  greenml_gce_delete || shutdown -h now" in script.splitlines()
    assert 'greenml_say "greenml-exit=$status"' in script.splitlines()


def test_a_gang_of_accelerator_optimized_vms_carries_its_own_gpus(gcp) -> None:
    plan = a100_plan()
    assert (plan.best.region.name, plan.best.offer.instance_type, plan.best.instances) == (
        "us-west1", "a2-highgpu-2g", 4)
    launch = plan.launch(name="gang", run="true", retry=FAST)
    assert launch.attempts[0].zone == "us-west1-a" and launch.attempts[0].code == "NotInZone"
    live = gcp.instances()
    assert len(live) == 4 == len(launch.instances)
    assert {zone_of(i) for i in live} == {"us-west1-b"}
    assert all("guestAccelerators" not in i for i in live)
    assert all(i["scheduling"]["onHostMaintenance"] == "TERMINATE" for i in live)
    assert sorted(i["labels"][TAG_INDEX] for i in live) == ["0", "1", "2", "3"]
    assert len({i["name"] for i in live}) == 4
    assert len({c["query"]["requestId"] for c in gcp.calls("insert")}) == 4


def test_spot_vms_use_the_spot_provisioning_model(gcp) -> None:
    plan = greenml.plan(greenml.Job(accelerator="L4", count=1, hours=10, providers="gcp",
                                    spot=True))
    assert plan.best.spot and plan.best.offer.instance_type == "g2-standard-4"
    plan.launch(name="spotty", run="true", retry=FAST)
    [instance] = gcp.instances()
    assert instance["scheduling"] == {
        "onHostMaintenance": "TERMINATE", "provisioningModel": "SPOT",
        "instanceTerminationAction": "DELETE", "automaticRestart": False,
        "maxRunDuration": {"seconds": str(TEN_HOURS_LIMIT_S)}}


@pytest.mark.parametrize("code", ["ZONE_RESOURCE_POOL_EXHAUSTED",
                                  "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"])
def test_a_stockout_moves_to_the_next_zone_of_the_region(gcp, code) -> None:
    gcp.inject("insert", code, times=None, zone="southamerica-east1-a")
    launch = t4_plan(regions="southamerica-east1").launch(name="stockout", run="true",
                                                             retry=FAST)
    first, last = launch.attempts
    assert (first.zone, first.scope, first.code) == ("southamerica-east1-a", "zone", code)
    assert "does not have enough resources" in first.reason
    assert (last.zone, last.ok) == ("southamerica-east1-b", True)
    assert [zone_of(i) for i in gcp.instances()] == ["southamerica-east1-b"]


@pytest.mark.parametrize("kind", ["quotaExceeded", "QUOTA_EXCEEDED"])
def test_a_quota_error_moves_to_the_next_region(gcp, kind) -> None:
    gcp.inject("insert", kind, times=None, region=T4_REGIONS[0], metric="NVIDIA_T4_GPUS")
    launch = t4_plan().launch(name="quota", run="true", retry=FAST)
    assert launch.option.region.name == T4_REGIONS[1]
    failed = [a for a in launch.attempts if a.scope == "region"]
    assert [(a.region, a.zone, a.code) for a in failed] == [
        (T4_REGIONS[0], "northamerica-northeast1-c", kind)]
    assert "NVIDIA_T4_GPUS" in failed[0].reason
    # the region is blocked: its other options (2 x n1-standard-8, ...) are never tried
    assert {c["zone"] for c in gcp.calls("insert")} == {"northamerica-northeast1-c",
                                                       "southamerica-east1-a"}
    assert [zone_of(i) for i in gcp.instances()] == ["southamerica-east1-a"]


def test_the_global_gpu_quota_blocks_the_whole_provider(gcp) -> None:
    gcp.inject("insert", "quotaExceeded", times=None, metric="GPUS_ALL_REGIONS")
    with pytest.raises(greenml.LaunchError, match="GPUS_ALL_REGIONS") as info:
        t4_plan().launch(name="allgpus", run="true", retry=FAST)
    assert [a.scope for a in info.value.attempts][-1] == "provider"
    assert len(gcp.calls("insert")) == 1 and gcp.instances() == []


def test_rate_limits_are_retried_with_the_same_request_id(gcp) -> None:
    gcp.inject("insert", "rateLimitExceeded", times=2)
    launch = t4_plan().launch(name="throttled", run="true",
                                 retry=greenml.RetryPolicy(attempts=4, base_delay_s=0.01))
    assert launch.attempts[-1].ok
    inserts = gcp.calls("insert")
    assert [c["status"] for c in inserts] == [429, 429, 200]
    assert len({c["query"]["requestId"] for c in inserts}) == 1
    assert len(gcp.instances()) == 1


def test_a_gang_failing_halfway_is_removed_before_moving_on(gcp) -> None:
    gcp.inject("insert", "ZONE_RESOURCE_POOL_EXHAUSTED", after=2, times=None,
               zone="us-west1-b")
    launch = a100_plan().launch(name="halfway", run="true", retry=FAST)
    failed = next(a for a in launch.attempts if a.zone == "us-west1-b")
    assert "gang of 4: 2 created and removed again" in failed.reason
    assert launch.option.region.name == "europe-west4"
    live = gcp.instances()
    assert {zone_of(i) for i in live} == {launch.instances[0].zone}
    assert len(live) == len(launch.instances) == launch.option.instances
    deleted = {c["name"] for c in gcp.calls("delete")}
    assert len(deleted) == 2 and not deleted & {i["name"] for i in live}
    [record] = greenml.status()
    states = {(r.region, r.state) for r in record.resources}
    assert ("us-west1", "terminated") in states and ("europe-west4", "created") in states
    assert ("us-west1", "created") not in states


def test_a_retried_insert_with_the_same_request_id_creates_one_vm(gcp) -> None:
    plan = t4_plan()
    launch = plan.launch(name="idem", run="true", retry=FAST)
    provider = plan.catalog.providers["gcp"]
    first = gcp.calls("insert")[0]
    token = next(t for t, r in greenml.Ledger().open_resources(launch.launch_id)
                 if r.kind == "instance")
    request = InstanceRequest(
        launch_id=launch.launch_id, name="idem", index=0, option=launch.option,
        zone=launch.instances[0].zone, run="true", token=token,
        tags={TAG_LAUNCH_ID: launch.launch_id, TAG_NAME: "idem",
              TAG_CO2E: f"{launch.option.estimate.co2e_kg:.1f}", TAG_INDEX: "0"})
    again = provider.create_instance(request, Journal(request, None, "gcp"))
    assert again.resource_id == launch.instances[0].resource_id
    replay = gcp.calls("insert")[-1]
    assert replay["query"]["requestId"] == first["query"]["requestId"]
    assert replay["outcome"] == "replayed"
    assert len(gcp.instances()) == 1


def test_an_insert_whose_reply_was_lost_adopts_its_own_vm(gcp) -> None:
    """Past the requestId's memory, a second insert of the same name is refused (409); the VM
    is ours (same launch and index labels), so it is returned instead of failing."""
    plan = t4_plan()
    launch = plan.launch(name="lost", run="true", retry=FAST)
    provider = plan.catalog.providers["gcp"]
    token = next(t for t, r in greenml.Ledger().open_resources(launch.launch_id)
                 if r.kind == "instance")
    gcp._request_ids.clear()  # the fake forgets requestIds, as Compute Engine eventually does
    request = InstanceRequest(
        launch_id=launch.launch_id, name="lost", index=0, option=launch.option,
        zone=launch.instances[0].zone, run="true", token=token,
        tags={TAG_LAUNCH_ID: launch.launch_id, TAG_NAME: "lost", TAG_CO2E: "0.0",
              TAG_INDEX: "0"})
    again = provider.create_instance(request, Journal(request, None, "gcp"))
    assert again.resource_id == launch.instances[0].resource_id
    assert gcp.calls("insert")[-1]["status"] == 409 and len(gcp.instances()) == 1


def test_an_operation_past_its_deadline_moves_on_and_leaves_nothing(gcp) -> None:
    gcp.hold(30, zone="southamerica-east1-a")
    launch = t4_plan(regions="southamerica-east1").launch(
        name="slow", run="true", retry=FAST, settings={"gcp.operation_timeout_s": "0.2"})
    first = launch.attempts[0]
    assert (first.zone, first.scope, first.code) == ("southamerica-east1-a", "zone",
                                                     "OperationTimeout")
    assert [zone_of(i) for i in gcp.instances()] == ["southamerica-east1-b"]
    assert {c["zone"] for c in gcp.calls("delete")} == {"southamerica-east1-a"}


def test_down_deletes_every_vm_and_is_idempotent(gcp) -> None:
    launch = a100_plan().launch(name="downme", run="true", retry=FAST)
    gcp.inject("delete", "rateLimitExceeded", times=1)  # retried with backoff
    removed = greenml.down("downme")
    assert sorted(r.resource_id for r in removed) == sorted(r.resource_id
                                                            for r in launch.instances)
    assert gcp.instances() == []
    assert sorted(c["status"] for c in gcp.calls("delete")) == [200] * 4 + [429]
    assert all(c["status"] == 200 for c in gcp.calls("operations.wait"))
    assert greenml.down("downme") == []
    [record] = greenml.status("downme")
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}


def test_down_finds_vms_the_ledger_never_recorded(gcp) -> None:
    """The crash shape, through public APIs: intents recorded, VMs created, results lost."""
    gcp.page_size = 3  # the label search must follow nextPageToken
    plan = a100_plan()
    option, provider = plan.best, plan.catalog.providers["gcp"]
    book = greenml.Ledger()
    book.begin_launch("0123456789abcdef", "orphans", option.to_dict())
    for index in range(option.instances):
        request = InstanceRequest(
            launch_id="0123456789abcdef", name="orphans", index=index, option=option,
            zone="us-west1-b", run="true", token=f"gm-0123456789abcdef-0-1-{index}",
            tags={TAG_LAUNCH_ID: "0123456789abcdef", TAG_NAME: "orphans", TAG_CO2E: "3.5",
                  TAG_INDEX: str(index)})
        book.intent(request.token, request.launch_id, "gcp", "us-west1", "us-west1-b",
                    request.instance_name)
        provider.create_instance(request, Journal(request, book, "gcp"))
    assert len(gcp.instances()) == 4
    removed = greenml.down("orphans")
    assert len(removed) == 4 and gcp.instances() == []
    assert len(gcp.calls("aggregatedList")) >= 2  # more than one page
    [record] = greenml.status("orphans")
    assert {r.state for r in record.resources} == {"terminated"}


def tpu_plan(**job) -> greenml.Plan:
    return greenml.plan(greenml.Job(**{"accelerator": "TPU-v3", "count": 4, "hours": 10,
                                       "providers": "gcp", **job}))


def test_a_tpu_slice_launches_as_one_node_through_the_cloud_tpu_api(gcp) -> None:
    plan = tpu_plan(spot=True)
    assert (plan.best.region.name, plan.best.offer.instance_type) == ("europe-west4",
                                                                     "tpu-v3-8")
    launch = plan.launch(name="tpu", run="python train.py --tpu", retry=FAST)
    [node] = gcp.tpu_nodes()
    [resource] = launch.instances
    assert resource.resource_id == node["name"]
    assert node["name"].startswith("projects/greenml-test/locations/europe-west4-a/nodes/tpu-0-")
    assert node["state"] == "READY" and node["acceleratorType"] == "v3-8"
    assert node["schedulingConfig"] == {"spot": True}
    assert node["labels"][TAG_LAUNCH_ID] == launch.launch_id and node["labels"][TAG_INDEX] == "0"
    script = node["metadata"]["startup-script"].splitlines()
    assert "greenml_run() { bash -lc 'python train.py --tpu'; }" in script
    assert script[-2:] == ["greenml_end", 'exit "$status"']
    assert "greenml_gce_delete" not in "\n".join(script)  # a slice's end is not its own yet
    assert gcp.calls("insert") == [], "no Compute Engine VM"
    assert [c["method"] for c in gcp.calls()][:2] == ["tpu.acceleratorTypes.get", "tpu.create"]
    refreshed = run_cli("status", "--refresh")
    assert refreshed.returncode == 0 and refreshed.stdout.splitlines()[2].endswith("READY")
    removed = greenml.down("tpu")
    assert [r.resource_id for r in removed] == [node["name"]] and gcp.tpu_nodes() == []


def test_a_tpu_stockout_moves_zone_by_zone_then_to_the_next_region(gcp) -> None:
    gcp.inject_tpu("stockout", zone="europe-west4-a")
    launch = tpu_plan().launch(name="tpu", run="true", retry=FAST)
    assert [(a.zone, a.scope, a.code, a.ok) for a in launch.attempts] == [
        ("europe-west4-a", "zone", "STOCKOUT", False),
        ("europe-west4-b", "zone", "NotInZone", False),  # no v3 in these zones: no create
        ("europe-west4-c", "zone", "NotInZone", False),
        ("us-central1-a", "none", "", True)]
    assert "no more capacity in the zone" in launch.attempts[0].reason
    assert [n["name"].split("/")[3] for n in gcp.tpu_nodes()] == ["us-central1-a"]


def test_a_tpu_quota_error_blocks_the_region(gcp) -> None:
    gcp.inject_tpu("quota", zone="europe-west4-a")
    launch = tpu_plan().launch(name="tpu", run="true", retry=FAST)
    assert [(a.region, a.scope, a.ok) for a in launch.attempts] == [
        ("europe-west4", "region", False), ("us-central1", "none", True)]
    assert "TPUV3sPerProjectPerZoneForTPUAPI" in launch.attempts[0].reason


def test_a_retried_tpu_create_meets_its_own_node(gcp) -> None:
    launch = tpu_plan().launch(name="tpu", run="true", retry=FAST)
    provider = greenml.default_catalog().providers["gcp"]
    option = launch.option
    book = greenml.Ledger()
    [(token, row)] = book.open_resources(launch.launch_id)
    request = InstanceRequest(
        launch_id=launch.launch_id, name="tpu", index=0, option=option, zone=row.zone,
        run="true", token=token, tags={TAG_LAUNCH_ID: launch.launch_id, TAG_NAME: "tpu",
                                       TAG_CO2E: "1", TAG_INDEX: "0"})
    again = provider.create_instance(request, Journal(request, None, "gcp"))
    assert again.resource_id == row.resource_id and len(gcp.tpu_nodes()) == 1
    assert gcp.calls("tpu.create")[-1]["status"] == 409


def test_several_tpu_slices_for_one_job_are_refused_before_anything_is_created(gcp) -> None:
    plan = greenml.plan(greenml.Job(accelerator="TPU-v3,V100", count=8, hours=10,
                                    providers="gcp", regions="europe-west4"))
    assert (plan.best.offer.instance_type, plan.best.instances) == ("tpu-v3-8", 2)
    launch = plan.launch(name="tpus", run="true", retry=FAST)
    skipped = launch.attempts[0]
    assert (skipped.instance_type, skipped.scope) == ("tpu-v3-8", "offer")
    assert "Multislice" in skipped.reason
    assert launch.option.accelerator.name != "TPU-v3" and gcp.calls("tpu.create") == []
    one_slice = greenml.plan(greenml.Job(accelerator="TPU-v3", count=8, hours=10,
                                         providers="gcp", regions="europe-west4")
                             ).launch(name="tpudry", run="true", dry_run=True)
    # the dry run skips what the launch would skip, and says so
    assert "would create 1 x tpu-v3-32" in one_slice.description
    assert "  skips gcp/europe-west4 tpu-v3-8: 2 separate tpu-v3-8 slices" in (
        one_slice.description)
    with pytest.raises(greenml.InputError, match="Multislice"):
        greenml.plan(greenml.Job(accelerator="TPU-v3", count=8, hours=10, providers="gcp",
                                 regions="europe-west4", max_cost_usd=200)
                     ).launch(name="tpudry", run="true", dry_run=True)
    dry = tpu_plan().launch(name="tpudry", run="true", dry_run=True)
    assert "gcp tpus tpu-vm create tpudry-0-" in dry.description
    assert "--accelerator-type v3-8" in dry.description


def test_the_planner_can_leave_every_tpu_out(gcp) -> None:
    tpus = ["TPU-v2", "TPU-v3", "TPU-v4", "TPU-v5e", "TPU-v5p", "TPU-v6e"]
    everything = greenml.plan(greenml.Job(accelerator="any", count=8, hours=10,
                                          hours_on="A100", providers="gcp"))
    assert {o.accelerator.name for o in everything.options} & set(tpus)
    gpus_only = greenml.plan(greenml.Job(accelerator="any", count=8, hours=10,
                                         hours_on="A100", providers="gcp",
                                         not_accelerators=",".join(tpus)))
    assert gpus_only.options and not any(o.offer.instance_type.startswith("tpu-")
                                         for o in gpus_only.options)


def test_a_permission_error_stops_with_the_reason(gcp) -> None:
    gcp.inject("insert", "forbidden", times=None)
    with pytest.raises(greenml.LaunchError, match="stopped") as info:
        t4_plan().launch(name="denied", run="true", retry=FAST)
    last = info.value.attempts[-1]
    assert last.code == "forbidden" and "compute.instances.create" in last.reason
    assert len(gcp.calls("insert")) == 1


def test_an_unknown_project_stops_with_the_reason(gcp) -> None:
    with pytest.raises(greenml.LaunchError, match="projects/no-such-project") as info:
        t4_plan().launch(name="noproj", run="true", retry=FAST,
                            settings={"gcp.project": "no-such-project"})
    assert info.value.attempts[-1].code == "notFound"
    assert gcp.instances() == []


def test_a_missing_project_is_explained(gcp, monkeypatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(greenml.LaunchError, match="GOOGLE_CLOUD_PROJECT"):
        t4_plan().launch(name="noproj", run="true", retry=FAST)
    assert gcp.calls() == []


def test_a_bad_setting_names_the_field(gcp) -> None:
    with pytest.raises(greenml.InputError,
                       match="^settings: boot_disk_gb: expected a whole number") as info:
        t4_plan().launch(name="badset", run="true", retry=FAST,
                            settings={"boot_disk_gb": "lots"})
    assert info.value.field == "settings"
    # refused when the settings are parsed, before the launch starts: nothing is called
    assert gcp.calls() == [] and greenml.status(all_launches=True) == []
    dry = run_cli("launch", "--accelerator", "T4", "--count", "2", "--hours", "1", "--provider",
                  "gcp", "--name", "badset", "--run", "true", "--dry-run", "-o",
                  "gcp.boot_disk_gb=lots")
    assert dry.returncode == 2 and dry.stderr.count("\n") == 1
    assert "--set: gcp.boot_disk_gb: expected a whole number of GB, got 'lots'" in dry.stderr


def test_dry_run_shows_the_vm_and_calls_nothing(gcp, tmp_path) -> None:
    ledger = tmp_path / "dry.sqlite3"
    launch = t4_plan().launch(name="dry", run="true", dry_run=True, ledger=ledger,
                                 settings={"gcp.image_family": "debian-12",
                                           "gcp.image_project": "debian-cloud"})
    text = launch.description
    assert "n1-standard-16 + 2 x nvidia-tesla-t4 (on-demand)" in text
    assert "--zone northamerica-northeast1-a" in text and "--project greenml-test" in text
    assert "projects/debian-cloud/global/images/family/debian-12" in text
    assert "kg CO2e" in text
    assert gcp.calls() == [] and not ledger.exists()


def test_cli_launch_status_down(gcp) -> None:
    result = run_cli("launch", "--accelerator", "T4", "--count", "2", "--hours", "10",
                     "--provider", "gcp", "--name", "cli-run", "--run", "python train.py")
    assert result.returncode == 0, result.stderr
    assert "launched 'cli-run'" in result.stdout and "northamerica-northeast1-c" in result.stdout
    status = json.loads(run_cli("status", "--json").stdout)
    assert [(s["name"], s["provider"]) for s in status] == [("cli-run", "gcp")]
    refreshed = run_cli("status", "--refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.splitlines()[2].endswith("RUNNING"), refreshed.stdout
    refused = run_cli("down", "cli-run")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    down = run_cli("down", "cli-run", "--yes")
    assert down.returncode == 0 and "terminated gcp instance projects/greenml-test" in down.stdout
    assert gcp.instances() == []
    again = run_cli("down", "cli-run", "--yes")
    assert again.returncode == 0 and "nothing left" in again.stdout


def test_cli_dry_run_imports_no_cloud_sdk(gcp) -> None:
    script = ("import sys; from greenml.cli import main; code = main(['launch', "
              "'--accelerator', 'T4', '--count', '2', '--hours', '1', '--provider', 'gcp', "
              "'--name', 'dry', '--run', 'true', '--dry-run']); "
              "print(sorted(m for m in sys.modules if m.startswith('google'))); "
              "sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "gcp compute instances insert dry-0-" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_kill_9_mid_launch_leaves_nothing_down_cannot_find(gcp, monkeypatch) -> None:
    """A real kill -9 between Compute Engine accepting the insert and greenml recording it.

    The project is a setting of that launch only (``-o gcp.project``), so no later process
    knows where to search by label: the VM's id, recorded before its insert, is what lets
    ``down`` remove it.
    """
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    gcp.delay("insert", 30)
    child = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "greenml"), "launch", "--accelerator",
         "T4", "--count", "2", "--hours", "10", "--provider", "gcp", "--name", "crashy",
         "--run", "true", "-o", f"gcp.project={gcp.project}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not gcp.calls("insert") and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    [vm] = gcp.instances()  # the VM exists; greenml never heard back about it
    [record] = greenml.status()
    assert record.state == "launching"
    # zones a and b offer no T4 (nothing was created there); zone c's VM is an intent, with
    # the id greenml chose for it
    assert [(r.zone, r.state) for r in record.resources] == [
        ("northamerica-northeast1-a", "terminated"),
        ("northamerica-northeast1-b", "terminated"),
        ("northamerica-northeast1-c", "intent")]
    assert record.resources[-1].resource_id == (
        f"projects/{gcp.project}/zones/northamerica-northeast1-c/instances/{vm['name']}")
    down = run_cli("down", "crashy", "--yes")
    assert down.returncode == 0, down.stderr
    assert gcp.instances() == []
    [record] = greenml.status("crashy")
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}
