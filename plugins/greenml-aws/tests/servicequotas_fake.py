"""AWS Service Quotas for the EC2 front (aws_fake), in the service's documented JSON shape.

moto 5.x serves Service Quotas only for VPC. The front answers ``ListServiceQuotas`` and
``GetServiceQuota`` (JSON 1.1, ``X-Amz-Target: ServiceQuotasV20190624.<Action>``) itself,
from the quotas a test sets per region; every region also holds EC2's Standard on-demand
quota (no GPUs), so a list is never empty. Pages hold ``page_size`` quotas (``NextToken``).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from typing import Any

ACCOUNT = "123456789012"
#: EC2's Standard on-demand vCPU quota, present in every region with its default value.
STANDARD = ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
            5.0)

_Response = tuple[int, list[tuple[str, str]], bytes]


class ServiceQuotas:
    """The quotas the fake holds: (region, service code, quota code) -> (name, value)."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self._lock = threading.Lock()
        self._quotas: dict[tuple[str, str, str], tuple[str, float]] = {}

    def clear(self) -> None:
        with self._lock:
            self._quotas.clear()

    def set(self, region: str, code: str, name: str, value: float,
            service: str = "ec2") -> None:
        with self._lock:
            self._quotas[(region, service, code)] = (name, float(value))

    def answer(self, call: Mapping[str, Any]) -> _Response:
        """The answer to one Service Quotas request (``call`` as aws_fake decodes it)."""
        region, action = str(call["region"]), str(call["action"])
        params = call["params"] if isinstance(call.get("params"), dict) else {}
        service = str(params.get("ServiceCode", ""))
        held = self._held(region, service)
        if action == "ListServiceQuotas":
            if service != "ec2" and not held:
                return _error("NoSuchResourceException",
                              f"The request failed because the specified service {service} "
                              "does not exist.")
            start = int(params.get("NextToken") or 0)
            size = min(int(params.get("MaxResults") or self.page_size), self.page_size)
            page = held[start:start + size]
            body: dict[str, Any] = {"Quotas": page}
            if start + size < len(held):
                body["NextToken"] = str(start + size)
            return _ok(body)
        if action == "GetServiceQuota":
            code = str(params.get("QuotaCode", ""))
            found = [q for q in held if q["QuotaCode"] == code]
            if not found:
                return _error("NoSuchResourceException",
                              f"The request failed because the specified quota {code} "
                              "does not exist.")
            return _ok({"Quota": found[0]})
        return _error("UnknownOperationException", f"{action} is not served by the fake")

    def _held(self, region: str, service: str) -> list[dict[str, Any]]:
        with self._lock:
            quotas = {code: value for (r, s, code), value in self._quotas.items()
                      if r == region and s == service}
        if service == "ec2":
            quotas.setdefault(STANDARD[0], STANDARD[1:])
        return [_quota(region, service, code, name, value)
                for code, (name, value) in sorted(quotas.items())]


def _quota(region: str, service: str, code: str, name: str, value: float) -> dict[str, Any]:
    """A ``ServiceQuota`` as the service returns it."""
    return {
        "ServiceCode": service, "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{ACCOUNT}:{service}/{code}",
        "QuotaCode": code, "QuotaName": name, "Value": value, "Unit": "None",
        "Adjustable": True, "GlobalQuota": False,
        "UsageMetric": {"MetricNamespace": "AWS/Usage", "MetricName": "ResourceCount",
                        "MetricDimensions": {"Class": "Standard/OnDemand", "Resource": "vCPU",
                                             "Service": "EC2", "Type": "Resource"},
                        "MetricStatisticRecommendation": "Maximum"},
        "QuotaAppliedAtLevel": "ACCOUNT",
    }


def _ok(body: Mapping[str, Any]) -> _Response:
    return 200, [("Content-Type", "application/x-amz-json-1.1"),
                 ("x-amzn-RequestId", str(uuid.uuid4()))], json.dumps(body).encode()


def _error(code: str, message: str, status: int = 400) -> _Response:
    return status, [("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-RequestId", str(uuid.uuid4()))], \
        json.dumps({"__type": code, "message": message}).encode()
