"""A local Example Cloud: the API's paths, JSON and errors over real HTTP on 127.0.0.1.

It refuses what the real service would (a bad token, an unknown region or instance type, an
idempotency key reused with another body) and can be told to fail the next creates. The
server (start/stop, ``url``, TLS if asked), the injected faults and the call log come from
greenml's ``FakeServer``: the double only says how its API answers.
"""

from __future__ import annotations

import itertools
import json
import re
from email.message import Message
from typing import Any

from greenml.testing.fakeserver import FakeServer, Reply, split_target

REGIONS = {"example-north-1"}
INSTANCE_TYPES = {"ex.a100x8", "ex.h100x8"}
PATH = re.compile(r"^/v1/regions/(?P<region>[^/]+)/instances(?:/(?P<id>[^/]+))?$")


class ExampleCloudFake(FakeServer):
    """Start with ``with ExampleCloudFake() as fake:``; ``fake.url`` and ``fake.token``."""

    token = "example-test-token-do-not-print"

    def __init__(self) -> None:
        super().__init__()
        self.instances: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def inject(self, status: int, code: str, times: int = 1) -> None:
        """Fail the next ``times`` creates with this HTTP status and error code."""
        self.add_rule("create", times=times, status=status, code=code)

    def running(self) -> list[dict[str, Any]]:
        with self.lock:
            return [i for i in self.instances.values() if i["state"] == "running"]

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> Reply:
        """Every request: logged (``calls()``), answered, sent as JSON."""
        path, query = split_target(target)
        self.record({"method": verb, "path": path, "query": query})
        status, answer = self._answer(verb, path, query, headers, body)
        data = b"" if answer is None else json.dumps(answer).encode()
        return status, {"Content-Type": "application/json"}, data

    def _answer(self, method: str, path: str, query: dict[str, str], headers: Message,
                body: bytes) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            if headers.get("Authorization") != f"Bearer {self.token}":
                return _error(401, "Unauthorized", "missing or wrong token")
            match = PATH.match(path)
            if not match:
                return _error(404, "NotFound", f"no such path {path}")
            region, instance_id = match["region"], match["id"]
            if region not in REGIONS:
                return _error(404, "RegionNotFound", f"unknown region {region}")
            if method == "POST" and instance_id is None:
                return self._create(region, json.loads(body or b"{}"),
                                    headers.get("Idempotency-Key", ""))
            if method == "GET" and instance_id is None:
                key, _, value = query.get("tag", "=").partition("=")
                return 200, {"instances": [
                    i for i in self.instances.values() if i["region"] == region
                    and i["state"] == "running" and i["tags"].get(key) == value]}
            if method == "DELETE" and instance_id is not None:
                found = self.instances.get(instance_id)
                if found is None or found["state"] != "running" or found["region"] != region:
                    return _error(404, "NotFound", f"no instance {instance_id}")
                found["state"] = "terminated"
                return 204, None
            return _error(405, "MethodNotAllowed", method)

    def _create(self, region: str, body: dict[str, Any], key: str
                ) -> tuple[int, dict[str, Any] | None]:
        if key in self.keys:
            first_body, instance_id = self.keys[key][1], self.keys[key][0]
            if first_body != body:
                return _error(422, "IdempotencyKeyReused", "the key was used with another body")
            return 200, self.instances[instance_id]
        fault = self.fire("create", {})
        if fault is not None:
            return _error(fault.status, fault.detail["code"], "injected")
        if body.get("instance_type") not in INSTANCE_TYPES:
            return _error(400, "InvalidInstanceType", f"unknown {body.get('instance_type')}")
        if not isinstance(body.get("name"), str) or not isinstance(body.get("tags"), dict):
            return _error(400, "InvalidRequest", "name and tags are required")
        instance_id = f"ex-{next(self._ids):05d}"
        self.instances[instance_id] = {"id": instance_id, "region": region, "state": "running",
                                       **{k: body[k] for k in ("name", "instance_type", "tags")}}
        if key:
            self.keys[key] = (instance_id, body)
        return 201, self.instances[instance_id]


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}
