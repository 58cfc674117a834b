"""greenml-example-provider: a complete, minimal greenml provider plugin.

"Example Cloud" is fictional: its region, prices and PUE are example data, not real, and say
so in their source; its grid intensity is greenml's figure for the region's ``grid_zone``, as
for every provider. The provider plans from two package-data files
(``data/regions.csv``, ``data/offers.csv``) and launches through Example Cloud's small JSON
REST API with the standard library, so the whole plugin is this module, its data and its
``pyproject.toml``. Constructing it and planning with it do no I/O beyond reading the data.

The API: ``POST /v1/regions/{region}/instances`` (an ``Idempotency-Key`` header makes a
repeated create return the first instance), ``GET /v1/regions/{region}/instances?tag=K=V``
and ``DELETE /v1/regions/{region}/instances/{id}``; errors are
``{"error": {"code": ..., "message": ...}}`` with an HTTP status.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import greenml
from greenml.provider import TAG_LAUNCH_ID, Capability

#: Where the API is, and the token that opens it (a local test double in the tests).
ENDPOINT_ENV = "EXAMPLE_CLOUD_URL"
TOKEN_ENV = "EXAMPLE_CLOUD_TOKEN"


class ExampleCloudError(Exception):
    """An error reply of the API: its HTTP status and error code."""

    def __init__(self, status: int, code: str, message: str = "",
                 retry_after_s: float | None = None) -> None:
        self.status, self.code, self.retry_after_s = status, code, retry_after_s
        super().__init__(f"{code} (HTTP {status}): {message or code}")


class ExampleCloud(greenml.provider.CatalogProvider):
    """Example Cloud: one region of example data, and launching through its REST API."""

    name = "example"
    display_name = "Example Cloud (fictional)"
    data_package = "greenml_example.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.GANG})

    def check_credentials(self) -> tuple[bool, str]:
        missing = [var for var in (ENDPOINT_ENV, TOKEN_ENV) if not os.environ.get(var)]
        if missing:
            return False, f"Example Cloud is not configured: set {' and '.join(missing)}"
        return True, ""

    def create_instance(self, request: greenml.provider.InstanceRequest,
                        journal: greenml.provider.Journal) -> greenml.Resource:
        region = request.option.region.name
        body = {"name": request.instance_name, "instance_type": request.option.instance_type,
                "tags": dict(request.tags), "user_data": request.run}
        made = _call("POST", f"/v1/regions/{region}/instances", body,
                     idempotency_key=request.token)
        return _resource(made, request.launch_id)

    def terminate(self, resources: Sequence[greenml.Resource]) -> None:
        for r in resources:
            try:
                _call("DELETE", f"/v1/regions/{r.region}/instances/{r.resource_id}")
            except ExampleCloudError as exc:
                if exc.status != 404:  # gone already is fine
                    raise

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[greenml.Resource]:
        from urllib.parse import quote

        tag = quote(f"{TAG_LAUNCH_ID}={launch_id}")
        return [_resource(i, launch_id) for region in regions
                for i in _call("GET", f"/v1/regions/{region}/instances?tag={tag}")["instances"]]

    def classify(self, error: BaseException) -> greenml.provider.Failure:
        if isinstance(error, ExampleCloudError):
            if error.status == 429 or error.status >= 500:
                return greenml.provider.Failure("none", str(error), error.code, retry=True,
                                       retry_after_s=error.retry_after_s)
            if error.code == "NoCapacity":
                return greenml.provider.Failure("offer", str(error), error.code)
            if error.code == "QuotaExceeded":
                return greenml.provider.Failure("region", str(error), error.code)
            if error.status in (401, 403):
                return greenml.provider.Failure("provider", str(error), error.code, stop=True)
            return greenml.provider.Failure("none", str(error), error.code, stop=True)
        if isinstance(error, OSError):  # urllib's URLError included: the API is unreachable
            return greenml.provider.Failure("provider", f"cannot reach Example Cloud: {error}",
                                   type(error).__name__)
        return greenml.provider.Failure("none", f"{type(error).__name__}: {error}", stop=True)

    def describe(self, request: greenml.provider.InstanceRequest) -> str:
        o = request.option
        return (f"example: POST /v1/regions/{o.region.name}/instances "
                f"{o.offer.instance_type} named {request.instance_name!r}, "
                f"tags {dict(sorted(request.tags.items()))}")


def _call(method: str, path: str, body: dict[str, Any] | None = None,
          idempotency_key: str = "") -> dict[str, Any]:
    """One API call; an error reply becomes ExampleCloudError. The token is never shown."""
    import urllib.error
    import urllib.request

    headers = {"Authorization": f"Bearer {os.environ.get(TOKEN_ENV, '')}",
               "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(
        os.environ.get(ENDPOINT_ENV, "").rstrip("/") + path, method=method, headers=headers,
        data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            text = reply.read()
    except urllib.error.HTTPError as reply:
        try:
            error = json.loads(reply.read() or b"{}").get("error", {})
        except ValueError:
            error = {}
        retry_after = reply.headers.get("Retry-After")
        raise ExampleCloudError(reply.code, error.get("code", "HTTPError"),
                                error.get("message", ""),
                                float(retry_after) if retry_after else None) from None
    return json.loads(text) if text else {}


def _resource(instance: dict[str, Any], launch_id: str) -> greenml.Resource:
    return greenml.Resource("example", instance["region"], instance["id"], "instance",
                            name=instance["name"], launch_id=launch_id, state=instance["state"])


@greenml.hookimpl
def greenml_providers() -> list[greenml.provider.Provider]:
    return [ExampleCloud()]
