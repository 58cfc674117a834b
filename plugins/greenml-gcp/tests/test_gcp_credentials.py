"""Credentials and project: Application Default Credentials over real OAuth (a service-account
key whose token URI is the fake's), what is missing said plainly, and no secret in any output."""

from __future__ import annotations

import json

import pytest
from gce_fake import write_service_account_file

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def provider():
    return greenml.default_catalog().providers["gcp"]


def test_service_account_credentials_authorise_every_call_and_stay_secret(
        gcp, tmp_path, monkeypatch, capsys, caplog) -> None:
    key_file = tmp_path / "sa.json"
    private_key = write_service_account_file(key_file, gcp)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    assert provider().check_credentials() == (True, "")  # an OAuth token from /token
    launch = greenml.plan(greenml.Job(accelerator="T4", count=2, hours=10, providers="gcp")
                          ).launch(name="sa-run", run="true", retry=FAST)
    assert len(gcp.instances()) == 1
    assert gcp.calls() and all(c["status"] != 401 for c in gcp.calls())
    removed = greenml.down("sa-run")
    assert len(removed) == 1 and gcp.instances() == []
    captured = capsys.readouterr()
    shown = "\n".join([json.dumps(launch.to_dict(), default=str), captured.out, captured.err,
                       caplog.text, *(json.dumps(r.to_dict(), default=str)
                                      for r in greenml.status(all_launches=True))])
    ledger = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*"))
    body = private_key.splitlines()[1]  # a line of the key itself
    for secret in (body, "ya29.fake-", "eyJ"):  # the key, access tokens, signed JWTs
        assert secret not in shown and secret.encode() not in ledger


def test_without_a_bearer_token_the_fake_refuses(gcp, tmp_path) -> None:
    write_service_account_file(tmp_path / "sa.json", gcp)  # the fake now demands tokens
    with pytest.raises(greenml.LaunchError, match="credentials") as info:
        greenml.plan(greenml.Job(accelerator="T4", count=2, hours=1, providers="gcp")
                     ).launch(name="anon", run="true", retry=FAST)
    assert info.value.attempts[-1].scope == "provider"
    assert gcp.instances() == []


def test_refused_credentials_are_reported_without_the_key(gcp, tmp_path, monkeypatch) -> None:
    key_file = tmp_path / "sa.json"
    private_key = write_service_account_file(key_file, gcp)
    write_service_account_file(tmp_path / "other.json", gcp)  # the fake now trusts another key
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    ok, reason = provider().check_credentials()
    assert not ok and reason == "Google refused the credentials (RefreshError)"
    result = run_cli("launch", "--accelerator", "T4", "--count", "2", "--hours", "1",
                     "--provider", "gcp", "--name", "refused", "--run", "true")
    assert result.returncode == 2 and "Google refused the credentials" in result.stderr
    assert private_key.splitlines()[1] not in result.stdout + result.stderr
    assert gcp.calls("insert") == []


def test_missing_credentials_say_what_to_do(gcp, monkeypatch, no_metadata_server) -> None:
    monkeypatch.delenv("GREENML_GCP_ENDPOINT")  # the real endpoint: ADC is required
    ok, reason = provider().check_credentials()
    assert not ok
    assert "gcloud auth application-default login" in reason
    assert "GOOGLE_APPLICATION_CREDENTIALS" in reason
    with pytest.raises(greenml.LaunchError, match="no Google Cloud credentials"):
        greenml.plan(greenml.Job(accelerator="T4", count=2, hours=1, providers="gcp")
                     ).launch(name="nocreds", run="true", retry=FAST)
    assert gcp.calls() == []


def test_the_project_setting_wins_over_the_environment(gcp, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "some-other-project")
    launch = greenml.plan(greenml.Job(accelerator="T4", count=2, hours=1, providers="gcp")
                          ).launch(name="proj", run="true", retry=FAST,
                                      settings={"gcp.project": gcp.project})
    assert launch.instances[0].resource_id.startswith(f"projects/{gcp.project}/")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", gcp.project)
    assert len(greenml.down("proj")) == 1 and gcp.instances() == []
