"""The local Compute Engine itself, through the real google-cloud-compute clients: it must
accept what Compute Engine accepts and refuse what it refuses, or the launch tests prove
nothing."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import pytest
from google.api_core import exceptions as core
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

PROJECT, ZONE = "greenml-test", "us-west1-b"
DONE = compute_v1.Operation.Status.DONE


def clients(fake) -> dict[str, Any]:
    options = ClientOptions(api_endpoint=fake.endpoint_url)
    kinds = {"instances": compute_v1.InstancesClient, "ops": compute_v1.ZoneOperationsClient,
             "machines": compute_v1.MachineTypesClient,
             "accelerators": compute_v1.AcceleratorTypesClient}
    return {k: cls(credentials=AnonymousCredentials(), client_options=options, transport="rest")
            for k, cls in kinds.items()}


@pytest.fixture
def api(gcp):
    return clients(gcp)


def body(name: str = "vm-1", zone: str = ZONE, **changes: Any) -> dict[str, Any]:
    """A valid n1-standard-8 + 1 T4 VM, as camelCase JSON."""
    vm: dict[str, Any] = {
        "name": name,
        "machineType": f"zones/{zone}/machineTypes/n1-standard-8",
        "guestAccelerators": [{"acceleratorType": f"projects/{PROJECT}/zones/{zone}/"
                                                  "acceleratorTypes/nvidia-tesla-t4",
                               "acceleratorCount": 1}],
        "scheduling": {"onHostMaintenance": "TERMINATE"},
        "labels": {"greenml-launch-id": "abc123"},
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {
            "sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
        "networkInterfaces": [{"network": "global/networks/default"}],
    }
    vm.update(changes)
    return vm


def insert(api, vm: dict[str, Any], zone: str = ZONE, request_id: str | None = None):
    import json

    request = compute_v1.InsertInstanceRequest(
        project=PROJECT, zone=zone, instance_resource=compute_v1.Instance.from_json(
            json.dumps(vm)), request_id=request_id or str(uuid.uuid4()))
    return api["instances"].insert_unary(request=request)


def test_an_insert_goes_pending_running_done_and_the_vm_runs(gcp, api) -> None:
    gcp.step_s = 0.2  # slow enough to watch every status
    operation = insert(api, body())
    assert operation.status == compute_v1.Operation.Status.PENDING
    seen = set()
    while True:
        got = api["ops"].get(project=PROJECT, zone=ZONE, operation=operation.name)
        seen.add(got.status)
        if got.status == DONE:
            break
        time.sleep(0.005)
    assert seen >= {compute_v1.Operation.Status.RUNNING, DONE}
    vm = api["instances"].get(project=PROJECT, zone=ZONE, instance="vm-1")
    assert vm.status == "RUNNING" and vm.machine_type.endswith("/machineTypes/n1-standard-8")
    assert dict(vm.labels) == {"greenml-launch-id": "abc123"}


def test_wait_returns_the_finished_operation(gcp, api) -> None:
    operation = insert(api, body())
    waited = api["ops"].wait(project=PROJECT, zone=ZONE, operation=operation.name)
    assert waited.status == DONE and not list(waited.error.errors)


def test_wait_returns_unfinished_after_its_cap(gcp, api) -> None:
    gcp.hold(5)
    operation = insert(api, body())
    started = time.monotonic()
    waited = api["ops"].wait(project=PROJECT, zone=ZONE, operation=operation.name)
    assert waited.status != DONE and time.monotonic() - started >= gcp.wait_cap_s * 0.9


def test_a_request_id_seen_before_returns_its_operation_and_creates_nothing(gcp, api) -> None:
    request_id = str(uuid.uuid4())
    first = insert(api, body(), request_id=request_id)
    again = insert(api, body(), request_id=request_id)
    assert again.name == first.name
    assert len(gcp.instances()) == 1
    assert [c["outcome"] for c in gcp.calls("insert")] == ["answered", "replayed"]


@pytest.mark.parametrize("request_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_request_id_must_be_a_nonzero_uuid(gcp, api, request_id) -> None:
    with pytest.raises(core.BadRequest, match="requestId"):
        insert(api, body(), request_id=request_id)


def test_a_duplicate_name_is_refused(gcp, api) -> None:
    insert(api, body())
    with pytest.raises(core.Conflict, match="already exists") as info:
        insert(api, body())
    assert info.value.errors[0]["reason"] == "alreadyExists"


BAD = {
    "unknown machine type": ({"machineType": f"zones/{ZONE}/machineTypes/a2-highgpu-1x"},
                             "does not exist in zone"),
    "machine type of another zone": ({"machineType": "zones/us-west1-a/machineTypes/"
                                                     "n1-standard-8"}, "must be in zone"),
    "type not in this zone": ({"machineType": "zones/us-west1-b/machineTypes/a2-ultragpu-1g"},
                              "does not exist in zone"),
    "accelerator not in zone": ({"guestAccelerators": [{
        "acceleratorType": "zones/us-west1-b/acceleratorTypes/nvidia-tesla-p4",
        "acceleratorCount": 1}]}, "does not exist in zone"),
    "three T4s": ({"guestAccelerators": [{
        "acceleratorType": "zones/us-west1-b/acceleratorTypes/nvidia-tesla-t4",
        "acceleratorCount": 3}]}, "acceleratorCount"),
    "GPUs on an a2": ({"machineType": f"zones/{ZONE}/machineTypes/a2-highgpu-1g"},
                      "comes with its own accelerators"),
    "GPUs that would live-migrate": ({"scheduling": {}}, "live migration"),
    "spot that restarts": ({"scheduling": {"onHostMaintenance": "TERMINATE",
                                           "provisioningModel": "SPOT"}}, "automaticRestart"),
    "a dot in a label value": ({"labels": {"greenml-planned-co2e-kg": "12.5"}},
                               "labels.value"),
    "an upper-case label key": ({"labels": {"Owner": "x"}}, "labels.key"),
    "a name with capitals": ({"name": "Bert-0"}, "resource.name"),
    "a name too long": ({"name": "b" * 64}, "resource.name"),
    "a small boot disk": ({"disks": [{"boot": True, "initializeParams": {
        "sourceImage": "projects/deeplearning-platform-release/global/images/family/"
                       "pytorch-2-9-cu129-ubuntu-2404-nvidia-580", "diskSizeGb": "20"}}]},
                          "smaller than the image"),
    "no boot disk": ({"disks": []}, "boot disk"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_what_compute_engine_refuses_is_refused(gcp, api, case) -> None:
    changes, message = BAD[case]
    with pytest.raises(core.BadRequest) as info:
        insert(api, body(**copy.deepcopy(changes)))
    assert message.lower() in str(info.value).lower()
    assert gcp.instances() == []


def test_unknown_zone_project_image_and_network_are_refused(gcp, api) -> None:
    with pytest.raises(core.BadRequest, match="Unknown zone"):
        insert(api, body(zone="us-west1-z"), zone="us-west1-z")
    with pytest.raises(core.NotFound, match="projects/nobody"):
        api["instances"].get(project="nobody", zone=ZONE, instance="x")
    with pytest.raises(core.NotFound, match="family/no-such-family"):
        insert(api, body(disks=[{"boot": True, "initializeParams": {
            "sourceImage": "projects/debian-cloud/global/images/family/no-such-family"}}]))
    with pytest.raises(core.NotFound, match="networks/private"):
        insert(api, body(networkInterfaces=[{"network": "global/networks/private"}]))


def test_machine_and_accelerator_types_per_zone(gcp, api) -> None:
    a2 = api["machines"].get(project=PROJECT, zone=ZONE, machine_type="a2-highgpu-2g")
    assert [(a.guest_accelerator_type, a.guest_accelerator_count) for a in a2.accelerators] == [
        ("nvidia-tesla-a100", 2)]
    with pytest.raises(core.NotFound):
        api["machines"].get(project=PROJECT, zone="us-west1-a", machine_type="a2-highgpu-2g")
    t4 = api["accelerators"].get(project=PROJECT, zone=ZONE, accelerator_type="nvidia-tesla-t4")
    assert t4.maximum_cards_per_instance == 4
    names = {m.name for m in api["machines"].list(project=PROJECT, zone="us-west1-a")}
    assert "g2-standard-4" in names and "a2-highgpu-1g" not in names


def test_a_stockout_fails_the_operation_and_leaves_no_vm(gcp, api) -> None:
    gcp.inject("insert", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", zone=ZONE)
    operation = insert(api, body())
    waited = api["ops"].wait(project=PROJECT, zone=ZONE, operation=operation.name)
    [error] = waited.error.errors
    assert error.code == "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"
    assert error.error_details[0].error_info.reason == "resource_availability"
    assert waited.http_error_status_code == 503
    assert gcp.instances() == []
    insert(api, body(name="vm-2"))  # times=1: the next insert goes through


def test_http_errors_come_in_googles_error_format(gcp, api) -> None:
    gcp.inject("insert", "quotaExceeded", metric="GPUS_ALL_REGIONS")
    gcp.inject("insert", "rateLimitExceeded")
    with pytest.raises(core.Forbidden) as quota:
        insert(api, body())
    assert quota.value.errors[0]["reason"] == "quotaExceeded"
    assert "GPUS_ALL_REGIONS" in quota.value.message
    with pytest.raises(core.TooManyRequests) as throttled:
        insert(api, body())
    assert throttled.value.errors[0]["reason"] == "rateLimitExceeded"
    insert(api, body())
    assert [c["status"] for c in gcp.calls("insert")] == [403, 429, 200]


def test_list_filters_by_label_and_pages(gcp, api) -> None:
    gcp.page_size = 2
    for i in range(3):
        insert(api, body(name=f"mine-{i}"))
    insert(api, body(name="theirs", labels={"greenml-launch-id": "other"}))
    listing = compute_v1.ListInstancesRequest(project=PROJECT, zone=ZONE,
                                              filter='labels.greenml-launch-id = "abc123"')
    assert sorted(v.name for v in api["instances"].list(request=listing)) == [
        "mine-0", "mine-1", "mine-2"]
    aggregated = compute_v1.AggregatedListInstancesRequest(
        project=PROJECT, filter="labels.greenml-launch-id=other")
    found = [(scope, v.name) for scope, scoped in api["instances"].aggregated_list(
        request=aggregated) for v in scoped.instances]
    assert found == [(f"zones/{ZONE}", "theirs")]
    with pytest.raises(core.BadRequest, match="filter"):
        list(api["instances"].list(request=compute_v1.ListInstancesRequest(
            project=PROJECT, zone=ZONE, filter="labels.x ~ (")))


def test_delete_goes_through_stopping_and_the_vm_is_gone(gcp, api) -> None:
    created = insert(api, body())
    api["ops"].wait(project=PROJECT, zone=ZONE, operation=created.name)
    gcp.step_s = 0.5
    operation = api["instances"].delete_unary(request=compute_v1.DeleteInstanceRequest(
        project=PROJECT, zone=ZONE, instance="vm-1", request_id=str(uuid.uuid4())))
    assert gcp.instances()[0]["status"] == "STOPPING"
    api["ops"].wait(project=PROJECT, zone=ZONE, operation=operation.name)
    assert gcp.instances() == []
    with pytest.raises(core.NotFound):
        api["instances"].delete_unary(project=PROJECT, zone=ZONE, instance="vm-1")
