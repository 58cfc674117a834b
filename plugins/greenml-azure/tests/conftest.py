"""Azure launch tests: the real azure-identity and Azure management clients, over HTTPS,
against the tests' local ARM (arm_fake), which also serves the Entra token endpoint."""

from __future__ import annotations

import pytest

pytest.importorskip("azure.identity")
pytest.importorskip("azure.mgmt.compute")
pytest.importorskip("azure.mgmt.network")
pytest.importorskip("azure.mgmt.resource")
pytest.importorskip("cryptography")

from arm_fake import FakeARM  # noqa: E402
from azure_bodies import SSH_KEY  # noqa: E402

import greenml  # noqa: E402

#: The ssh public key the tests' users have in ~/.ssh (not a secret).


@pytest.fixture(scope="session")
def fake_arm():
    with FakeARM() as fake:
        yield fake


@pytest.fixture
def azure(fake_arm, monkeypatch, tmp_path):
    """A clean ARM; greenml pointed at it through the environment only, as a user would be."""
    fake_arm.reset()
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519.pub").write_text(SSH_KEY + "\n")
    for key, value in {
        **fake_arm.environment(),
        "HOME": str(home),
        "AZURE_CONFIG_DIR": str(tmp_path / "no-azure-cli"),
        "GREENML_LEDGER": str(tmp_path / "ledger.sqlite3"),
        "GREENML_RETRY_BASE_DELAY_S": "0.01",
        "GREENML_AZURE_POLL_INTERVAL_S": "0",
        "GREENML_AZURE_SDK_RETRIES": "0",
    }.items():
        monkeypatch.setenv(key, value)
    greenml.registry.reset()  # new providers: the SDK clients live on them, made on first use
    yield fake_arm
    greenml.registry.reset()
