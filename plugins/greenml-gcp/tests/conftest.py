"""GCP launch tests: the real google-cloud-compute REST clients over HTTP against gce_fake."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("google.cloud.compute_v1") is None:  # the plugin's SDK is absent
    collect_ignore_glob = ["test_gcp_*.py"]
else:
    from gce_fake import FakeCompute

    import greenml

    @pytest.fixture(scope="session")
    def fake_gce():
        fake = FakeCompute()
        fake.start()
        yield fake
        fake.stop()

    @pytest.fixture
    def gcp(fake_gce, monkeypatch, tmp_path):
        """A clean Compute Engine; every client (and CLI subprocess) pointed at it, anonymous,
        with the project from the environment and no way to reach a metadata server."""
        fake_gce.reset()
        fake_gce.page_size, fake_gce.step_s = 500, 0.02
        for key, value in {
            "GREENML_GCP_ENDPOINT": fake_gce.endpoint_url,
            "GOOGLE_CLOUD_PROJECT": fake_gce.project,
            "GREENML_LEDGER": str(tmp_path / "ledger.sqlite3"),
            "GREENML_RETRY_BASE_DELAY_S": "0.01",
            "CLOUDSDK_CONFIG": str(tmp_path / "no-gcloud-config"),
            "NO_GCE_CHECK": "true",
            "GCE_METADATA_HOST": "127.0.0.1:9",
            "GCE_METADATA_IP": "127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
        }.items():
            monkeypatch.setenv(key, value)
        for key in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT"):
            monkeypatch.delenv(key, raising=False)
        greenml.registry.reset()  # new providers: the SDK clients live on them, made on first use
        yield fake_gce
        greenml.registry.reset()

    @pytest.fixture
    def no_metadata_server(monkeypatch):
        """google-auth reads NO_GCE_CHECK when first imported: make sure it holds in this
        process too, so looking for credentials never probes 169.254.169.254."""
        from google.auth.compute_engine import _metadata

        monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)
