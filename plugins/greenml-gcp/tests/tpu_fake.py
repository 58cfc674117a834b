"""The Cloud TPU API (v2) beside gce_fake's Compute Engine, on the same local server.

The part greenml uses, as Google documents it, for the real ``google.cloud.tpu_v2.TpuClient``
(REST transport):

    GET    /v2/projects/{p}/locations/{z}/acceleratorTypes/{t}
    POST   /v2/projects/{p}/locations/{z}/nodes?nodeId={n}      -> a long-running operation
    GET    /v2/projects/{p}/locations/{z}/nodes[/{n}]
    DELETE /v2/projects/{p}/locations/{z}/nodes/{n}             -> a long-running operation
    GET    /v2/projects/{p}/locations/{z}/operations/{op}

It refuses what the API refuses, with the ``google.rpc.Status`` error body
``{"error": {"code", "message", "status"}}``: an unknown project or location, a slice type
the zone does not offer, a node id that is not RFC 1035, a duplicate node id (409
ALREADY_EXISTS), no runtime version, bad labels. Operations finish on the second look. Which
zones offer which slice types follows the Cloud TPU documentation's "TPU regions and zones"
(2025) for the regions in gce_world.json.

Steering (through FakeCompute): ``inject_tpu("stockout" | "quota")``.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

#: zone -> the slice types it offers.
TPU_ZONES = {
    "europe-west4-a": {"v2-8", "v2-32", "v3-8", "v3-32", "v3-64"},
    "us-central1-a": {"v3-8", "v3-32"},
    "us-central1-b": {"v2-8", "v3-8"},
    "us-central1-c": {"v2-8"},
    "us-central1-f": {"v2-8", "v3-8"},
}
_ROUTE = re.compile(
    r"^/v2/projects/(?P<project>[^/]+)/locations/(?P<zone>[^/]+)"
    r"/(?P<collection>nodes|operations|acceleratorTypes)(?:/(?P<name>[^/:]+))?$")
_NODE_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS",
           429: "RESOURCE_EXHAUSTED", 405: "UNIMPLEMENTED"}
STOCKOUT_MESSAGE = ('There is no more capacity in the zone "{zone}"; you can try in another '
                    "zone where Cloud TPU Nodes are offered (see "
                    "https://cloud.google.com/tpu/docs/regions) [EID: 0x5b3e]")
QUOTA_MESSAGE = ("Quota limit 'TPUV3sPerProjectPerZoneForTPUAPI' has been exceeded. Limit: 0 "
                 "in zone {zone}.")


class TpuError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.status, "message": self.message,
                          "status": _STATUS.get(self.status, "UNKNOWN")}}


class FakeTpu:
    """TPU nodes and their operations, for one project; the caller holds the lock."""

    def __init__(self, project: str, zones: set[str],
                 fault: Callable[[str], str | None] = lambda zone: None) -> None:
        self.project, self.zones = project, zones | set(TPU_ZONES)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        #: The injected fault a create in a zone meets: "stockout", "quota" or None.
        self.fault = fault
        self._ids = itertools.count(1)

    def handle(self, verb: str, path: str, query: Mapping[str, str], payload: Any,
               call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        route = _ROUTE.match(path)
        if route is None:
            raise TpuError(404, f"Not Found: {verb} {path}")
        zone, collection, name = route["zone"], route["collection"], route["name"]
        call.update(zone=zone, name=name or "")
        if route["project"] != self.project:
            raise TpuError(404, f"Project {route['project']!r} not found")
        if zone not in self.zones:
            raise TpuError(404, f"Location 'projects/{self.project}/locations/{zone}' was "
                           "not found")
        parent = f"projects/{self.project}/locations/{zone}"
        if collection == "acceleratorTypes" and verb == "GET" and name:
            call["method"] = "tpu.acceleratorTypes.get"
            if name not in TPU_ZONES.get(zone, ()):
                raise TpuError(404, f"Resource '{parent}/acceleratorTypes/{name}' was not "
                               "found")
            return 200, {"name": f"{parent}/acceleratorTypes/{name}", "type": name}
        if collection == "operations" and verb == "GET" and name:
            call["method"] = "tpu.operations.get"
            return 200, self._operation(f"{parent}/operations/{name}")
        if collection == "nodes" and verb == "POST" and not name:
            call["method"] = "tpu.create"
            call["name"] = query.get("nodeId", "")
            return 200, self._create(parent, zone, query.get("nodeId", ""), payload or {})
        if collection == "nodes" and verb == "GET" and not name:
            call["method"] = "tpu.list"
            return 200, {"nodes": [copy.deepcopy(n) for key, n in sorted(self.nodes.items())
                                   if key.startswith(f"{parent}/nodes/")]}
        if collection == "nodes" and verb == "GET":
            call["method"] = "tpu.get"
            return 200, copy.deepcopy(self._node(f"{parent}/nodes/{name}"))
        if collection == "nodes" and verb == "DELETE" and name:
            call["method"] = "tpu.delete"
            node = self._node(f"{parent}/nodes/{name}")
            node["state"] = "DELETING"
            return 200, self._new_operation(parent, node["name"], "delete", None)
        raise TpuError(405, f"{verb} not allowed on {path}")

    def _create(self, parent: str, zone: str, node_id: str, body: Mapping[str, Any]
                ) -> dict[str, Any]:
        if not _NODE_ID.match(node_id):
            raise TpuError(400, f"Invalid node id {node_id!r}: it must match "
                           f"{_NODE_ID.pattern}")
        full = f"{parent}/nodes/{node_id}"
        if full in self.nodes:
            raise TpuError(409, f"Resource '{full}' already exists")
        accelerator = body.get("acceleratorType", "")
        if accelerator not in TPU_ZONES.get(zone, ()):
            raise TpuError(400, f"Accelerator type {accelerator!r} is not available in zone "
                           f"{zone!r}")
        if not body.get("runtimeVersion"):
            raise TpuError(400, "runtime_version: must be specified")
        for key, value in (body.get("labels") or {}).items():
            if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(str(value)):
                raise TpuError(400, f"Invalid label {key}={value!r}")
        fault = self.fault(zone)
        if fault == "quota":
            raise TpuError(429, QUOTA_MESSAGE.format(zone=zone))
        self.nodes[full] = {
            "name": full, "acceleratorType": accelerator, "state": "CREATING",
            "runtimeVersion": body["runtimeVersion"], "labels": dict(body.get("labels") or {}),
            "metadata": dict(body.get("metadata") or {}),
            "schedulingConfig": dict(body.get("schedulingConfig") or {}),
            "networkConfig": dict(body.get("networkConfig") or {}),
            "apiVersion": "V2", "health": "HEALTHY",
        }
        error = ({"code": 8, "message": STOCKOUT_MESSAGE.format(zone=zone)}
                 if fault == "stockout" else None)
        return self._new_operation(parent, full, "create", error)

    def _node(self, full: str) -> dict[str, Any]:
        node = self.nodes.get(full)
        if node is None:
            raise TpuError(404, f"Resource '{full}' was not found")
        return node

    def _new_operation(self, parent: str, target: str, verb: str,
                       error: dict[str, Any] | None) -> dict[str, Any]:
        name = f"{parent}/operations/operation-{next(self._ids)}-tpu"
        self.operations[name] = {"target": target, "verb": verb, "error": error, "looks": 0}
        return self._operation_json(name, done=False)

    def _operation(self, name: str) -> dict[str, Any]:
        record = self.operations.get(name)
        if record is None:
            raise TpuError(404, f"Operation '{name}' was not found")
        record["looks"] += 1
        if record["looks"] >= 2 and not record.get("done"):
            record["done"] = True
            node = self.nodes.get(record["target"])
            if record["verb"] == "delete" or record["error"]:
                self.nodes.pop(record["target"], None)  # a stocked-out create leaves nothing
            elif node is not None:
                node["state"] = "READY"
        return self._operation_json(name, done=bool(record.get("done")))

    def _operation_json(self, name: str, done: bool) -> dict[str, Any]:
        record = self.operations[name]
        out: dict[str, Any] = {
            "name": name,
            "metadata": {"@type": "type.googleapis.com/google.cloud.tpu.v2.OperationMetadata",
                         "target": record["target"], "verb": record["verb"],
                         "apiVersion": "v2"},
            "done": done,
        }
        if done and record["error"]:
            out["error"] = record["error"]
        return out
