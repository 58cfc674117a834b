"""What AWS failures are called: an endpoint that does not answer is the network, not the
credentials; refused credentials and a missing permission are each named, with what to
check. Real boto3 against a closed port and against the EC2 front's injected STS errors."""

from __future__ import annotations

import socket

import pytest

import greenml
from greenml.testing import run_cli


def provider():
    return greenml.default_catalog().providers["aws"]


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable(aws, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    provider().forget_clients()
    return f"http://127.0.0.1:{port}"


def test_an_endpoint_that_does_not_answer_is_not_called_a_credential_problem(unreachable
                                                                              ) -> None:
    ok, reason = provider().check_credentials()
    assert not ok
    assert f"cannot reach {unreachable} (EndpointConnectionError)" in reason
    assert "rejected" not in reason and "check the network" in reason
    assert "AWS_ENDPOINT_URL" in reason


def test_the_cli_says_the_same_in_one_line(unreachable) -> None:
    result = run_cli("launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
                     "--provider", "aws", "--name", "offline", "--run", "true")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"cannot reach {unreachable}" in result.stderr
    assert "rejected the credentials" not in result.stderr
    assert result.stderr.count("cannot reach") == 1, "said once, not once per option"
    assert "testing-secret-key-do-not-print" not in result.stderr


@pytest.mark.parametrize(("code", "status", "says", "not_says"), [
    ("InvalidClientTokenId", 403, "AWS rejected the credentials (InvalidClientTokenId): check "
     "AWS_ACCESS_KEY_ID", "cannot reach"),
    ("ExpiredToken", 400, "AWS rejected the credentials (ExpiredToken)", "permission"),
    ("AccessDenied", 403, "AWS accepted the credentials but refused sts:GetCallerIdentity "
     "(AccessDenied)", "rejected the credentials"),
    ("Throttling", 400, "AWS STS could not answer just now (Throttling)", "credentials ("),
])
def test_what_sts_said_is_named(aws, code, status, says, not_says) -> None:
    aws.inject("GetCallerIdentity", code, times=None, status=status)
    ok, reason = provider().check_credentials()
    assert not ok and says in reason and not_says not in reason
    assert "testing-secret-key-do-not-print" not in reason


def test_a_missing_permission_on_ec2_is_not_called_bad_credentials(aws) -> None:
    aws.inject("RunInstances", "UnauthorizedOperation", times=None)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=1, providers="aws"))
    with pytest.raises(greenml.LaunchError) as info:
        plan.launch(name="noperm", run="true",
                       retry=greenml.RetryPolicy(attempts=2, base_delay_s=0.01))
    text = str(info.value)
    assert "UnauthorizedOperation: the credentials lack permission" in text
    assert "rejected the credentials" not in text


def test_a_server_error_is_not_called_throttling(aws) -> None:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=1, providers="aws"))
    first = plan.best.region.name
    aws.inject("RunInstances", "InternalError", times=None, region=first)  # HTTP 500
    launch = plan.launch(name="flaky", run="true",
                            retry=greenml.RetryPolicy(attempts=2, base_delay_s=0.01))
    assert launch.option.region.name != first
    reason = launch.attempts[0].reason
    assert reason.startswith("InternalError: EC2 had a server error (transient)")
    assert "throttled" not in reason
