"""AWS launch tests: real boto3 over HTTP against moto, behind the tests' EC2 front (aws_fake)."""

from __future__ import annotations

import pytest

pytest.importorskip("moto")
pytest.importorskip("boto3")

from aws_fake import FakeEC2, publish_dlami_parameters  # noqa: E402
from aws_regions import REGIONS  # noqa: E402

import greenml  # noqa: E402


@pytest.fixture(scope="session")
def fake_ec2():
    fake = FakeEC2()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def aws(fake_ec2, monkeypatch, tmp_path):
    """A clean EC2 with the Deep Learning AMI parameters published; boto3 pointed at it."""
    fake_ec2.reset()
    for key, value in {
        "AWS_ENDPOINT_URL": fake_ec2.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-key-do-not-print",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "GREENML_LEDGER": str(tmp_path / "ledger.sqlite3"),
        "GREENML_RETRY_BASE_DELAY_S": "0.01",
    }.items():
        monkeypatch.setenv(key, value)
    publish_dlami_parameters(fake_ec2, REGIONS)
    greenml.registry.reset()  # new providers: boto3 clients live on them, made on first use
    yield fake_ec2
    greenml.registry.reset()
