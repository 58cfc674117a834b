"""Launching on Compute Engine through google-cloud-compute (REST transport).

google-cloud-compute is imported here, inside functions, never when the plugin is imported.
Credentials and project come from Application Default Credentials (``gcloud auth
application-default login``, ``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server) or
explicit settings. ``GREENML_GCP_ENDPOINT`` points every client at another Compute Engine
endpoint (a local emulator or test server); requests to it are anonymous unless
``GOOGLE_APPLICATION_CREDENTIALS`` names a credentials file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from greenml import InstanceRequest, Resource, RetryPolicy
from greenml.provider import TAG_LAUNCH_ID
from greenml.retry import shared_tries

from . import spec
from .errors import (
    MissingProject,
    NotInZone,
    OfferMismatch,
    OperationFailed,
    OperationTimeout,
    classify,
)

ENV_ENDPOINT = "GREENML_GCP_ENDPOINT"
#: google-api-core's retry for the reads inside create_instance (by default it retries GETs
#: on 503 for up to 600 s): none, as greenml's launch loop retries the whole create (same
#: requestId). insert and delete have no SDK retry, so a throttled insert is sent at most
#: ``RetryPolicy.attempts`` times (default 5), a throttled delete likewise (``terminate``).
NO_SDK_RETRY = None
PROJECT_ENVIRONMENT = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT")
#: Compute Engine's ``operations.wait`` returns after at most about two minutes.
WAIT_CALL_TIMEOUT_S = 150.0

_clients: dict[tuple[str, str], Any] = {}
#: What each zone offers (machine, accelerator and TPU types), looked up once per process.
zone_offers: dict[tuple[str, str, str, str], Any] = {}
#: Projects this process created VMs or TPU nodes in, searched too when looking for a
#: launch's resources.
projects_used: set[str] = set()
#: Guards the three caches above; launches create gang members from several threads.
lock = threading.Lock()


def endpoint() -> str:
    return os.environ.get(ENV_ENDPOINT, "").strip()


def _credentials() -> Any:
    """ADC, or anonymous credentials for an overridden endpoint without a credentials file."""
    if endpoint() and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    import google.auth

    credentials, _ = google.auth.default(scopes=[spec.CLOUD_PLATFORM_SCOPE])
    return credentials


def client(kind: str) -> Any:
    """One REST client per kind (instances, zone_operations, machine_types,
    accelerator_types, and tpu for the Cloud TPU API), shared by threads; all of them built
    with the same endpoint."""
    key = (kind, endpoint())
    with lock:
        if key not in _clients:
            from google.api_core.client_options import ClientOptions

            cls: type
            if kind == "tpu":
                from google.cloud import tpu_v2

                cls = tpu_v2.TpuClient
            else:
                from google.cloud import compute_v1

                cls = {
                    "instances": compute_v1.InstancesClient,
                    "zone_operations": compute_v1.ZoneOperationsClient,
                    "machine_types": compute_v1.MachineTypesClient,
                    "accelerator_types": compute_v1.AcceleratorTypesClient,
                }[kind]
            options = ClientOptions(api_endpoint=key[1]) if key[1] else None
            _clients[key] = cls(credentials=_credentials(), client_options=options,
                                transport="rest")
        return _clients[key]


def forget_clients() -> None:
    """Drop cached clients and zone look-ups (credentials or endpoint changed)."""
    with lock:
        _clients.clear()
        zone_offers.clear()
        projects_used.clear()


def check_credentials() -> tuple[bool, str]:
    """Whether Compute Engine calls can be authorised here; never shows a secret."""
    if endpoint() and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True, ""
    import google.auth
    import google.auth.exceptions
    import google.auth.transport.requests

    try:
        credentials, _ = google.auth.default(scopes=[spec.CLOUD_PLATFORM_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        return False, ("no Google Cloud credentials found: run 'gcloud auth "
                       "application-default login', or set GOOGLE_APPLICATION_CREDENTIALS to "
                       "a service-account key file")
    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.GoogleAuthError as exc:  # the kind only, never the token
        return False, f"Google refused the credentials ({type(exc).__name__})"
    return True, ""


def project(settings: Mapping[str, Any]) -> str:
    """The project: the ``project`` setting, the environment, else the ADC project."""
    chosen: str | None = str(settings.get("project") or "").strip() or _environment_project()
    if chosen:
        return chosen
    if not (endpoint() and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")):
        import google.auth
        import google.auth.exceptions

        try:
            _, chosen = google.auth.default(scopes=[spec.CLOUD_PLATFORM_SCOPE])
        except google.auth.exceptions.DefaultCredentialsError:
            chosen = None
    if not chosen:
        raise MissingProject("no Google Cloud project: pass -o gcp.project=PROJECT_ID, set "
                             "GOOGLE_CLOUD_PROJECT, or run 'gcloud config set project'")
    return chosen


def _environment_project() -> str:
    return next((os.environ[k].strip() for k in PROJECT_ENVIRONMENT
                 if os.environ.get(k, "").strip()), "")


def describe_project(settings: Mapping[str, Any]) -> str:
    """The project for a dry run, without any call (ADC may need the network)."""
    return str(settings.get("project") or "").strip() or _environment_project() or (
        "<the Application Default Credentials project>")


# creating


def create_instance(request: InstanceRequest) -> Resource:
    """Insert one VM in ``request.zone`` and wait for its operation (bounded by
    ``operation_timeout_s``); a retried call with the same token reuses the same requestId
    and name, so Compute Engine answers with the first operation instead of a second VM."""
    settings = request.settings
    spec.validate_settings(settings)
    chosen = project(settings)
    zone = request.zone or ""
    body = spec.instance_body(request, chosen)
    deadline_s = spec.operation_timeout_s(settings)
    _check_zone_offers(chosen, zone, request)
    with lock:
        projects_used.add(chosen)
    from google.api_core import exceptions as core_exceptions
    from google.cloud import compute_v1

    instance_resource = compute_v1.Instance.from_json(json.dumps(body))  # camelCase JSON
    insert = compute_v1.InsertInstanceRequest(project=chosen, zone=zone,
                                              instance_resource=instance_resource,
                                              request_id=spec.request_id(request.token))
    try:
        operation = client("instances").insert_unary(request=insert)
    except core_exceptions.Conflict:
        instance = _get_instance(chosen, zone, body["name"])
        if not spec.made_by(instance, request):
            raise  # the name belongs to someone else's VM
        return _resource(chosen, zone, instance, request.launch_id)  # ours, from before
    wait(chosen, zone, operation.name, deadline_s, "insert", body["name"])
    instance = _get_instance(chosen, zone, body["name"])
    if instance is None:
        raise OperationFailed("insert", body["name"], ["RESOURCE_NOT_FOUND"],
                              ["the VM was gone right after its insert succeeded"])
    return _resource(chosen, zone, instance, request.launch_id)


def planned_id(request: InstanceRequest) -> str:
    """The VM's self-link path (a TPU node's resource name), known before the insert:
    greenml names it itself. With it in the ledger, ``down`` after a crash needs no project
    to search in."""
    path = spec.node_path if spec.is_tpu(request.option) else spec.self_link_path
    return path(project(request.settings), request.zone or "", spec.instance_name(request))


def _check_zone_offers(project_id: str, zone: str, request: InstanceRequest) -> None:
    """Refuse early, as a zone-scoped failure, when the zone lacks the machine type or the
    accelerator type (the catalog knows the region, not each zone); check built-in GPUs."""
    option = request.option
    machine_type = option.offer.instance_type
    found = _zone_offer(project_id, zone, "machine_types", machine_type)
    if found is None:
        raise NotInZone(f"machine type {machine_type} is not offered in {zone}")
    built_in = sum(a.guest_accelerator_count for a in found.accelerators)
    if built_in and built_in != option.offer.accelerators_per_instance:
        raise OfferMismatch(f"{machine_type} has {built_in} GPUs, the plan counted "
                            f"{option.offer.accelerators_per_instance}")
    gpu = spec.accelerator_type(option)
    if gpu and _zone_offer(project_id, zone, "accelerator_types", gpu) is None:
        raise NotInZone(f"accelerator type {gpu} is not offered in {zone}")


def _zone_offer(project_id: str, zone: str, kind: str, name: str) -> Any:
    """The machine or accelerator type resource in ``zone``, or None; cached per process."""
    key = (project_id, zone, kind, name)
    with lock:
        if key in zone_offers:
            return zone_offers[key]
    from google.api_core import exceptions as core_exceptions

    service = client(kind)
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
    with lock:
        zone_offers[key] = found
    return found


def _get_instance(project_id: str, zone: str, name: str) -> Any:
    from google.api_core import exceptions as core_exceptions

    try:
        return client("instances").get(project=project_id, zone=zone, instance=name,
                                       retry=NO_SDK_RETRY)
    except core_exceptions.NotFound:
        return None


def _resource(project_id: str, zone: str, instance: Any, launch_id: str) -> Resource:
    return Resource("gcp", spec.region_of_zone(zone),
                    spec.self_link_path(project_id, zone, instance.name), "instance", zone,
                    instance.name, launch_id, str(instance.status))


def wait(project_id: str, zone: str, operation: str, deadline_s: float, kind: str,
         target: str) -> Any:
    """Wait for a zone operation with our own client (the one ``insert()`` would poll with
    ignores the endpoint), until DONE or ``deadline_s``; raise OperationFailed on errors."""
    from google.api_core import exceptions as core_exceptions
    from google.cloud import compute_v1

    operations = client("zone_operations")
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


# finding and deleting


def find_resources(launch_id: str, regions: Sequence[str]) -> list[Resource]:
    """Every VM labelled with ``launch_id`` in ``regions``: one aggregated list call per
    project searched (the environment's or ADC's project, and every project this process
    created VMs in). With no project to search, nothing is found rather than failing, so a
    gang's clean-up still deletes what it knows it created."""
    from google.api_core import exceptions as core_exceptions
    from google.cloud import compute_v1

    projects = set(projects_used)
    with contextlib.suppress(MissingProject):
        projects.add(project({}))
    wanted, label = set(regions), spec.label_value(launch_id)
    from . import GCP, tpu

    provider = GCP()
    with_tpus = {o.region for o in provider.offers() if o.instance_type.startswith("tpu-")}
    zones = [z for r in provider.regions() if r.name in wanted & with_tpus for z in r.zones]
    found = tpu.find(launch_id, zones, sorted(projects))
    for project_id in sorted(projects):
        listing = compute_v1.AggregatedListInstancesRequest(
            project=project_id, filter=f'labels.{TAG_LAUNCH_ID} = "{label}"')
        try:
            pages = list(client("instances").aggregated_list(request=listing))
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


def terminate(resources: Sequence[Resource], deadline_s: float | None = None) -> None:
    """Delete each VM (its boot disk goes with it) and wait for the deletions; gone already
    is fine, throttling is retried with backoff, only the throttled VM's delete. Each delete
    carries its own requestId, so a retried delete is not applied twice. Inside greenml's
    terminate loop the retries draw on its tries (``shared_tries``), never multiply them."""
    from google.api_core import exceptions as core_exceptions
    from google.cloud import compute_v1

    deadline_s = deadline_s or spec.DEFAULT_OPERATION_TIMEOUT_S
    nodes = [r.resource_id for r in resources if spec.parse_node_path(r.resource_id)]
    if nodes:
        from . import tpu

        tpu.terminate(nodes, deadline_s)
    pending = []
    for resource in resources:
        if not resource.resource_id or resource.resource_id in nodes:
            continue
        project_id, zone, name = spec.parse_self_link_path(resource.resource_id)
        delete = compute_v1.DeleteInstanceRequest(project=project_id, zone=zone, instance=name,
                                                  request_id=str(uuid.uuid4()))
        operation: Any = None
        with shared_tries(RetryPolicy()) as tries:
            while True:
                try:
                    operation = client("instances").delete_unary(request=delete)
                except core_exceptions.NotFound:
                    operation = None
                except (core_exceptions.TooManyRequests, core_exceptions.ServiceUnavailable,
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
            wait(project_id, zone, operation, deadline_s, "delete", name)
        except OperationFailed as failed:
            if not set(failed.codes) <= {"RESOURCE_NOT_FOUND"}:
                raise
