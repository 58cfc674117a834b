"""Failure classification: each Compute Engine error shape to the scope it blocks."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as core
from google.auth import exceptions as auth
from greenml_gcp.errors import (
    MissingProject,
    NotInZone,
    OfferMismatch,
    OperationFailed,
    OperationTimeout,
    classify,
)

import greenml


def http(status: int, reason: str, message: str = "") -> core.GoogleAPICallError:
    """The exception the REST client raises for a Google error body (from_http_status is
    what from_http_response calls with the body's errors)."""
    return core.from_http_status(status, message or reason, errors=[
        {"domain": "global", "reason": reason, "message": message or reason}])


def failed(code: str, message: str = "") -> OperationFailed:
    return OperationFailed("insert", "vm-0", [code], [message or code], 503)


CASES = {
    "stockout": (failed("ZONE_RESOURCE_POOL_EXHAUSTED"), "zone", False, False),
    "stockout with details": (failed("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"), "zone",
                              False, False),
    "preempted while created": (failed("UNSUPPORTED_OPERATION"), "zone", False, False),
    "regional quota (operation)": (failed("QUOTA_EXCEEDED", "Quota 'NVIDIA_A100_GPUS' "
                                          "exceeded.  Limit: 0.0 in region us-west1."),
                                   "region", False, False),
    "global quota (operation)": (failed("QUOTA_EXCEEDED", "Quota 'GPUS_ALL_REGIONS' "
                                        "exceeded.  Limit: 0.0 globally."),
                                 "provider", False, False),
    "regional quota (403)": (http(403, "quotaExceeded", "Quota 'CPUS' exceeded.  Limit: 24.0 "
                                  "in region us-west1."), "region", False, False),
    "global quota (403)": (http(403, "quotaExceeded", "Quota 'GPUS_ALL_REGIONS' exceeded."),
                           "provider", False, False),
    "rate limit (429)": (http(429, "rateLimitExceeded"), "none", True, False),
    "rate limit (403)": (http(403, "rateLimitExceeded"), "none", True, False),
    "unavailable (503)": (http(503, "backendError"), "none", True, False),
    "operation rate inside an operation": (failed("RESOURCE_OPERATION_RATE_EXCEEDED"), "zone",
                                           False, False),
    "permission (403)": (http(403, "forbidden", "Required 'compute.instances.create' "
                              "permission"), "provider", False, True),
    "unauthenticated (401)": (http(401, "authError"), "provider", False, True),
    "not found (404)": (http(404, "notFound", "The resource 'projects/x' was not found"),
                        "none", False, True),
    "bad request (400)": (http(400, "invalid", "Invalid value for field 'resource.name'"),
                          "none", False, True),
    "type missing in zone (400)": (http(400, "invalid", "Machine type with name 'a2-highgpu-1g'"
                                        " does not exist in zone 'us-west1-a'."),
                                   "zone", False, False),
    "unknown operation error": (failed("RESOURCE_NOT_FOUND"), "none", False, True),
    "not in zone": (NotInZone("machine type x is not offered in z"), "zone", False, False),
    "operation deadline": (OperationTimeout("insert", "vm-0", 600), "zone", False, False),
    "plan mismatch": (OfferMismatch("a2-highgpu-2g has 2 GPUs"), "offer", False, False),
    "no project": (MissingProject("no project"), "provider", False, True),
    "bad setting": (greenml.InputError("boot_disk_gb", "bad"), "provider", False, True),
    "no credentials": (auth.DefaultCredentialsError("none found"), "provider", False, True),
    "refused credentials": (auth.RefreshError("invalid_grant"), "provider", False, True),
    "unreachable": (ConnectionError("refused"), "provider", False, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_classify(case: str) -> None:
    error, scope, retry, stop = CASES[case]
    failure = classify(error)
    assert (failure.scope, failure.retry, failure.stop) == (scope, retry, stop), failure
    assert failure.reason


def test_codes_and_reasons_are_kept() -> None:
    assert classify(failed("ZONE_RESOURCE_POOL_EXHAUSTED")).code == (
        "ZONE_RESOURCE_POOL_EXHAUSTED")
    assert classify(http(403, "quotaExceeded", "Quota 'CPUS' exceeded.")).code == (
        "quotaExceeded")
    assert "compute.instances.create" in classify(
        http(403, "forbidden", "Required 'compute.instances.create' permission")).reason


def test_retry_after_is_read_from_the_response() -> None:
    import requests

    response = requests.Response()
    response.status_code, response.headers["Retry-After"] = 429, "7"
    error = core.from_http_status(429, "slow down", response=response,
                                  errors=[{"reason": "rateLimitExceeded"}])
    assert classify(error).retry_after_s == 7.0


@pytest.mark.parametrize(("message", "code", "scope"), [
    ('There is no more capacity in the zone "us-central1-b"; you can try in another zone where '
     "Cloud TPU Nodes are offered (see https://cloud.google.com/tpu/docs/regions)",
     "STOCKOUT", "zone"),
    ("Insufficient reserved capacity. Contact customer support to increase your reservation.",
     "STOCKOUT", "zone"),
    ("Quota limit 'TPUV3sPerProjectPerZoneForTPUAPI' has been exceeded. Limit: 8 in zone "
     "europe-west4-a.", "QUOTA_EXCEEDED", "region"),
    ("Cloud TPU received a bad request", "RESOURCE_EXHAUSTED", "none"),
])
def test_tpu_operation_errors_read_as_their_words_say(message, code, scope) -> None:
    """The TPU API ends an operation with google.rpc code 8 (RESOURCE_EXHAUSTED) for a
    stockout and for a spent quota alike; only the message tells them apart."""
    from greenml_gcp.tpu import _code

    assert _code(8, message) == code
    assert classify(OperationFailed("create", "node", [code], [message])).scope == scope

