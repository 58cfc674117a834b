"""What Azure failures are called when the service principal's three variables are all set:
an authority or ARM that does not answer is the network; a refusal names the variable to
check; a missing role is a permission, not a credential. The real azure-identity and
management clients against the local ARM/Entra fake, or a closed port."""

from __future__ import annotations

import socket

import pytest

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=2, base_delay_s=0.01)
NOT_FOUND = "no Azure credential found"


def provider():
    return greenml.default_catalog().providers["azure"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(azure) -> str:
    provider().forget_clients()
    ok, reason = provider().check_credentials()
    assert not ok
    assert azure.client_secret not in reason
    return reason


def test_an_authority_that_does_not_answer_is_the_network(azure, monkeypatch) -> None:
    port = closed_port()
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://127.0.0.1:{port}")
    reason = check(azure)
    assert reason.startswith(f"cannot reach the Microsoft Entra token endpoint at "
                             f"https://127.0.0.1:{port} (")
    assert "check the network" in reason and "AZURE_AUTHORITY_HOST" in reason
    assert NOT_FOUND not in reason and "set AZURE_" not in reason


def test_the_cli_says_so_in_one_line(azure, monkeypatch) -> None:
    port = closed_port()
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://127.0.0.1:{port}")
    result = run_cli("launch", "--accelerator", "A100", "--count", "1", "--hours", "1",
                     "--provider", "azure", "--name", "offline", "--run", "true")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "cannot reach the Microsoft Entra token endpoint" in result.stderr
    assert NOT_FOUND not in result.stderr and azure.client_secret not in result.stderr


@pytest.mark.parametrize(("variable", "wrong", "code", "check_what"), [
    ("AZURE_TENANT_ID", "11111111-0000-4000-8000-00000000aaaa", "AADSTS90002",
     "check AZURE_TENANT_ID"),
    ("AZURE_CLIENT_ID", "11111111-0000-4000-8000-00000000cccc", "AADSTS7000215",
     "AZURE_CLIENT_ID"),
    ("AZURE_CLIENT_SECRET", "wrong-secret-value-do-not-print", "AADSTS7000215",
     "check AZURE_CLIENT_SECRET"),
])
def test_all_three_set_but_one_wrong_names_what_to_check(azure, monkeypatch, variable, wrong,
                                                         code, check_what) -> None:
    monkeypatch.setenv(variable, wrong)
    reason = check(azure)
    assert reason.startswith(f"Azure refused the credential ({code}:")
    assert check_what in reason and NOT_FOUND not in reason
    assert "wrong-secret-value-do-not-print" not in reason


def test_a_malformed_tenant_is_named(azure, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", "not a tenant!")
    reason = check(azure)
    assert reason.startswith("AZURE_TENANT_ID is not a valid tenant id")


def test_an_arm_that_does_not_answer_is_not_the_subscription(azure, monkeypatch) -> None:
    """The token comes from the fake's Entra endpoint; ARM itself is a closed port."""
    port = closed_port()
    monkeypatch.setenv("GREENML_AZURE_ENDPOINT", f"https://127.0.0.1:{port}")
    reason = check(azure)
    assert reason.startswith(f"cannot reach Azure Resource Manager at https://127.0.0.1:{port} (")
    assert "GREENML_AZURE_ENDPOINT" in reason and "not usable" not in reason


def test_no_role_on_the_subscription_is_a_permission(azure) -> None:
    azure.inject("GET", "subscription", "AuthorizationFailed", status=403, times=None,
                 message="The client does not have authorization to perform action "
                         "'Microsoft.Resources/subscriptions/read'.")
    reason = check(azure)
    assert reason.startswith(f"the credential has no access to subscription "
                             f"{azure.subscription_id} (AuthorizationFailed)")
    assert "give its identity a role" in reason


def test_a_missing_role_when_creating_is_not_called_bad_credentials(azure) -> None:
    azure.inject("PUT", "networkInterfaces", "AuthorizationFailed", status=403, times=None,
                 message="The client does not have authorization to perform action "
                         "'Microsoft.Network/networkInterfaces/write'.")
    plan = greenml.plan(greenml.Job(accelerator="A100", count=1, hours=1, providers="azure"))
    with pytest.raises(greenml.LaunchError) as info:
        plan.launch(name="norole", run="true", retry=FAST)
    text = str(info.value)
    assert "AuthorizationFailed: the credential lacks permission for this" in text
    assert "Contributor" in text and "refused the request's credentials" not in text
