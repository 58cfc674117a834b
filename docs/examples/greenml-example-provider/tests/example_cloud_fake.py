"""A local Example Cloud: the API's paths, JSON and errors over real HTTP on 127.0.0.1.

It refuses what the real service would (a bad token, an unknown region or instance type, an
idempotency key reused with another body) and can be told to fail the next creates.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REGIONS = {"example-north-1"}
INSTANCE_TYPES = {"ex.a100x8", "ex.h100x8"}
PATH = re.compile(r"^/v1/regions/(?P<region>[^/]+)/instances(?:/(?P<id>[^/]+))?$")


class ExampleCloudFake:
    """Start with ``with ExampleCloudFake() as fake:``; ``fake.url`` and ``fake.token``."""

    token = "example-test-token-do-not-print"

    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self.faults: list[tuple[int, str]] = []
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ExampleCloudFake:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def inject(self, status: int, code: str, times: int = 1) -> None:
        """Fail the next ``times`` creates with this HTTP status and error code."""
        with self.lock:
            self.faults += [(status, code)] * times

    def running(self) -> list[dict[str, Any]]:
        with self.lock:
            return [i for i in self.instances.values() if i["state"] == "running"]

    def handle(self, method: str, url: str, headers: Any, body: bytes
               ) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            self.calls.append((method, url))
            if headers.get("Authorization") != f"Bearer {self.token}":
                return _error(401, "Unauthorized", "missing or wrong token")
            parts = urlsplit(url)
            match = PATH.match(parts.path)
            if not match:
                return _error(404, "NotFound", f"no such path {parts.path}")
            region, instance_id = match["region"], match["id"]
            if region not in REGIONS:
                return _error(404, "RegionNotFound", f"unknown region {region}")
            if method == "POST" and instance_id is None:
                return self._create(region, json.loads(body or b"{}"),
                                    headers.get("Idempotency-Key", ""))
            if method == "GET" and instance_id is None:
                key, _, value = parse_qs(parts.query).get("tag", ["="])[0].partition("=")
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
        if self.faults:
            return _error(*self.faults.pop(0), "injected")
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


def _handler(fake: ExampleCloudFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, reply = fake.handle(self.command, self.path, self.headers,
                                        self.rfile.read(length))
            data = b"" if reply is None else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
