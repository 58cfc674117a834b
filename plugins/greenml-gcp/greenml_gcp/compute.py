"""Launching Compute Engine VMs through google-cloud-compute (REST transport).

``ComputeEngine`` creates, waits for, finds and deletes a launch's VMs with the clients of
the provider that holds it; google-cloud-compute is imported inside its methods, never when
the plugin is imported. What each VM is comes from ``greenml_gcp.spec``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from greenml import RetryPolicy
from greenml.provider import TAG_LAUNCH_ID, InstanceRequest, Resource
from greenml.retry import shared_tries
from greenml_gcp import boot, spec
from greenml_gcp.clients import GoogleClients, project
from greenml_gcp.errors import (
    NotInZone,
    OfferMismatch,
    OperationFailed,
    OperationTimeout,
    classify,
)
from greenml_gcp.settings import GCPSettings

#: google-api-core's retry for the reads inside create_instance (by default it retries GETs
#: on 503 for up to 600 s): none, as greenml's launch loop retries the whole create (same
#: requestId). insert and delete have no SDK retry, so a throttled insert is sent at most
#: ``RetryPolicy.attempts`` times (default 5), a throttled delete likewise (``terminate``).
NO_SDK_RETRY = None
#: Compute Engine's ``operations.wait`` returns after at most about two minutes.
WAIT_CALL_TIMEOUT_S = 150.0
#: How often ``rendezvous`` reads a VM's metadata fingerprint again after a conflict.
METADATA_TRIES = 3


class ComputeEngine:
    """A launch's Compute Engine VMs, through the clients ``clients`` keeps."""

    def __init__(self, clients: GoogleClients) -> None:
        self.clients = clients

    def create(self, request: InstanceRequest, settings: GCPSettings) -> Resource:
        """Insert one VM in ``request.zone`` and wait for its operation (bounded by
        ``operation_timeout_s``); a retried call with the same token reuses the same
        requestId and name, so Compute Engine answers with the first operation instead of a
        second VM."""
        from google.api_core import exceptions as core_exceptions
        from google.cloud import compute_v1

        chosen = project(settings.project)
        zone = request.zone or ""
        body = spec.instance_body(request, settings, chosen)
        self._check_zone_offers(chosen, zone, request)
        self.clients.used(chosen)
        instance_resource = compute_v1.Instance.from_json(json.dumps(body))  # camelCase JSON
        insert = compute_v1.InsertInstanceRequest(project=chosen, zone=zone,
                                                  instance_resource=instance_resource,
                                                  request_id=spec.request_id(request.token))
        try:
            operation = self.clients.client("instances").insert_unary(request=insert)
        except core_exceptions.Conflict:
            instance = self._get_instance(chosen, zone, body["name"])
            if not spec.made_by(instance, request):
                raise  # the name belongs to someone else's VM
            return _resource(chosen, zone, instance, request.launch_id)  # ours, from before
        self.wait(chosen, zone, operation.name, settings.operation_timeout_s, "insert",
                  body["name"])
        instance = self._get_instance(chosen, zone, body["name"])
        if instance is None:
            raise OperationFailed("insert", body["name"], ["RESOURCE_NOT_FOUND"],
                                  ["the VM was gone right after its insert succeeded"])
        return _resource(chosen, zone, instance, request.launch_id)

    def _check_zone_offers(self, project_id: str, zone: str, request: InstanceRequest) -> None:
        """Refuse early, as a zone-scoped failure, when the zone lacks the machine type or the
        accelerator type (the catalog knows the region, not each zone); check built-in GPUs."""
        option = request.option
        machine_type = option.offer.instance_type
        found = self._zone_offer(project_id, zone, "machine_types", machine_type)
        if found is None:
            raise NotInZone(f"machine type {machine_type} is not offered in {zone}")
        built_in = sum(a.guest_accelerator_count for a in found.accelerators)
        if built_in and built_in != option.offer.accelerators_per_instance:
            raise OfferMismatch(f"{machine_type} has {built_in} GPUs, the plan counted "
                                f"{option.offer.accelerators_per_instance}")
        gpu = spec.accelerator_type(option)
        if gpu and self._zone_offer(project_id, zone, "accelerator_types", gpu) is None:
            raise NotInZone(f"accelerator type {gpu} is not offered in {zone}")

    def _zone_offer(self, project_id: str, zone: str, kind: str, name: str) -> Any:
        """The machine or accelerator type resource in ``zone``, or None; looked up once."""
        key = (project_id, zone, kind, name)
        known, found = self.clients.known_offer(key)
        if known:
            return found
        from google.api_core import exceptions as core_exceptions

        service = self.clients.client(kind)
        try:
            if kind == "machine_types":
                found = service.get(project=project_id, zone=zone, machine_type=name,
                                    retry=NO_SDK_RETRY)
            else:
                found = service.get(project=project_id, zone=zone, accelerator_type=name,
                                    retry=NO_SDK_RETRY)
        except core_exceptions.NotFound as exc:
            if f"projects/{project_id}'" in str(exc):
                raise  # the project itself is unknown: not a property of the zone
            found = None
        self.clients.remember_offer(key, found)
        return found

    def _get_instance(self, project_id: str, zone: str, name: str) -> Any:
        from google.api_core import exceptions as core_exceptions

        try:
            return self.clients.client("instances").get(project=project_id, zone=zone,
                                                         instance=name, retry=NO_SDK_RETRY)
        except core_exceptions.NotFound:
            return None

    def wait(self, project_id: str, zone: str, operation: str, deadline_s: float, kind: str,
             target: str) -> Any:
        """Wait for a zone operation with our own client (the one ``insert()`` would poll
        with ignores the endpoint), until DONE or ``deadline_s``; raise OperationFailed on
        errors."""
        from google.api_core import exceptions as core_exceptions
        from google.cloud import compute_v1

        operations = self.clients.client("zone_operations")
        started = time.monotonic()
        done = compute_v1.Operation.Status.DONE
        while True:
            try:
                result = operations.wait(project=project_id, zone=zone, operation=operation,
                                         timeout=WAIT_CALL_TIMEOUT_S)
            except (core_exceptions.ServiceUnavailable, core_exceptions.TooManyRequests,
                    core_exceptions.DeadlineExceeded):
                time.sleep(1.0)
                result = None
            if result is not None and result.status == done:
                break
            if time.monotonic() - started >= deadline_s:
                result = operations.get(project=project_id, zone=zone, operation=operation)
                if result.status == done:
                    break
                raise OperationTimeout(kind, target, time.monotonic() - started)
        errors = list(result.error.errors)
        if errors:
            raise OperationFailed(kind, target, [e.code for e in errors],
                                  [e.message for e in errors], result.http_error_status_code)
        return result

    def rendezvous(self, paths: Sequence[str], deadline_s: float) -> None:
        """Give each VM of a gang (``paths``, in rank order) its rank, the node count and the
        head's (rank 0's) private address as metadata attributes, which its boot script reads
        from the metadata server (``boot.GCE``); the VMs share the VPC network, so every
        member reaches the head at that address."""
        located = [spec.parse_self_link_path(p) for p in paths]
        head_vm = self._get_instance(*located[0])
        head = (head_vm.network_interfaces[0].network_i_p
                if head_vm is not None and head_vm.network_interfaces else "")
        if not head:
            raise ValueError(f"the gang's head {paths[0]} has no private address yet")
        values = {boot.ATTR_NODES: str(len(paths)), boot.ATTR_HEAD: head}
        from concurrent.futures import ThreadPoolExecutor

        def tell(rank: int) -> None:  # members at once: a gang of 16 is 32 calls otherwise
            project_id, zone, name = located[rank]
            operation = self._set_metadata(project_id, zone, name,
                                           {**values, boot.ATTR_RANK: str(rank)})
            self.wait(project_id, zone, operation, deadline_s, "setMetadata", name)

        with ThreadPoolExecutor(max_workers=min(16, len(located))) as pool:
            list(pool.map(tell, range(len(located))))

    def _set_metadata(self, project_id: str, zone: str, name: str,
                      values: dict[str, str]) -> str:
        """Add ``values`` to one VM's metadata items (``instances.setMetadata`` with the
        fingerprint read just before; another writer in between: read again, at most
        ``METADATA_TRIES`` times); returns the operation's name."""
        from google.api_core import exceptions as core_exceptions
        from google.cloud import compute_v1

        for attempt in range(METADATA_TRIES):
            instance = self._get_instance(project_id, zone, name)
            if instance is None:
                raise OperationFailed("setMetadata", name, ["RESOURCE_NOT_FOUND"],
                                      ["the gang member is gone"])
            items = {i.key: i.value for i in instance.metadata.items if i.key not in values}
            metadata = compute_v1.Metadata(
                fingerprint=instance.metadata.fingerprint,
                items=[compute_v1.Items(key=k, value=v) for k, v in {**items, **values}.items()])
            try:
                operation = self.clients.client("instances").set_metadata_unary(
                    request=compute_v1.SetMetadataInstanceRequest(
                        project=project_id, zone=zone, instance=name,
                        metadata_resource=metadata, request_id=str(uuid.uuid4())))
            except core_exceptions.PreconditionFailed:
                if attempt + 1 == METADATA_TRIES:
                    raise
                continue
            return str(operation.name)
        raise AssertionError("unreachable")

    def find(self, launch_id: str, regions: Sequence[str],
             projects: Sequence[str]) -> list[Resource]:
        """Every VM labelled with ``launch_id`` in ``regions`` of ``projects``: one
        aggregated list call per project."""
        from google.api_core import exceptions as core_exceptions
        from google.cloud import compute_v1

        wanted, label = set(regions), spec.label_value(launch_id)
        found = []
        for project_id in projects:
            listing = compute_v1.AggregatedListInstancesRequest(
                project=project_id, filter=f'labels.{TAG_LAUNCH_ID} = "{label}"')
            try:
                pages = list(self.clients.client("instances").aggregated_list(request=listing))
            except core_exceptions.NotFound:
                continue  # no such project: nothing of ours can be in it
            for scope, scoped in pages:
                zone = scope.rpartition("/")[2]
                if spec.region_of_zone(zone) not in wanted:
                    continue
                for instance in scoped.instances:
                    if dict(instance.labels).get(TAG_LAUNCH_ID) == label:
                        found.append(_resource(project_id, zone, instance, launch_id))
        return found

    def console(self, path: str) -> str:
        """Serial port 1 of the VM at ``path`` (``instances.getSerialPortOutput``), where the
        boot script copies the run's output: what Compute Engine keeps of it (1 MB)."""
        from google.cloud import compute_v1

        project_id, zone, name = spec.parse_self_link_path(path)
        reply = self.clients.client("instances").get_serial_port_output(
            request=compute_v1.GetSerialPortOutputInstanceRequest(
                project=project_id, zone=zone, instance=name, port=1), retry=NO_SDK_RETRY)
        return str(reply.contents or "")

    def terminate(self, paths: Sequence[str], deadline_s: float) -> None:
        """Delete each VM (its boot disk goes with it) and wait for the deletions; gone
        already is fine, throttling is retried with backoff, only the throttled VM's delete.
        Each delete carries its own requestId, so a retried delete is not applied twice.
        Inside greenml's terminate loop the retries draw on its tries (``shared_tries``),
        never multiply them."""
        from google.api_core import exceptions as core_exceptions
        from google.cloud import compute_v1

        pending = []
        for path in paths:
            project_id, zone, name = spec.parse_self_link_path(path)
            delete = compute_v1.DeleteInstanceRequest(project=project_id, zone=zone,
                                                      instance=name,
                                                      request_id=str(uuid.uuid4()))
            operation: Any = None
            with shared_tries(RetryPolicy()) as tries:
                while True:
                    try:
                        operation = self.clients.client("instances").delete_unary(
                            request=delete)
                    except core_exceptions.NotFound:
                        operation = None
                    except (core_exceptions.TooManyRequests,
                            core_exceptions.ServiceUnavailable,
                            core_exceptions.InternalServerError) as exc:
                        verdict = tries.failed(classify(exc).retry_after_s)
                        if verdict.wait_s is None:
                            raise
                        time.sleep(verdict.wait_s)
                        continue
                    break
            if operation is not None:
                pending.append((project_id, zone, operation.name, name))
        for project_id, zone, operation, name in pending:
            try:
                self.wait(project_id, zone, operation, deadline_s, "delete", name)
            except OperationFailed as failed:
                if not set(failed.codes) <= {"RESOURCE_NOT_FOUND"}:
                    raise


def _resource(project_id: str, zone: str, instance: Any, launch_id: str) -> Resource:
    return Resource("gcp", spec.region_of_zone(zone),
                    spec.self_link_path(project_id, zone, instance.name), "instance", zone,
                    instance.name, launch_id, str(instance.status))
