"""The tests' EC2 front (tests/aws_fake.py): real boto3, over HTTP, against moto behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")
pytest.importorskip("moto.server")

from aws_fake import (  # noqa: E402
    DLAMI_PARAMETERS,
    FakeEC2,
    default_ami,
    ec2_client,
    publish_dlami_parameters,
    ssm_client,
)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = "eu-north-1"
OTHER = "ca-central-1"
X86_DLAMI, ARM_DLAMI, NEURON_DLAMI = DLAMI_PARAMETERS
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture(scope="module")
def server() -> Iterator[FakeEC2]:
    """One moto and one front for the module: starting moto costs far more than a reset."""
    with FakeEC2() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeEC2, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeEC2:
    """A reset fake, and an environment in which boto3 can reach nothing but it."""
    server.reset()
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
                "AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }.items():
        monkeypatch.setenv(key, value)
    return server


def moto_ec2(fake: FakeEC2, region: str = REGION) -> Any:
    """A client on moto itself, behind the front: what really exists."""
    import boto3

    return boto3.client("ec2", region_name=region, endpoint_url=fake.moto_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def instance_ids(fake: FakeEC2, region: str = REGION) -> list[str]:
    """The ids of every instance moto holds in a region."""
    reply = moto_ec2(fake, region).describe_instances()
    return sorted(i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"])


def launch(client: Any, fake: FakeEC2, region: str = REGION, **extra: Any) -> dict[str, Any]:
    """RunInstances for one p4d.24xlarge on an image moto knows."""
    args = {"ImageId": default_ami(fake, region), "InstanceType": "p4d.24xlarge",
            "MinCount": 1, "MaxCount": 1, **extra}
    return client.run_instances(**args)


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(code, HTTP status) as botocore parsed them."""
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_run_instances_goes_through_to_moto_and_is_recorded(fake: FakeEC2) -> None:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "greenml-launch", "Value": "l1"}]}]
    reply = launch(ec2_client(fake, REGION), fake, TagSpecifications=tags)
    [instance] = reply["Instances"]
    assert instance_ids(fake) == [instance["InstanceId"]]
    [call] = fake.calls("RunInstances")
    assert (call["region"], call["InstanceType"], call["outcome"], call["status"]) == (
        REGION, "p4d.24xlarge", "forwarded", 200)
    assert call["ClientToken"]  # botocore fills the idempotency token itself
    assert call["TagSpecification.1.Tag.1.Key"] == "greenml-launch"
    assert call["params"]["TagSpecification"] == [
        {"ResourceType": "instance", "Tag": [{"Key": "greenml-launch", "Value": "l1"}]}]


def test_the_environment_endpoint_reaches_the_front(fake: FakeEC2) -> None:
    import boto3

    boto3.client("ec2", region_name=OTHER).describe_instances()
    assert [(c["action"], c["region"]) for c in fake.calls()] == [("DescribeInstances", OTHER)]


def test_a_repeated_client_token_returns_the_first_instance(fake: FakeEC2) -> None:
    ec2 = ec2_client(fake, REGION)
    first = launch(ec2, fake, ClientToken="token-1")
    again = launch(ec2, fake, ClientToken="token-1")
    assert again["Instances"][0]["InstanceId"] == first["Instances"][0]["InstanceId"]
    assert again["ReservationId"] == first["ReservationId"]
    assert instance_ids(fake) == [first["Instances"][0]["InstanceId"]]
    assert [c["outcome"] for c in fake.calls("RunInstances")] == ["forwarded", "replayed"]
    other_region = launch(ec2_client(fake, OTHER), fake, OTHER, ClientToken="token-1")
    assert other_region["Instances"][0]["InstanceId"] != first["Instances"][0]["InstanceId"]


def test_a_repeated_token_with_other_parameters_is_a_mismatch(fake: FakeEC2) -> None:
    ec2 = ec2_client(fake, REGION, NO_RETRY)
    launch(ec2, fake, ClientToken="token-2")
    with pytest.raises(ClientError) as info:
        launch(ec2, fake, ClientToken="token-2", InstanceType="g5.xlarge")
    assert error_of(info) == ("IdempotentParameterMismatch", 400)
    assert len(instance_ids(fake)) == 1


def test_concurrent_sends_of_one_token_create_one_instance(fake: FakeEC2) -> None:
    ec2 = ec2_client(fake, REGION)
    image = default_ami(fake, REGION)
    ids: list[str] = []

    def send() -> None:
        reply = ec2.run_instances(ImageId=image, InstanceType="p4d.24xlarge", MinCount=1,
                                  MaxCount=1, ClientToken="token-3")
        ids.append(reply["Instances"][0]["InstanceId"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1
    assert instance_ids(fake) == ids[:1]


def test_an_injected_capacity_error_is_parsed_by_botocore(fake: FakeEC2) -> None:
    fake.inject("RunInstances", "InsufficientInstanceCapacity")
    with pytest.raises(ClientError) as info:
        launch(ec2_client(fake, REGION, NO_RETRY), fake)
    assert error_of(info) == ("InsufficientInstanceCapacity", 500)
    assert "p4d.24xlarge capacity" in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["RequestId"]
    assert instance_ids(fake) == []
    launch(ec2_client(fake, REGION, NO_RETRY), fake)  # times=1: the next one goes through


def test_capacity_errors_come_as_500_so_botocore_retries_them(fake: FakeEC2) -> None:
    fake.inject("RunInstances", "InsufficientInstanceCapacity", times=1)
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 2})
    launch(ec2_client(fake, REGION, retrying), fake)
    assert [c["status"] for c in fake.calls("RunInstances")] == [500, 200]


def test_request_limit_exceeded_is_retried_by_botocore(fake: FakeEC2) -> None:
    fake.inject("RunInstances", "RequestLimitExceeded", times=2)
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 4})
    reply = launch(ec2_client(fake, REGION, retrying), fake)
    calls = fake.calls("RunInstances")
    assert [c["status"] for c in calls] == [503, 503, 200]
    assert len({c["ClientToken"] for c in calls}) == 1
    assert reply["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(instance_ids(fake)) == 1


def test_injections_match_region_and_instance_type(fake: FakeEC2) -> None:
    fake.inject("RunInstances", "VcpuLimitExceeded", times=None, region=OTHER)
    fake.inject("RunInstances", "Unsupported", times=None, instance_type="g5.xlarge")
    launch(ec2_client(fake, REGION, NO_RETRY), fake)
    for region, instance_type, code in [(OTHER, "p4d.24xlarge", "VcpuLimitExceeded"),
                                        (OTHER, "p4d.24xlarge", "VcpuLimitExceeded"),
                                        (REGION, "g5.xlarge", "Unsupported")]:
        with pytest.raises(ClientError) as info:
            launch(ec2_client(fake, region, NO_RETRY), fake, region, InstanceType=instance_type)
        assert error_of(info) == (code, 400)


def test_credential_errors_carry_their_status(fake: FakeEC2) -> None:
    fake.inject("DescribeInstances", "AuthFailure")
    fake.inject("DescribeInstances", "UnauthorizedOperation")
    fake.inject("DescribeInstances", "InvalidParameterValue", "a message", status=422)
    ec2 = ec2_client(fake, REGION, NO_RETRY)
    for expected in [("AuthFailure", 401), ("UnauthorizedOperation", 403),
                     ("InvalidParameterValue", 422)]:
        with pytest.raises(ClientError) as info:
            ec2.describe_instances()
        assert error_of(info) == expected
    assert info.value.response["Error"]["Message"] == "a message"


def test_inject_after_fails_the_second_of_two(fake: FakeEC2) -> None:
    fake.inject_after("RunInstances", "InsufficientInstanceCapacity", after=1, region=REGION)
    ec2 = ec2_client(fake, REGION, NO_RETRY)
    first = launch(ec2, fake)
    with pytest.raises(ClientError) as info:
        launch(ec2, fake)
    assert error_of(info)[0] == "InsufficientInstanceCapacity"
    assert instance_ids(fake) == [first["Instances"][0]["InstanceId"]]
    launch(ec2, fake)
    assert [c["outcome"] for c in fake.calls()] == ["forwarded", "injected", "forwarded"]


def test_injected_errors_on_json_services(fake: FakeEC2) -> None:
    fake.inject("GetParameter", "ParameterNotFound", "gone")
    with pytest.raises(ClientError) as info:
        ssm_client(fake, REGION, NO_RETRY).get_parameter(Name="/greenml/x")
    assert error_of(info) == ("ParameterNotFound", 400)


def test_a_delayed_reply_comes_after_moto_created_the_instance(fake: FakeEC2) -> None:
    # Held far longer than any poll can take on a loaded machine, then let go by hand:
    # the test does not depend on how fast this machine is.
    fake.delay("RunInstances", 60)
    ec2 = ec2_client(fake, REGION)
    replies: list[dict[str, Any]] = []
    started = time.monotonic()
    sender = threading.Thread(target=lambda: replies.append(launch(ec2, fake)))
    sender.start()
    while not instance_ids(fake) and time.monotonic() - started < 30:
        time.sleep(0.02)
    assert instance_ids(fake) and sender.is_alive()  # in moto, not yet told to the client
    second = launch(ec2, fake)  # times=1: the second request is not held
    assert sender.is_alive()
    fake.clear_faults()  # the held reply goes out now
    sender.join(timeout=30)
    assert not sender.is_alive()
    assert sorted(instance_ids(fake)) == sorted(
        [replies[0]["Instances"][0]["InstanceId"], second["Instances"][0]["InstanceId"]])


def test_reset_clears_instances_rules_tokens_and_calls(fake: FakeEC2) -> None:
    ec2 = ec2_client(fake, REGION, NO_RETRY)
    first = launch(ec2, fake, ClientToken="token-4")
    fake.inject("RunInstances", "InsufficientInstanceCapacity", times=None)
    fake.delay("DescribeInstances", 30)
    held = threading.Thread(target=ec2.describe_instances)
    held.start()
    while len(fake.calls()) < 2:
        time.sleep(0.01)
    fake.reset()
    held.join(timeout=5)
    assert not held.is_alive()  # reset released the held reply
    assert instance_ids(fake) == [] and fake.calls() == []
    again = launch(ec2, fake, ClientToken="token-4")
    assert again["Instances"][0]["InstanceId"] != first["Instances"][0]["InstanceId"]


def test_dlami_parameters_resolve_to_images_that_boot(fake: FakeEC2) -> None:
    published = publish_dlami_parameters(fake, [OTHER, REGION])
    ssm = ssm_client(fake, REGION)
    values = {name: ssm.get_parameter(Name=name)["Parameter"]["Value"]
              for name in DLAMI_PARAMETERS}
    assert values == published
    by_path = ssm.get_parameters_by_path(Path="/aws/service/deeplearning/ami", Recursive=True)
    assert {p["Name"] for p in by_path["Parameters"]} == {X86_DLAMI, ARM_DLAMI}
    ec2 = ec2_client(fake, REGION)
    [arm] = ec2.describe_images(ImageIds=[values[ARM_DLAMI]])["Images"]
    assert arm["Architecture"] == "arm64"
    reply = ec2.run_instances(ImageId=values[X86_DLAMI], InstanceType="p4d.24xlarge",
                              MinCount=1, MaxCount=1)
    assert reply["Instances"][0]["ImageId"] == values[X86_DLAMI]
    assert ssm_client(fake, OTHER).get_parameter(Name=NEURON_DLAMI)["Parameter"]["Value"]


def test_script_mode_serves_other_processes(fake: FakeEC2) -> None:
    script = Path(__file__).with_name("aws_fake.py")
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        urls = json.loads(child.stdout.readline())  # type: ignore[union-attr]
        remote = FakeEC2()
        remote.endpoint_url, remote.moto_url = urls["endpoint_url"], urls["moto_url"]
        publish_dlami_parameters(urls["endpoint_url"], [REGION])
        image = ssm_client(remote, REGION).get_parameter(Name=X86_DLAMI)["Parameter"]["Value"]
        steer(urls["endpoint_url"], "inject", action="RunInstances", code="VcpuLimitExceeded")
        ec2 = ec2_client(remote, REGION, NO_RETRY)
        args = {"ImageId": image, "InstanceType": "p4d.24xlarge", "MinCount": 1, "MaxCount": 1}
        with pytest.raises(ClientError) as info:
            ec2.run_instances(**args)
        assert error_of(info) == ("VcpuLimitExceeded", 400)
        ec2.run_instances(**args)
        calls = steer(urls["endpoint_url"], "calls", action="RunInstances")
        assert [c["status"] for c in calls] == [400, 200]
        assert fake.calls() == []  # a server of its own, not this process's
    finally:
        child.terminate()
        child.wait(timeout=10)
    assert child.returncode == 0


def steer(endpoint_url: str, method: str, /, **kwargs: Any) -> Any:
    """POST /_fake/<method> with JSON keyword arguments, as another process would."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint_url}/_fake/{method}",
                                     data=json.dumps(kwargs).encode(), method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as reply:
        return json.loads(reply.read())["result"]
