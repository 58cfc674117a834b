"""Reading Azure's errors, as the real SDK raises them from the tests' ARM, into failover
decisions; and greenml's provider conformance kit run against the Azure provider."""

from __future__ import annotations

import contextlib

import pytest
from azure_bodies import GROUP, LOCATION, clients, ground, nic, vm

import greenml


def provider():
    return greenml.default_catalog().providers["azure"]


def error_from(call):
    with pytest.raises(Exception) as info:
        result = call()
        if hasattr(result, "result"):
            result.result()
    return info.value


def put_vm(fake):
    _, _, compute = clients(fake)
    return lambda: compute.virtual_machines.begin_create_or_update(GROUP, "vm1", {
        "location": LOCATION})


QUOTA = ("Operation could not be completed as it results in exceeding approved "
         "standardNCADSA100v4Family Cores quota.")


@pytest.mark.parametrize(("code", "status", "message", "expected"), [
    ("SkuNotAvailable", 409, "", {"scope": "offer", "retry": False, "stop": False}),
    ("OperationNotAllowed", 409, QUOTA, {"scope": "region", "stop": False}),
    ("OperationNotAllowed", 409, "Disk vm1-osdisk is attached to VM vm1.",
     {"scope": "none", "stop": True}),
    ("LocationNotAvailableForResourceType", 400, "", {"scope": "region", "stop": False}),
    ("RequestDisallowedByPolicy", 403, "", {"scope": "region", "stop": False}),
    ("AuthorizationFailed", 403, "", {"scope": "provider", "stop": True}),
    ("InvalidParameter", 400, "The value of parameter imageReference is invalid.",
     {"scope": "none", "stop": True}),
    ("ResourceNotFound", 404, "", {"scope": "none", "stop": True}),
    ("InternalServerError", 500, "", {"scope": "none", "retry": True}),
    ("TooManyRequests", 429, "", {"scope": "none", "retry": True, "retry_after_s": 7.0}),
])
def test_arm_answers(azure, code, status, message, expected) -> None:
    azure.inject("PUT", "virtualMachines", code, status=status, message=message,
                 retry_after="7" if status == 429 else None)
    failure = provider().classify(error_from(put_vm(azure)))
    assert failure.code == code
    for key, value in expected.items():
        assert getattr(failure, key) == value, key


@pytest.mark.parametrize(("code", "scope", "says"), [
    ("AllocationFailed", "region", "sufficient capacity for the requested VM size in this region"),
    ("ZonalAllocationFailed", "zone", "in this zone"),
    ("OverconstrainedAllocationRequest", "region", "OverconstrainedAllocationRequest"),
])
def test_failed_operations(azure, code, scope, says) -> None:
    subnet = ground(azure)
    _, network, compute = clients(azure)
    nic_id = network.network_interfaces.begin_create_or_update(GROUP, "n", nic(subnet)).result().id
    azure.fail_operation("virtualMachines", code)
    error = error_from(lambda: compute.virtual_machines.begin_create_or_update(
        GROUP, "vm1", vm(nic_id)))
    failure = provider().classify(error)
    assert (failure.code, failure.scope, failure.retry, failure.stop) == (code, scope, False,
                                                                          False)
    assert says in failure.reason


def test_an_unreachable_endpoint_blocks_the_provider_without_stopping(azure,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("GREENML_AZURE_ENDPOINT", "https://127.0.0.1:9")
    provider().forget_clients()
    error = error_from(put_vm(azure))
    failure = provider().classify(error)
    assert (failure.scope, failure.stop) == ("provider", False)
    assert "cannot reach" in failure.reason


def test_an_http_endpoint_is_refused_naming_the_variable(azure, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_AZURE_ENDPOINT", "http://127.0.0.1:9")
    ok, reason = provider().check_credentials()
    assert not ok and reason.startswith("GREENML_AZURE_ENDPOINT:") and "https" in reason


def test_the_provider_keeps_the_greenml_contract(azure) -> None:
    from greenml_azure import Azure

    from greenml.testing import check_provider

    @contextlib.contextmanager
    def double():
        yield greenml.Job(accelerator="A100", count=2, hours=1, regions=LOCATION)

    check_provider(Azure, double=double, errors=[
        (error_from(put_vm_factory(azure, "SkuNotAvailable", 409)), "offer"),
        (error_from(put_vm_factory(azure, "TooManyRequests", 429)), {"retry": True}),
    ])
    for kind in ("virtualMachines", "networkInterfaces", "disks"):
        assert azure.resources(kind) == [], kind


def put_vm_factory(fake, code: str, status: int):
    fake.inject("PUT", "virtualMachines", code, status=status)
    return put_vm(fake)
