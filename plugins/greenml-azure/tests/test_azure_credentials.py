"""Credentials and subscription: DefaultAzureCredential against the tests' Entra endpoint,
what a missing piece is called, and no secret in any message."""

from __future__ import annotations

import json

import pytest

import greenml

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def provider():
    return greenml.default_catalog().providers["azure"]


def a100_plan() -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=1, hours=10, providers="azure"))


def test_the_real_credential_fetches_a_token_from_the_configured_authority(azure) -> None:
    assert provider().check_credentials() == (True, "")
    [token_call] = azure.calls("POST", "token")
    assert token_call["path"].startswith(f"/{azure.tenant_id}/oauth2/v2.0/token")
    assert azure.tokens  # and ARM accepted it
    assert azure.calls("GET", "subscription")


def test_a_wrong_secret_is_named_by_its_entra_code_and_never_shown(azure, monkeypatch) -> None:
    secret = "wrong-secret-value-do-not-print"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", secret)
    ok, reason = provider().check_credentials()
    assert not ok and "AADSTS7000215" in reason and secret not in reason
    with pytest.raises(greenml.LaunchError) as info:
        a100_plan().launch(name="badsecret", run="true", retry=FAST)
    assert "AADSTS7000215" in str(info.value) and secret not in str(info.value)
    assert azure.calls("PUT") == []


def test_a_secret_echoed_by_the_service_is_redacted(azure, monkeypatch) -> None:
    azure.inject("POST", "token", "invalid_client", status=401,
                 message=f"AADSTS7000215: the secret {azure.client_secret} is not valid.")
    ok, reason = provider().check_credentials()
    assert not ok and "AADSTS7000215" in reason
    assert azure.client_secret not in reason and "***" in reason


@pytest.mark.parametrize(("unset", "expected"), [
    (("AZURE_CLIENT_SECRET",), "AZURE_CLIENT_SECRET not set"),
    (("AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"), "az login"),
])
def test_missing_credentials_say_what_is_missing(azure, monkeypatch, unset, expected) -> None:
    for key in unset:
        monkeypatch.delenv(key)
    ok, reason = provider().check_credentials()
    assert not ok and expected in reason
    with pytest.raises(greenml.LaunchError, match="no Azure credential"):
        a100_plan().launch(name="nocreds", run="true", retry=FAST)
    assert azure.calls() == []


def test_an_unknown_subscription_is_refused_by_the_check(azure, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "11111111-2222-4333-8444-555555555555")
    ok, reason = provider().check_credentials()
    assert not ok and "SubscriptionNotFound" in reason and "11111111" in reason


def test_a_malformed_subscription_names_its_variable(azure, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "my-sub")
    ok, reason = provider().check_credentials()
    assert not ok and reason.startswith("AZURE_SUBSCRIPTION_ID:")


def test_no_subscription_at_all_stops_the_launch_naming_where_to_give_one(azure,
                                                                         monkeypatch) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    with pytest.raises(greenml.LaunchError) as info:
        a100_plan().launch(name="nosub", run="true", retry=FAST)
    text = str(info.value)
    assert "AZURE_SUBSCRIPTION_ID" in text and "azure.subscription_id" in text
    assert len(info.value.attempts) == 1 and azure.calls("PUT") == []


def test_the_subscription_as_a_setting_and_down_finding_it_by_tag(azure, monkeypatch) -> None:
    """Launched with -o azure.subscription_id and no environment subscription; a crash loses
    the ledger rows; down still finds everything by tag in the subscriptions it can see."""
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    launch = a100_plan().launch(name="bysetting", run="true", retry=FAST,
                                   settings={"azure.subscription_id": azure.subscription_id})
    assert launch.instances[0].resource_id.startswith(f"/subscriptions/{azure.subscription_id}/")
    ledger = greenml.Ledger()
    for token, _ in ledger.open_resources(launch.launch_id):
        ledger.result(token, "lost", "")  # as if the ledger never heard back
    greenml.down("bysetting")
    for kind in ("virtualMachines", "networkInterfaces", "disks"):
        assert azure.resources(kind) == [], kind


def test_the_azure_cli_default_subscription_is_used(azure, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    folder = tmp_path / "azure-cli"
    folder.mkdir()
    (folder / "azureProfile.json").write_text("\ufeff" + json.dumps({"subscriptions": [
        {"id": "99999999-2222-4333-8444-555555555555", "isDefault": False},
        {"id": azure.subscription_id, "isDefault": True}]}), encoding="utf-8")
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(folder))
    launch = a100_plan().launch(name="clisub", run="true", retry=FAST)
    assert azure.subscription_id in launch.instances[0].resource_id


def test_no_secret_or_token_reaches_a_log_line_even_at_debug(azure, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    launch = a100_plan().launch(name="logged", run="true", retry=FAST)
    greenml.down("logged")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert launch.launch_id and "Authorization" in text  # azure-core did log the requests
    assert azure.client_secret not in text
    assert not any(token in text for token in azure.tokens)
