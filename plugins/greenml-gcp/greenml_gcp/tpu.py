"""Launching Cloud TPU VMs through google-cloud-tpu (``tpu_v2``, REST transport).

A TPU slice is one node of the Cloud TPU API, however many hosts it spans, so one launch of a
TPU option creates one node, zone by zone like a Compute Engine VM. The node's name comes
from the request's token, which makes a retried create meet its own node (409) instead of
making a second one: the v2 API has no requestId. Errors are read by ``errors.classify``,
with the TPU API's own stockout wording. ``GREENML_GCP_ENDPOINT`` points this client at the
same stand-in as Compute Engine's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from greenml.provider import TAG_LAUNCH_ID, InstanceRequest, Resource
from greenml_gcp import spec
from greenml_gcp.clients import GoogleClients, project
from greenml_gcp.errors import (
    TPU_QUOTA,
    TPU_STOCKOUT,
    NotInZone,
    OperationFailed,
    OperationTimeout,
)
from greenml_gcp.settings import GCPSettings

#: TPU operations are polled after 0.25 s, then ever less often, at most every 5 s: slices
#: take minutes to create, a refusal comes at once.
FIRST_POLL_S, MAX_POLL_S = 0.25, 5.0
#: google.rpc.Code numbers an operation's error may carry, as the names classify reads.
RPC_CODES = {3: "INVALID_ARGUMENT", 5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED",
             8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 13: "INTERNAL",
             14: "UNAVAILABLE"}


class CloudTPU:
    """A launch's TPU slices, through the clients ``clients`` keeps (its ``tpu`` client)."""

    def __init__(self, clients: GoogleClients) -> None:
        self.clients = clients

    def create(self, request: InstanceRequest, settings: GCPSettings) -> Resource:
        """Create the slice in ``request.zone`` and wait for it (bounded by
        ``operation_timeout_s``); a retry with the same token returns the node it made."""
        from google.api_core import exceptions as core_exceptions
        from google.cloud import tpu_v2

        chosen, zone = project(settings.project), request.zone or ""
        name = spec.instance_name(request)
        self._check_zone_offers(chosen, zone, spec.tpu_type(request.option))
        self.clients.used(chosen)
        node = tpu_v2.Node.from_json(json.dumps(spec.tpu_node_body(request, settings)))
        try:
            operation = self.clients.client("tpu").create_node(
                parent=f"projects/{chosen}/locations/{zone}", node_id=name, node=node)
        except core_exceptions.Conflict:
            found = self._get_node(spec.node_path(chosen, zone, name))
            if not spec.made_by(found, request):
                raise  # the name belongs to someone else's node
            return _resource(found, request.launch_id)  # ours, from before
        self.wait(operation.operation.name, settings.operation_timeout_s, "create", name)
        found = self._get_node(spec.node_path(chosen, zone, name))
        if found is None:
            raise OperationFailed("create", name, ["RESOURCE_NOT_FOUND"],
                                  ["the TPU node was gone right after its create succeeded"])
        return _resource(found, request.launch_id)

    def _check_zone_offers(self, project_id: str, zone: str, accelerator_type: str) -> None:
        """Refuse early, as a zone-scoped failure, when the zone has no such slice type (TPU
        generations live in a few zones of a region); looked up once."""
        from google.api_core import exceptions as core_exceptions

        key = (project_id, zone, "tpu_accelerator_types", accelerator_type)
        asked, known = self.clients.known_offer(key)
        if not asked:
            path = f"projects/{project_id}/locations/{zone}/acceleratorTypes/{accelerator_type}"
            try:
                self.clients.client("tpu").get_accelerator_type(name=path)
                known = True
            except core_exceptions.NotFound:
                known = False
            self.clients.remember_offer(key, known)
        if not known:
            raise NotInZone(f"TPU type {accelerator_type} is not offered in {zone}")

    def wait(self, operation: str, deadline_s: float, kind: str, target: str) -> None:
        """Poll a TPU operation until done or ``deadline_s``; raise OperationFailed on an
        error."""
        from google.api_core import exceptions as core_exceptions
        from google.longrunning import operations_pb2

        started, pause = time.monotonic(), FIRST_POLL_S
        while True:
            try:
                result = self.clients.client("tpu").get_operation(
                    request=operations_pb2.GetOperationRequest(name=operation))
            except (core_exceptions.ServiceUnavailable, core_exceptions.TooManyRequests):
                result = None
            if result is not None and result.done:
                break
            if time.monotonic() - started >= deadline_s:
                raise OperationTimeout(kind, target, time.monotonic() - started)
            time.sleep(pause)
            pause = min(MAX_POLL_S, pause * 2)
        if result.HasField("error") and result.error.code:
            raise OperationFailed(kind, target, [_code(result.error.code, result.error.message)],
                                  [result.error.message])

    def _get_node(self, path: str) -> Any:
        from google.api_core import exceptions as core_exceptions

        try:
            return self.clients.client("tpu").get_node(name=path)
        except core_exceptions.NotFound:
            return None

    def find(self, launch_id: str, zones: Sequence[str],
             projects: Sequence[str]) -> list[Resource]:
        """Every TPU node labelled with ``launch_id`` in ``zones`` of ``projects``."""
        from google.api_core import exceptions as core_exceptions

        label = spec.label_value(launch_id)
        found = []
        for project_id in projects:
            for zone in zones:
                try:
                    nodes = list(self.clients.client("tpu").list_nodes(
                        parent=f"projects/{project_id}/locations/{zone}"))
                except (core_exceptions.NotFound, core_exceptions.BadRequest):
                    continue  # no such project, or no TPUs in this zone: nothing of ours
                found += [_resource(n, launch_id) for n in nodes
                          if dict(n.labels).get(TAG_LAUNCH_ID) == label]
        return found

    def terminate(self, paths: Sequence[str], deadline_s: float) -> None:
        """Delete these nodes and wait for the deletions; gone already is fine."""
        from google.api_core import exceptions as core_exceptions

        pending = []
        for path in paths:
            try:
                operation = self.clients.client("tpu").delete_node(name=path)
            except core_exceptions.NotFound:
                continue
            pending.append((operation.operation.name, path))
        for operation, path in pending:
            try:
                self.wait(operation, deadline_s, "delete", path)
            except OperationFailed as failed:
                if not set(failed.codes) <= {"NOT_FOUND", "RESOURCE_NOT_FOUND"}:
                    raise


def _code(number: int, message: str) -> str:
    """An operation's google.rpc code as the code ``classify`` reads: RESOURCE_EXHAUSTED is
    a stockout or a quota, which the TPU API tells apart only in words."""
    if number == 8 and TPU_STOCKOUT.search(message):
        return "STOCKOUT"
    if number == 8 and TPU_QUOTA.search(message):
        return "QUOTA_EXCEEDED"
    return RPC_CODES.get(number, f"RPC_{number}")


def _resource(node: Any, launch_id: str) -> Resource:
    _, zone, name = spec.parse_node_path(node.name) or ("", "", node.name)
    return Resource("gcp", spec.region_of_zone(zone), node.name, "instance", zone, name,
                    launch_id, node.state.name if node.state else "")
