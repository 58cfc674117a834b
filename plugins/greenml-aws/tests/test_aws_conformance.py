"""The AWS provider passes greenml's provider conformance kit, launching on moto behind the
tests' EC2 front (real boto3 over HTTP)."""

from __future__ import annotations

import contextlib

import pytest

pytest.importorskip("moto")
pytest.importorskip("boto3")

import greenml  # noqa: E402
from greenml.testing import check_provider  # noqa: E402


def ec2_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"sample {code}"}}, "RunInstances")


def test_aws_meets_the_provider_contract(aws) -> None:
    from greenml_aws import AWS

    job = greenml.Job(accelerator="A100", count=16, hours=10)  # a gang of two p4d.24xlarge
    check_provider(
        AWS,
        double=lambda: contextlib.nullcontext(job),
        errors=[
            (ec2_error("InsufficientInstanceCapacity"), "offer"),
            (ec2_error("VcpuLimitExceeded"), "region"),
            (ec2_error("RequestLimitExceeded"), {"scope": "none", "retry": True}),
            (ec2_error("AuthFailure"), {"scope": "provider", "stop": True}),
        ],
    )
    assert aws.calls("RunInstances"), "the kit launched through boto3 against the EC2 front"
