"""The GCP provider passes greenml's provider conformance kit, launching through the real
google-cloud-compute clients over HTTP against the local Compute Engine (gce_fake)."""

from __future__ import annotations

import contextlib

from greenml_gcp.errors import OperationFailed

import greenml
from greenml.testing import check_provider


def test_gcp_meets_the_provider_contract(gcp) -> None:
    from google.api_core import exceptions as core
    from greenml_gcp import GCP

    job = greenml.Job(accelerator="A100", count=8, hours=10)  # a gang of four a2-highgpu-2g
    check_provider(
        GCP,
        double=lambda: contextlib.nullcontext(job),
        errors=[
            (OperationFailed("insert", "vm", ["ZONE_RESOURCE_POOL_EXHAUSTED"], ["no room"]),
             "zone"),
            (OperationFailed("insert", "vm", ["QUOTA_EXCEEDED"], ["Quota 'CPUS' exceeded."]),
             "region"),
            (core.TooManyRequests("slow down", errors=[{"reason": "rateLimitExceeded"}]),
             {"scope": "none", "retry": True}),
            (core.Forbidden("denied", errors=[{"reason": "forbidden"}]),
             {"scope": "provider", "stop": True}),
        ],
    )
    assert gcp.calls("insert"), "the kit launched through google-cloud-compute"
    assert gcp.instances() == []


def test_gcp_tpu_slices_meet_the_provider_contract(gcp) -> None:
    from google.api_core import exceptions as core
    from greenml_gcp import GCP

    job = greenml.Job(accelerator="TPU-v3", count=4, hours=10)  # one tpu-v3-8 slice
    check_provider(
        GCP,
        double=lambda: contextlib.nullcontext(job),
        errors=[
            (OperationFailed("create", "node", ["STOCKOUT"], ["There is no more capacity in "
                                                               "the zone"]), "zone"),
            (core.TooManyRequests("Quota limit 'TPUV3sPerProjectPerZoneForTPUAPI' has been "
                                  "exceeded. Limit: 0 in zone europe-west4-a."), "region"),
        ],
    )
    assert gcp.calls("tpu.create"), "the kit launched through google-cloud-tpu"
    assert gcp.tpu_nodes() == []
