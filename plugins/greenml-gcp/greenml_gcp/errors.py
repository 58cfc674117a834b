"""Reading Compute Engine errors: which failover scope each blocks, and whether to retry.

Two shapes reach ``classify``: HTTP errors raised by the client (``google.api_core``
exceptions carrying the status and ``error.errors[].reason``), and failed operations (the
insert was accepted, then its operation ended with ``error.errors[].code``, raised here as
``OperationFailed``). Codes are the ones Compute Engine documents in "Troubleshooting VM
creation" and its quota pages. Nothing here imports the SDK.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from greenml import GreenmlError, InputError
from greenml.provider import Failure

#: Operation error codes meaning "no capacity for this request in this zone right now".
STOCKOUT = {
    "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
    "UNSUPPORTED_OPERATION", "insufficientCapacity", "STOCKOUT",
}
#: Codes or reasons of exhausted quota (regional, unless the metric is global).
QUOTA = {"QUOTA_EXCEEDED", "quotaExceeded", "QUOTA_LIMIT_EXCEEDED"}
#: Throttling: the same call may succeed a little later.
THROTTLE = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED",
            "backendError", "RESOURCE_OPERATION_RATE_EXCEEDED"}
#: Quota metrics that hold for the whole project, in every region.
GLOBAL_QUOTA = re.compile(r"GPUS_ALL_REGIONS|gpus_all_regions|globally")
#: The Cloud TPU API's RESOURCE_EXHAUSTED wording: no slice capacity, or quota spent.
TPU_STOCKOUT = re.compile(r"no more capacity in the zone|insufficient (reserved )?capacity",
                          re.IGNORECASE)
TPU_QUOTA = re.compile(r"Quota limit '[^']+' has been exceeded", re.IGNORECASE)
#: 400 messages saying the zone lacks the machine or accelerator type asked for.
NOT_IN_ZONE = re.compile(r"does not exist in zone|not available in zone|is not supported in "
                         r"zone", re.IGNORECASE)


class OperationFailed(GreenmlError):
    """A Compute Engine operation ended with errors (e.g. the zone ran out of capacity)."""

    def __init__(self, kind: str, target: str, codes: Sequence[str],
                 messages: Sequence[str], http_status: int = 0) -> None:
        self.kind, self.target, self.http_status = kind, target, http_status
        self.codes, self.messages = tuple(codes), tuple(messages)
        pairs = zip(self.codes, self.messages, strict=False)
        detail = "; ".join(f"{c}: {m}" if m else c for c, m in pairs)
        super().__init__(f"{kind} {target} failed: {detail or 'no error detail'}")


class OperationTimeout(GreenmlError):
    """An operation was still running when its deadline passed."""

    def __init__(self, kind: str, target: str, waited_s: float) -> None:
        self.kind, self.target, self.waited_s = kind, target, waited_s
        super().__init__(f"{kind} {target} still not done after {waited_s:.0f} s")


class NotInZone(GreenmlError):
    """The zone does not offer the machine or accelerator type (checked before inserting)."""


class OfferMismatch(GreenmlError):
    """The machine type's built-in GPUs differ from what the catalog planned."""


class MissingProject(GreenmlError):
    """No Google Cloud project could be determined."""


def _http_reasons(error: BaseException) -> list[str]:
    reasons = []
    for item in getattr(error, "errors", None) or ():
        if isinstance(item, dict) and item.get("reason"):
            reasons.append(str(item["reason"]))
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        reasons.append(reason)
    return reasons


def _retry_after_s(error: BaseException) -> float | None:
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    try:
        value = headers.get("Retry-After")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _message(error: BaseException) -> str:
    return str(getattr(error, "message", "") or error).strip()


def _names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def classify(error: BaseException) -> Failure:
    """Compute Engine errors to failover scopes.

    Stockouts block the zone (the next zone of the region is tried); quota errors block the
    region, or the whole provider for a global metric such as GPUS_ALL_REGIONS; throttling
    and transient server errors are retried (with the same requestId); missing credentials,
    permissions or resources stop the launch with the reason.
    """
    if isinstance(error, OperationFailed):
        return _classify_operation(error)
    if isinstance(error, (NotInZone, OperationTimeout)):
        return Failure("zone", str(error), type(error).__name__)
    if isinstance(error, OfferMismatch):
        return Failure("offer", str(error), "OfferMismatch")
    if isinstance(error, (MissingProject, InputError)):
        return Failure("provider", str(error), type(error).__name__, stop=True)
    names = _names(error)
    if "GoogleAPICallError" in names:
        return _classify_http(error)
    if "GoogleAuthError" in names:
        return Failure("provider", f"{type(error).__name__}: Google Cloud credentials are "
                       "missing or were refused", type(error).__name__, stop=True)
    if names & {"ConnectionError", "TransportError", "Timeout", "ConnectTimeout"}:
        return Failure("provider", f"{type(error).__name__}: cannot reach Compute Engine",
                       type(error).__name__)
    return Failure("none", f"{type(error).__name__}: {error}", type(error).__name__,
                   stop=True)


def _classify_operation(error: OperationFailed) -> Failure:
    codes = set(error.codes)
    text = " ".join(error.messages)
    first = error.codes[0] if error.codes else "OPERATION_FAILED"
    reason = f"{first}: {error.messages[0] if error.messages else error}"
    if codes & QUOTA:
        code = next(c for c in error.codes if c in QUOTA)
        scope = "provider" if GLOBAL_QUOTA.search(text) else "region"
        return Failure(scope, reason, code)
    if codes & STOCKOUT:
        code = next(c for c in error.codes if c in STOCKOUT)
        return Failure("zone", reason, code)
    if codes & THROTTLE:
        # The requestId would replay this same failed operation: try the next zone instead.
        return Failure("zone", reason, first)
    return Failure("none", reason, first, stop=True)


def _classify_http(error: BaseException) -> Failure:
    status = int(getattr(error, "code", 0) or 0)
    reasons = _http_reasons(error)
    message = _message(error)
    code = reasons[0] if reasons else str(status)
    reason = f"{code} ({status}): {message}"
    if (set(reasons) & QUOTA or (status == 403 and "Quota '" in message)
            or TPU_QUOTA.search(message)):
        scope = "provider" if GLOBAL_QUOTA.search(message) else "region"
        return Failure(scope, reason, code)
    if TPU_STOCKOUT.search(message):
        return Failure("zone", reason, code)
    if set(reasons) & THROTTLE or status in (429, 500, 502, 503, 504):
        return Failure("none", f"{code} ({status}): throttled or unavailable", code,
                       retry=True, retry_after_s=_retry_after_s(error))
    if status == 400 and NOT_IN_ZONE.search(message):
        return Failure("zone", reason, code)
    if status in (401, 403):
        return Failure("provider", f"{code} ({status}): Compute Engine refused the request's "
                       f"credentials or permissions: {message}", code, stop=True)
    return Failure("none", reason, code, stop=True)
