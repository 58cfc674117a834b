"""Launching on Azure end to end: the real SDK clients, over HTTPS, against the tests' ARM."""

from __future__ import annotations

import base64
import shlex
import time

import pytest
from azure_bodies import SSH_KEY

import greenml
from greenml.launch.types import TAG_CO2E, TAG_INDEX, TAG_LAUNCH_ID, TAG_NAME
from greenml.provider import InstanceRequest, Journal

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)
GREENEST = "swedencentral"
NEXT_REGION = "francecentral"


def a100_plan(count: int = 1, spot: bool = False, regions: str | None = None) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, spot=spot,
                                    providers="azure", regions=regions))


def vm_calls(fake, method: str = "PUT") -> list[dict]:
    return fake.calls(method, "virtualMachines")


def left_in(fake, region: str) -> list[tuple[str, str]]:
    """What greenml made that still exists in ``region`` (the shared VNet aside)."""
    return sorted((r["type"], r["name"]) for r in fake.resources()
                  if r["location"] == region and r["type"] != "Microsoft.Network/virtualNetworks")


def test_a_launch_creates_the_nic_then_the_vm_in_the_planned_region(azure) -> None:
    plan = a100_plan()
    launch = plan.launch(name="bert-large", run="python train.py --epochs 3", retry=FAST)
    assert launch.option == plan.best and plan.best.region.name == GREENEST
    puts = [(c["kind"].rsplit("/", 1)[-1], c["name"]) for c in azure.calls("PUT")]
    kinds = [k for k, _ in puts]
    assert kinds.index("networkinterfaces") < kinds.index("virtualmachines")
    [vm] = azure.resources("virtualMachines")
    assert vm["location"] == GREENEST
    props = vm["properties"]
    assert props["hardwareProfile"]["vmSize"] == plan.best.offer.instance_type
    assert "priority" not in props and "evictionPolicy" not in props
    assert vm["tags"][TAG_LAUNCH_ID] == launch.launch_id and vm["tags"][TAG_NAME] == "bert-large"
    assert float(vm["tags"][TAG_CO2E]) == pytest.approx(plan.best.estimate.co2e_kg, abs=0.05)
    assert vm["tags"][TAG_INDEX] == "0"
    image = props["storageProfile"]["imageReference"]
    assert (image["publisher"], image["offer"], image["sku"]) == ("microsoft-dsvm", "ubuntu-hpc",
                                                                 "2204")
    assert props["storageProfile"]["osDisk"]["deleteOption"] == "Delete"
    assert props["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"] == \
        "Delete"
    linux = props["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert linux["ssh"]["publicKeys"][0]["keyData"] == SSH_KEY
    [nic] = azure.resources("networkInterfaces")
    [disk] = azure.resources("disks")
    for sub in (nic, disk):
        assert sub["tags"][TAG_LAUNCH_ID] == launch.launch_id and sub["location"] == GREENEST
    assert [r.resource_id for r in launch.instances] == [vm["id"]]
    [record] = greenml.status()
    assert (record.name, record.state, record.region) == ("bert-large", "running", GREENEST)
    assert sorted((r.kind, r.state) for r in record.resources) == [
        ("disk", "created"), ("instance", "created"), ("nic", "created"),
        ("role-assignment", "created")]  # the VM's own identity may delete it
    [role] = azure.role_assignments()
    assert {r.resource_id for r in record.resources} == {vm["id"], nic["id"], disk["id"],
                                                          role["id"]}


def test_the_shared_group_and_network_are_made_once_and_reused(azure) -> None:
    a100_plan().launch(name="first", run="true", retry=FAST)
    a100_plan().launch(name="second", run="true", retry=FAST)
    groups = [c for c in azure.calls("PUT", "resourcegroups")]
    vnets = azure.calls("PUT", "virtualNetworks")
    assert len(groups) == 1 and groups[0]["name"] == f"greenml-{GREENEST}"
    assert len(vnets) == 1 and vnets[0]["name"] == f"greenml-vnet-{GREENEST}"
    assert len(azure.resources("virtualMachines")) == 2


def test_custom_data_runs_the_command_verbatim(azure) -> None:
    command = "python train.py --lr '1e-4' && echo \"$HOME\"; rm -rf /tmp/x"
    a100_plan().launch(name="cmd", run=command, retry=FAST)
    [vm] = azure.resources("virtualMachines")
    script = base64.b64decode(vm["properties"]["osProfile"]["customData"]).decode()
    assert script.startswith("#!/bin/bash\n")
    [run] = [line for line in script.splitlines() if line.startswith("greenml_run() {")]
    assert shlex.split(run.removeprefix("greenml_run() {").removesuffix("; }")) == [
        "bash", "-lc", command]
    # then the exit code on the console, and the VM deletes itself (else shuts down)
    assert script.splitlines()[-3:] == ['kill "$greenml_watchdog" 2>/dev/null',
                                        "greenml_end", 'exit "$status"']
    assert "  greenml_az_delete || shutdown -h now" in script.splitlines()
    assert 'greenml_say "greenml-exit=$status"' in script.splitlines()


def test_spot_sets_priority_eviction_and_price(azure) -> None:
    launch = a100_plan(spot=True).launch(name="spot", run="true", retry=FAST)
    assert launch.option.spot
    [vm] = azure.resources("virtualMachines")
    props = vm["properties"]
    assert (props["priority"], props["evictionPolicy"]) == ("Spot", "Delete")
    assert props["billingProfile"] == {"maxPrice": -1}


def test_sku_not_available_fails_over_to_the_next_size(azure) -> None:
    plan = a100_plan(regions=GREENEST)
    first, second = plan.option(1), plan.option(2)
    assert (first.region.name, second.region.name) == (GREENEST, GREENEST)
    azure.inject("PUT", "virtualMachines", "SkuNotAvailable", status=409, times=None,
                 size=first.offer.instance_type)
    launch = plan.launch(name="sku", run="true", retry=FAST)
    assert launch.option == second
    assert [(a.code, a.scope, a.ok) for a in launch.attempts] == [
        ("SkuNotAvailable", "offer", False), ("", "none", True)]
    [vm] = azure.resources("virtualMachines")
    assert vm["properties"]["hardwareProfile"]["vmSize"] == second.offer.instance_type
    assert len(azure.resources("networkInterfaces")) == 1  # the refused VM's NIC was removed
    assert len(azure.calls("PUT", "networkInterfaces")) == 2


def test_a_sku_restriction_is_read_before_anything_is_created(azure) -> None:
    plan = a100_plan()
    azure.restrict(plan.option(1).offer.instance_type, GREENEST)
    launch = plan.launch(name="restricted", run="true", retry=FAST)
    assert launch.option == plan.option(2)
    assert launch.attempts[0].code == "SkuNotAvailable"
    assert "NotAvailableForSubscription" in launch.attempts[0].reason
    assert len(azure.calls("PUT", "networkInterfaces")) == 1
    assert len(vm_calls(azure)) == 1


def test_an_allocation_failed_operation_fails_over_to_the_next_region(azure) -> None:
    plan = a100_plan()
    azure.fail_operation("virtualMachines", "AllocationFailed", location=GREENEST, times=None)
    launch = plan.launch(name="alloc", run="true", retry=FAST)
    assert launch.option.region.name == NEXT_REGION
    assert [(a.region, a.code, a.scope) for a in launch.attempts[:-1]] == [
        (GREENEST, "AllocationFailed", "region")]
    assert len(vm_calls(azure)) == 2  # the other size in the blocked region was not tried
    assert left_in(azure, GREENEST) == []
    assert len(azure.resources("virtualMachines")) == 1


def test_a_quota_error_blocks_the_region(azure) -> None:
    plan = a100_plan()
    azure.inject("PUT", "virtualMachines", "OperationNotAllowed", status=409, times=None,
                 location=GREENEST)
    launch = plan.launch(name="quota", run="true", retry=FAST)
    assert launch.option.region.name == NEXT_REGION
    assert [(a.code, a.scope) for a in launch.attempts[:-1]] == [
        ("OperationNotAllowed", "region")]
    assert "quota" in launch.attempts[0].reason
    assert left_in(azure, GREENEST) == []


def test_throttling_is_retried_honouring_retry_after_without_duplicates(azure) -> None:
    azure.inject("PUT", "virtualMachines", "TooManyRequests", status=429, retry_after="1",
                 times=2)
    started = time.monotonic()
    launch = a100_plan().launch(name="throttled", run="true",
                                   retry=greenml.RetryPolicy(attempts=4, base_delay_s=0.01))
    assert time.monotonic() - started >= 2.0  # Retry-After: 1, twice
    assert launch.option.region.name == GREENEST
    names = {c["name"] for c in vm_calls(azure)}
    assert len(vm_calls(azure)) == 3 and len(names) == 1
    assert len(azure.resources("virtualMachines")) == 1
    assert len(azure.resources("networkInterfaces")) == 1


def test_a_partial_gang_failure_removes_what_it_made_before_moving_on(azure) -> None:
    azure.fail_operation("virtualMachines", "AllocationFailed", location=GREENEST, after=2,
                         times=None)
    launch = a100_plan(count=3).launch(name="halfway", run="true", retry=FAST)
    assert launch.option.region.name == NEXT_REGION and len(launch.instances) == 3
    assert "gang of 3: 2 created and removed again" in launch.attempts[0].reason
    assert left_in(azure, GREENEST) == []
    assert len([r for r in azure.resources("virtualMachines")
                if r["location"] == NEXT_REGION]) == 3


def test_down_leaves_no_vm_nic_disk_or_ip_and_is_idempotent(azure) -> None:
    launch = a100_plan(count=2).launch(name="downme", run="true", retry=FAST,
                                          settings={"azure.public_ip": "yes"})
    assert len(azure.resources("publicIPAddresses")) == 2
    assert len(azure.resources("disks")) == 2
    removed = greenml.down("downme")
    assert {r.resource_id for r in launch.instances} <= {r.resource_id for r in removed}
    for kind in ("virtualMachines", "networkInterfaces", "disks", "publicIPAddresses"):
        assert azure.resources(kind) == [], kind
    assert azure.names("virtualNetworks") == [f"greenml-vnet-{GREENEST}"]  # shared, free, kept
    assert greenml.down("downme") == []
    [record] = greenml.status("downme")
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}


def test_down_deletes_explicitly_what_delete_options_would_leave(azure) -> None:
    """Belt and braces: even if Azure ignored the delete options, down removes NIC and disk."""
    launch = a100_plan().launch(name="braces", run="true", retry=FAST)
    for vm in azure.store.values():
        if vm["type"] == "Microsoft.Compute/virtualMachines":
            vm["properties"]["storageProfile"]["osDisk"].pop("deleteOption")
            for ref in vm["properties"]["networkProfile"]["networkInterfaces"]:
                ref["properties"].pop("deleteOption")
    greenml.down("braces")
    assert left_in(azure, launch.option.region.name) == []


def test_a_retried_create_never_duplicates(azure) -> None:
    plan = a100_plan()
    launch = plan.launch(name="idem", run="true", retry=FAST)
    provider = plan.catalog.providers["azure"]
    [record] = greenml.status()
    token = next(t for t, r in greenml.Ledger().open_resources(launch.launch_id)
                 if r.kind == "instance")
    request = InstanceRequest(
        launch_id=launch.launch_id, name="idem", index=0, option=launch.option, zone=None,
        run="true", token=token,
        tags={TAG_LAUNCH_ID: launch.launch_id, TAG_NAME: "idem",
              TAG_CO2E: f"{launch.option.estimate.co2e_kg:.1f}", TAG_INDEX: "0"})
    again = provider.create_instance(request, Journal(request, None, "azure"))
    assert again.resource_id == launch.instances[0].resource_id
    assert len(azure.resources("virtualMachines")) == 1
    assert len(azure.resources("networkInterfaces")) == 1
    assert record.state == "running"


def test_an_operation_past_its_deadline_gives_up_the_region(azure) -> None:
    azure.slow_operations("virtualMachines", polls=10**9, location=GREENEST)
    plan = a100_plan(regions=f"{GREENEST},{NEXT_REGION}")
    launch = plan.launch(name="stuck", run="true", retry=FAST,
                            settings={"azure.operation_timeout_s": "0.3"})
    assert launch.option.region.name == NEXT_REGION
    assert launch.attempts[0].code == "OperationTimedOut"
    assert left_in(azure, GREENEST) == []


def test_dry_run_creates_nothing_and_says_what_would_be(azure, tmp_path) -> None:
    ledger = tmp_path / "dry.sqlite3"
    launch = a100_plan(spot=True).launch(name="dry", run="true", dry_run=True, ledger=ledger,
                                            settings={"azure.public_ip": "yes"})
    text = launch.description
    for part in ("Standard_NC24ads_A100_v4", GREENEST, "Spot", "microsoft-dsvm:ubuntu-hpc",
                 "public IP", f"greenml-vnet-{GREENEST}", "kg CO2e", "ssh-ed25519"):
        assert part in text, part
    # An earlier test's timed-out operation may still be polled by the SDK's poller thread:
    # that is not this dry run's doing. Anything else reaching ARM would be.
    assert [c for c in azure.calls() if c["kind"] != "operations"] == []
    assert not ledger.exists()

