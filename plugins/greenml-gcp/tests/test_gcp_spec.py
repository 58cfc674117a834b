"""The VM a launch asks for, computed without any call: names, labels, request ids, what can
be launched at all."""

from __future__ import annotations

import re
import uuid

import attrs
import pytest
from greenml_gcp import spec
from greenml_gcp.settings import DEFAULT_TPU_RUNTIME, GCPSettings

import greenml
from greenml.provider import InstanceRequest, parse_settings


def option_for(accelerator: str, instance_type: str, **job) -> greenml.Option:
    plan = greenml.plan(greenml.Job(**{"accelerator": accelerator, "count": 8, "hours": 1,
                                       "providers": "gcp", **job}))
    return next(o for o in plan.options if o.offer.instance_type == instance_type)


def request_for(option: greenml.Option, name: str = "bert", index: int = 0,
                token: str = "gm-0123456789abcdef-0-1-0") -> InstanceRequest:
    return InstanceRequest(
        launch_id="0123456789abcdef", name=name, index=index, option=option,
        zone=option.region.zones[0], run="true", token=token,
        tags={"greenml-launch-id": "0123456789abcdef", "greenml-name": name,
              "greenml-planned-co2e-kg": "12.5", "greenml-index": str(index)})


def test_label_values_are_sanitised() -> None:
    assert spec.label_value("12.5") == "12_5"
    assert spec.label_value("Bert Large/v2") == "bert_large_v2"
    assert len(spec.label_value("x" * 100)) == 63
    assert spec.labels({"greenml-planned-co2e-kg": "1234.5"}) == {
        "greenml-planned-co2e-kg": "1234_5"}
    with pytest.raises(greenml.InputError, match="label key"):
        spec.labels({"Owner": "me"})


def test_instance_names_are_rfc1035_unique_per_token_and_fit() -> None:
    option = option_for("T4", "n1-standard-8")
    longest = "b" + "x" * 38 + "z"  # the longest launch name greenml accepts (40)
    name = spec.instance_name(request_for(option, longest, index=9999))
    assert re.match(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", name) and len(name) <= 63
    first = spec.instance_name(request_for(option, token="gm-a-0-0"))
    assert first == spec.instance_name(request_for(option, token="gm-a-0-0"))
    assert first != spec.instance_name(request_for(option, token="gm-a-0-1"))


def test_request_ids_are_stable_nonzero_uuids() -> None:
    first = spec.request_id("gm-0123456789abcdef-0-1-0")
    assert first == spec.request_id("gm-0123456789abcdef-0-1-0")
    assert uuid.UUID(first).int != 0 and first != spec.request_id("gm-0123456789abcdef-0-2-0")


def test_n1_offers_attach_their_gpus_and_a2_offers_do_not() -> None:
    n1 = spec.instance_body(request_for(option_for("V100", "n1-standard-32")), GCPSettings(),
                            "p")
    [gpu] = n1["guestAccelerators"]
    assert gpu["acceleratorType"].endswith("/acceleratorTypes/nvidia-tesla-v100")
    assert gpu["acceleratorCount"] == 4
    a2 = spec.instance_body(request_for(option_for("A100", "a2-highgpu-8g")), GCPSettings(),
                            "p")
    assert "guestAccelerators" not in a2
    assert a2["scheduling"]["onHostMaintenance"] == "TERMINATE"


def test_a4_boots_from_hyperdisk_with_gvnic() -> None:
    body = spec.instance_body(request_for(option_for("B200", "a4-highgpu-8g")), GCPSettings(),
                              "p")
    assert body["disks"][0]["initializeParams"]["diskType"].endswith("/hyperdisk-balanced")
    assert body["networkInterfaces"][0]["nicType"] == "GVNIC"


def test_settings_shape_the_vm() -> None:
    request = request_for(option_for("T4", "n1-standard-8"))
    settings = parse_settings(GCPSettings, {
        "image_family": "debian-12", "image_project": "debian-cloud", "boot_disk_gb": "80",
        "service_account": "none", "subnetwork": "train", "external_ip": "false"})
    body = spec.instance_body(request, settings, "p")
    params = body["disks"][0]["initializeParams"]
    assert params["sourceImage"] == "projects/debian-cloud/global/images/family/debian-12"
    assert params["diskSizeGb"] == "80" and body["serviceAccounts"] == []
    region = request.option.region.name
    assert body["networkInterfaces"] == [{"subnetwork": f"regions/{region}/subnetworks/train"}]


@pytest.mark.parametrize("key,value", [("boot_disk_gb", "lots"), ("boot_disk_gb", "5"),
                                       ("operation_timeout_s", "-1"), ("external_ip", "maybe"),
                                       ("service_account", "me")])
def test_bad_settings_name_the_key(key: str, value: str) -> None:
    with pytest.raises(greenml.InputError, match=f"^settings: {key}: ") as info:
        parse_settings(GCPSettings, {key: value})
    assert info.value.field == "settings"


def test_a_tpu_slice_is_one_node_of_the_cloud_tpu_api() -> None:
    option = option_for("TPU-v3", "tpu-v3-8", count=4, spot=True)
    assert option.instances == 1 and spec.why_not_launchable(option) == ""
    body = spec.tpu_node_body(attrs.evolve(request_for(option), run="python train.py"),
                              GCPSettings())
    assert body["acceleratorType"] == "v3-8"
    assert body["runtimeVersion"] == DEFAULT_TPU_RUNTIME
    assert body["schedulingConfig"] == {"spot": True}
    assert body["labels"]["greenml-planned-co2e-kg"] == "12_5"
    script = body["metadata"]["startup-script"].splitlines()
    assert "greenml_run() { bash -lc 'python train.py'; }" in script
    assert 'greenml_say "greenml-exit=$status"' in script
    assert script[-2:] == ["greenml_end", 'exit "$status"']
    custom = parse_settings(GCPSettings, {"tpu_runtime_version": "v2-alpha"})
    assert spec.tpu_node_body(request_for(option), custom)["runtimeVersion"] == "v2-alpha"
    assert spec.parse_node_path(spec.node_path("p", "europe-west4-a", "n")) == (
        "p", "europe-west4-a", "n")
    assert spec.parse_node_path("projects/p/zones/z/instances/n") is None


def test_what_cannot_be_launched_says_why() -> None:
    tpu = option_for("TPU-v3", "tpu-v3-8")  # 8 chips: two 4-chip slices
    assert tpu.instances == 2 and "Multislice" in spec.why_not_launchable(tpu)
    a3 = option_for("H100", "a3-highgpu-4g")
    assert not a3.spot and "Spot" in spec.why_not_launchable(a3)
    assert spec.why_not_launchable(option_for("H100", "a3-highgpu-4g", spot=True)) == ""
    assert spec.why_not_launchable(option_for("A100", "a2-highgpu-8g")) == ""
    provider = greenml.default_catalog().providers["gcp"]
    assert provider.can_launch(tpu)[0] is False and provider.can_launch(a3)[0] is False
