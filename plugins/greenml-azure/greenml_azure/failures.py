"""Reading Azure errors: which scope a failure blocks, and whether to retry or stop.

The codes are ARM's and the Compute resource provider's (see "Troubleshoot common Azure
deployment errors" and "Resolve errors for SKU not available"). SDK-free: errors are read by
their attributes (``azure.core.exceptions.HttpResponseError``: ``error.code``,
``status_code``, ``response.headers``), so importing this module imports no Azure package.
"""

from __future__ import annotations

from typing import Any

from greenml import InputError
from greenml.provider import Failure, parse_retry_after

#: The size cannot be had in this location (or zone): another size may still fit the job.
SKU = {"SkuNotAvailable", "InvalidSkuForLocation"}
#: No capacity for the request in the region, or in the zone.
ALLOCATION = {"AllocationFailed", "OverconstrainedAllocationRequest",
              "SpotAllocationFailed"}
ZONAL = {"ZonalAllocationFailed", "OverconstrainedZonalAllocationRequest"}
QUOTA = {"QuotaExceeded", "SkuFamilyQuotaExceeded", "ResourceQuotaExceeded",
         "SubscriptionQuotaExceeded"}
#: The region is not open to this subscription, or policy forbids it, or the image is missing.
REGION = {"LocationNotAvailableForResourceType", "LocationNotAvailableForResourceGroup",
          "NoRegisteredProviderFound", "RequestDisallowedByPolicy", "PlatformImageNotFound",
          "DisallowedLocation", "LocationRequired"}
THROTTLE = {"TooManyRequests", "RetryableError", "SubscriptionRequestsThrottled",
            "ResourceCollectionRequestsThrottled", "ResourceRequestsThrottled",
            "AnotherOperationInProgress", "OperationPreempted"}
TRANSIENT = {"InternalServerError", "InternalExecutionError", "ServiceUnavailable",
             "GatewayTimeout", "InternalOperationError"}
#: ARM could not tell who is calling (HTTP 401): the token, so the credential, is wrong.
AUTHENTICATION = {"AuthenticationFailed", "InvalidAuthenticationToken",
                  "InvalidAuthenticationTokenTenant", "ExpiredAuthenticationToken",
                  "InvalidAuthenticationTokenAudience"}
#: ARM knows the caller, who may not do this (HTTP 403): a missing role assignment.
PERMISSION = {"AuthorizationFailed", "LinkedAuthorizationFailed"}
CREDENTIALS = AUTHENTICATION | PERMISSION
#: Raised by azure-identity / azure-core before any ARM call.
CREDENTIAL_ERRORS = {"ClientAuthenticationError", "CredentialUnavailableError"}
UNREACHABLE = {"ServiceRequestError", "ServiceResponseError", "ServiceRequestTimeoutError",
               "ServiceResponseTimeoutError"}


class OperationTimedOut(Exception):
    """A long-running operation did not finish within greenml's deadline."""

    code = "OperationTimedOut"

    def __init__(self, what: str, deadline_s: float) -> None:
        self.what, self.deadline_s = what, deadline_s
        super().__init__(f"{what} did not finish within {deadline_s:g} s (operation_timeout_s)")


class GrantRefused(Exception):
    """The credential may create a VM but not grant its identity the role it needs to delete
    itself (``gang.grant``): say which permission, and the way around it."""

    code = "AuthorizationFailed"

    def __init__(self, vm: str) -> None:
        super().__init__(
            f"AuthorizationFailed: the credential may not grant VM {vm} the role it needs to "
            "delete itself when its command exits (Microsoft.Authorization/roleAssignments/"
            "write): give the credential 'Role Based Access Control Administrator' or 'User "
            "Access Administrator' on the resource group, or launch with --keep (the VM "
            "then runs until greenml down)")


class SkuUnavailable(Exception):
    """The resource-SKU list says this size cannot be had here; nothing was created."""

    code = "SkuNotAvailable"

    def __init__(self, size: str, location: str, why: str, zone: str | None = None) -> None:
        self.size, self.location, self.zone = size, location, zone
        where = f"zone {zone} of {location}" if zone else location
        super().__init__(f"{size} is not available in {where} for this subscription ({why})")


def read_error(error: BaseException) -> tuple[str, str, int | None, float | None]:
    """(ARM error code, message, HTTP status, Retry-After seconds) of an SDK error."""
    body = getattr(error, "error", None)
    code = str(getattr(body, "code", "") or "")
    message = str(getattr(body, "message", "") or "")
    if not message:
        lines = str(getattr(error, "message", "") or error).strip().splitlines()
        message = lines[0] if lines else ""
    status = getattr(error, "status_code", None)
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    return code, message, status if isinstance(status, int) else None, _retry_after(headers)


def _retry_after(headers: Any) -> float | None:
    return parse_retry_after(headers.get("Retry-After") if hasattr(headers, "get") else None)


def first_sentence(message: str, limit: int = 240, enough: int = 60) -> str:
    """ARM messages run long; the first sentence or two (``enough`` characters) say what
    happened ("Allocation failed. We do not have sufficient capacity for ...")."""
    text = " ".join(message.split())
    cut = text.find(". ")
    while 0 < cut < enough:
        cut = text.find(". ", cut + 2)
    text = text[:cut + 1] if 0 < cut < limit else text
    return text if len(text) <= limit else text[:limit - 3] + "..."


def classify(error: BaseException) -> Failure:
    """An Azure error as a failover decision (scope, retry, stop)."""
    from greenml_azure.credentials import credential_problem, redact

    if isinstance(error, InputError):
        return Failure("provider", str(error), "InvalidSetting", stop=True)
    if isinstance(error, GrantRefused):
        return Failure("provider", str(error), error.code, stop=True)
    if isinstance(error, SkuUnavailable):
        return Failure("zone" if error.zone else "offer", f"SkuNotAvailable: {error}",
                       "SkuNotAvailable")
    if isinstance(error, OperationTimedOut):
        return Failure("region", f"OperationTimedOut: {error}", error.code)
    name = type(error).__name__
    code, message, status, retry_after = read_error(error)
    reason = redact(f"{code or status or name}: {first_sentence(message)}")
    if name in CREDENTIAL_ERRORS and not code:
        problem = credential_problem(error)
        # no answer from the token endpoint is the network's fault: other providers may work
        return Failure("provider", problem, name, stop=not problem.startswith("cannot reach"))
    if status == 429 or code in THROTTLE:
        return Failure("none", f"{code or 'TooManyRequests'}: throttled by Azure",
                       code or "TooManyRequests", retry=True, retry_after_s=retry_after)
    if code in SKU:
        return Failure("offer", reason, code)
    if code in ZONAL:
        return Failure("zone", reason, code)
    if code in ALLOCATION:
        return Failure("region", reason, code)
    if code in QUOTA or (code == "OperationNotAllowed" and "quota" in message.lower()):
        return Failure("region", reason, code)
    if code in REGION:
        return Failure("region", reason, code)
    if code in PERMISSION or (status == 403 and code not in REGION):
        return Failure("provider", f"{code or status}: the credential lacks permission for "
                       f"this: {redact(first_sentence(message))} (give its identity a role "
                       "such as Contributor on the subscription or resource group)",
                       code or name, stop=True)
    if code in AUTHENTICATION or status == 401:
        return Failure("provider", f"{code or status}: Azure Resource Manager rejected the "
                       f"credential's token: {redact(first_sentence(message))}", code or name,
                       stop=True)
    if code in TRANSIENT or (status is not None and status >= 500):
        return Failure("none", reason, code or str(status), retry=True,
                       retry_after_s=retry_after)
    if name in UNREACHABLE:
        from greenml_azure.credentials import arm_unreachable

        return Failure("provider", arm_unreachable(name), name)
    if code or status:
        return Failure("none", reason, code or str(status), stop=True)
    return Failure("none", redact(f"{name}: {first_sentence(str(error))}"), name, stop=True)
