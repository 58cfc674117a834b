"""A small local Compute Engine for tests: the documented REST paths, JSON and errors.

No Compute Engine emulator exists, so this ``greenml.testing.fakeserver.FakeServer`` on
127.0.0.1 serves the part of the v1 REST API that greenml uses, as Google documents it, to
the real ``google.cloud.compute_v1`` clients (REST transport):

    POST/GET/DELETE /compute/v1/projects/{p}/zones/{z}/instances[/{name}]   (list: filter, paging)
    GET  /compute/v1/projects/{p}/aggregated/instances                      (filter, paging)
    GET  /compute/v1/projects/{p}/zones/{z}/instances/{name}/serialPort      (port, start)
    POST /compute/v1/projects/{p}/zones/{z}/instances/{name}/setMetadata     (fingerprint)
    GET  /compute/v1/projects/{p}/zones/{z}/operations/{op}  and  POST .../{op}/wait
    GET  /compute/v1/projects/{p}/zones/{z}/machineTypes[/{t}]  and  .../acceleratorTypes[/{t}]
    GET  /compute/v1/projects/{p}[/regions[/{r}]]     (quotas: gce_quotas, set_quota)
    POST /token   (OAuth 2.0 JWT-bearer grant, for service-account credentials)

It refuses what the real API refuses (unknown project, zone, machine type, accelerator type or
image; a duplicate instance name: 409 alreadyExists; a requestId that is not a UUID; invalid
label keys or values, or names; GPUs without ``onHostMaintenance=TERMINATE``; attached GPUs on
a type with built-in ones; a Spot VM that restarts automatically; a ``maxRunDuration``
without ``instanceTerminationAction`` or outside 30 s to 120 days; a ``setMetadata`` whose
fingerprint is not the VM's current one: 412 conditionNotMet) with Google's error body
``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}``. Inserts and
deletes return operations that go PENDING -> RUNNING -> DONE; a requestId seen before returns
its first operation and creates nothing. Each VM gets a private address
(``networkInterfaces[0].networkIP``, 10.128.0.N) and a metadata fingerprint, which
``setMetadata`` replaces. The zones and their machine and accelerator types
come from ``gce_world.json`` (real zones; its ``source`` says where from).

Steering: ``inject`` (HTTP errors such as 403 quotaExceeded or 429 rateLimitExceeded, or
failed operations such as ZONE_RESOURCE_POOL_EXHAUSTED or QUOTA_EXCEEDED), ``hold`` (keep
inserts RUNNING), ``delay`` (hold a reply after its effect), ``require_service_account``
(demand OAuth bearer tokens issued by ``/token``); looking: ``instances``, ``metadata``,
``calls``. The
server, its rules, delays and call log are greenml.testing.fakeserver's.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from gce_quotas import ROUTE as QUOTA_ROUTE
from gce_quotas import QuotaBook
from tpu_fake import FakeTpu, TpuError

from greenml.testing.fakeserver import FakeServer, Reply, Rule, split_target

__all__ = ["FakeCompute", "load_world", "write_service_account_file"]

API = "https://www.googleapis.com/compute/v1"
WORLD_FILE = Path(__file__).with_name("gce_world.json")
#: Image families the fake knows, with their size in GB (a smaller boot disk is refused).
IMAGES = {
    ("deeplearning-platform-release", "pytorch-2-9-cu129-ubuntu-2404-nvidia-580"): 50,
    ("deeplearning-platform-release", "pytorch-2-7-cu128-ubuntu-2204-nvidia-570"): 50,
    ("debian-cloud", "debian-12"): 10,
}
DISK_TYPES = {"pd-standard", "pd-balanced", "pd-ssd", "hyperdisk-balanced"}
#: How many of each attached GPU an N1 VM may have (Compute Engine GPU machine types page).
N1_GPU_COUNTS = {"nvidia-tesla-t4": (1, 2, 4), "nvidia-tesla-p4": (1, 2, 4),
                 "nvidia-tesla-p100": (1, 2, 4), "nvidia-tesla-v100": (1, 2, 4, 8)}

_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_ROUTE = re.compile(
    r"^/compute/v1/projects/(?P<project>[^/]+)"
    r"(?:/aggregated/(?P<aggregated>instances)"
    r"|/zones/(?P<zone>[^/]+)/(?P<collection>instances|operations|machineTypes|acceleratorTypes)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<verb>wait|serialPort|setMetadata))?)$")
_FILTER_TERM = re.compile(
    r'\(?\s*(?P<field>[a-zA-Z][\w.-]*)\s*(?P<op>=|!=|eq|ne)\s*(?P<value>"[^"]*"|[^\s()"]+)'
    r'\s*\)?')

#: What each injectable error looks like: (HTTP status, reason, domain, message) for HTTP
#: errors; operation errors end the operation instead (status, code, message).
HTTP_ERRORS = {
    "quotaExceeded": (403, "quotaExceeded", "usageLimits",
                      "Quota '{metric}' exceeded.  Limit: 0.0 in region {region}."),
    "rateLimitExceeded": (429, "rateLimitExceeded", "usageLimits", "Rate Limit Exceeded"),
    "forbidden": (403, "forbidden", "global",
                  "Required 'compute.instances.create' permission for "
                  "'projects/{project}/zones/{zone}/instances/{name}'"),
    "backendError": (503, "backendError", "global", "Internal error. Please try again."),
    "conditionNotMet": (412, "conditionNotMet", "global", "Supplied fingerprint does not "
                        "match current metadata fingerprint."),
}
OPERATION_ERRORS = {
    "ZONE_RESOURCE_POOL_EXHAUSTED": (
        503, "The zone 'projects/{project}/zones/{zone}' does not have enough resources "
             "available to fulfill the request.  Try a different zone, or try again later."),
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS": (
        503, "The zone 'projects/{project}/zones/{zone}' does not have enough resources "
             "available to fulfill the request.  '(resource type:compute)'."),
    "QUOTA_EXCEEDED": (403, "Quota '{metric}' exceeded.  Limit: 0.0 in region {region}."),
}
_HTTP_PHRASES = {403: "FORBIDDEN", 503: "SERVICE UNAVAILABLE"}


def load_world(path: Path = WORLD_FILE) -> dict[str, Any]:
    """Zones -> {"machineTypes": {name: {...}}, "acceleratorTypes": {name: max cards}}."""
    return json.loads(path.read_text())["zones"]


class ApiError(Exception):
    """An error answer in Google's JSON error format."""

    def __init__(self, status: int, reason: str, message: str, domain: str = "global",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.domain = status, reason, message, domain
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.status, "message": self.message, "errors": [
            {"domain": self.domain, "reason": self.reason, "message": self.message}]}}


def _invalid(field_name: str, value: Any, why: str = "") -> ApiError:
    text = f"Invalid value for field '{field_name}': '{value}'."
    return ApiError(400, "invalid", f"{text} {why}".strip())


def _not_found(path: str) -> ApiError:
    return ApiError(404, "notFound", f"The resource '{path}' was not found")


@dataclass
class _Operation:
    """A zone operation; its status follows the clock (PENDING, RUNNING, then DONE)."""

    name: str
    zone: str
    kind: str
    target: str
    started: float
    running_at: float
    done_at: float
    error: tuple[str, int, str] | None = None  # (code, http status, message)
    finished: bool = False
    id: str = ""
    details: list[dict[str, Any]] = field(default_factory=list)


class FakeCompute(FakeServer):
    """The fake's state and steering; ``start()`` serves it on 127.0.0.1:<free port>."""

    server_version = "ESF"

    def __init__(self, project: str = "greenml-test", world: Mapping[str, Any] | None = None,
                 *, step_s: float = 0.02, wait_cap_s: float = 1.0, page_size: int = 500) -> None:
        super().__init__()
        self.project = project
        self.world = dict(world if world is not None else load_world())
        self.step_s, self.wait_cap_s, self.page_size = step_s, wait_cap_s, page_size
        self._ids = itertools.count(4_000_000_000_000_000_001)
        self._addresses = itertools.count(2)
        self.reset()

    @property
    def endpoint_url(self) -> str:
        return self.url

    def reset(self) -> None:
        """Forget instances, operations, requestIds, rules, calls and auth; release delays."""
        with self.lock:
            self._instances: dict[tuple[str, str], dict[str, Any]] = {}
            self._operations: dict[tuple[str, str], _Operation] = {}
            self._request_ids: dict[str, tuple[str, str]] = {}
            self._serial: dict[tuple[str, str], str] = {}
            self._auth: dict[str, Any] | None = None
            self._tokens: set[str] = set()
            self.tpu = FakeTpu(self.project, set(self.world), self._tpu_fault)
            self.quota_book = QuotaBook(self.world)
            super().reset()

    # ------------------------------------------------------------------ steering

    def inject(self, method: str, kind: str, *, times: int | None = 1, after: int = 0,
               zone: str | None = None, region: str | None = None,
               metric: str = "NVIDIA_T4_GPUS") -> None:
        """Fail ``times`` matching calls (after letting ``after`` through; None: all).

        ``method``: insert, delete, get, list, aggregatedList, machineTypes.get, ... .
        ``kind``: an HTTP error (``HTTP_ERRORS``: answered at once, nothing happens) or an
        operation error (``OPERATION_ERRORS``: the insert is accepted, then its operation ends
        DONE with that error and no VM). ``metric`` names the quota in quota messages
        (``GPUS_ALL_REGIONS`` is a global quota: "Limit: 0.0 globally.").
        """
        if kind not in HTTP_ERRORS and kind not in OPERATION_ERRORS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.add_rule("error", {"method": method, "zone": zone, "region": region},
                      times=times, after=after, fault=kind, metric=metric)

    def hold(self, seconds: float, *, zone: str | None = None, times: int | None = None) -> None:
        """Keep matching inserts' operations RUNNING for ``seconds`` before they finish."""
        self.add_rule("hold", {"method": "insert", "zone": zone}, times=times, seconds=seconds)

    def delay(self, method: str, seconds: float, *, times: int | None = 1,
              zone: str | None = None) -> None:
        """Hold the reply to matching calls for ``seconds`` after their effect (the VM exists
        before the client hears of it); ``reset()``/``stop()`` release it."""
        self.add_rule("delay", {"method": method, "zone": zone}, times=times, seconds=seconds)

    def inject_tpu(self, kind: str, *, zone: str | None = None, times: int = 1) -> None:
        """Fail the next ``times`` TPU creates (in ``zone``): "stockout" (the operation ends
        RESOURCE_EXHAUSTED, no node) or "quota" (429 at once)."""
        if kind not in ("stockout", "quota"):
            raise ValueError(f"unknown TPU fault {kind!r}")
        self.add_rule("tpu", {"zone": zone}, times=times, fault=kind)

    def tpu_nodes(self) -> list[dict[str, Any]]:
        """Every TPU node that exists, as the Cloud TPU API returns it."""
        with self.lock:
            return [copy.deepcopy(n) for _, n in sorted(self.tpu.nodes.items())]

    def set_serial_output(self, name: str, text: str, *, zone: str | None = None) -> None:
        """What serial port 1 of the VM ``name`` (in ``zone``, else wherever it is) has
        printed, served by ``instances.getSerialPortOutput`` from now on."""
        with self.lock:
            zones = [z for z, n in self._instances if n == name and zone in (None, z)]
            for z in zones or [zone or ""]:
                self._serial[(z, name)] = text

    def set_quota(self, metric: str, limit: float, usage: float = 0.0, *,
                  region: str = "") -> None:
        """A quota ``regions.get`` reports in ``region`` ("": ``projects.get``'s, as
        GPUS_ALL_REGIONS), until ``reset()``."""
        with self.lock:
            self.quota_book.set(metric, limit, usage, region)

    def require_service_account(self, email: str, public_key_pem: bytes) -> None:
        """From now on, demand ``Authorization: Bearer`` tokens that ``/token`` issued for a
        JWT signed by this service account's key (RS256), as Google's OAuth server does."""
        with self.lock:
            self._auth = {"email": email, "public_key_pem": public_key_pem}

    # ------------------------------------------------------------------ looking

    def instances(self, zone: str | None = None) -> list[dict[str, Any]]:
        """Every VM that exists (any status), as Compute Engine would return it."""
        with self.lock:
            self._advance()
            return [copy.deepcopy(v) for (z, _), v in sorted(self._instances.items())
                    if zone is None or z == zone]

    def metadata(self, name: str) -> dict[str, str]:
        """The metadata items of the VM ``name`` (any zone), as key -> value."""
        with self.lock:
            [instance] = [v for (_, n), v in self._instances.items() if n == name]
            return {i["key"]: i["value"] for i in instance["metadata"].get("items", [])}

    def calls(self, method: str | None = None, **where: Any) -> list[dict[str, Any]]:
        """Every API call received, oldest first: method, zone, name, query, body, status,
        outcome (answered, injected, replayed, refused)."""
        return super().calls(method=method, **where)

    # ------------------------------------------------------------------ serving

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> Reply:
        """Answer one HTTP request: (status, headers, body)."""
        path, query = split_target(target)
        if path == "/token" and verb == "POST":
            return self._token(body)
        call: dict[str, Any] = {"verb": verb, "path": path, "query": query,
                                "method": "", "zone": "", "name": "", "status": None,
                                "outcome": "answered"}
        succeeded = False  # without an error: a delay may hold the reply
        headers_out: dict[str, str] = {}
        try:
            self._authorise(headers)
            if path.startswith("/v2/"):  # the Cloud TPU API
                payload = json.loads(body) if body.strip() else None
                with self.lock:
                    try:
                        status, answer = self.tpu.handle(verb, path, query, payload, call)
                    except TpuError as error:
                        raise ApiError(error.status, "", error.message) from None
            elif (quota := QUOTA_ROUTE.match(path)) is not None and verb == "GET":
                with self.lock:
                    status, answer = self._quotas(quota, call)
            else:
                route = _ROUTE.match(path)
                if route is None:
                    raise ApiError(404, "notFound", f"Not Found: {verb} {path}")
                payload = json.loads(body) if body.strip() else None
                with self.lock:
                    self._advance()
                    status, answer = self._dispatch(verb, route, query, payload, call)
                if call["method"] == "operations.wait":
                    status, answer = self._wait(route["zone"], route["name"])
            succeeded = True
        except ApiError as error:
            status, answer = error.status, error.body()
            if call["method"].startswith("tpu."):
                answer = TpuError(error.status, error.message).body()
            if call["outcome"] == "answered":
                call["outcome"] = "refused"
            headers_out = error.headers
        data = json.dumps(answer).encode()
        call["status"] = status
        self.record(call)
        if succeeded:
            self.hold_reply(call)
        return status, {"Content-Type": "application/json; charset=UTF-8", **headers_out}, \
            data

    def _authorise(self, headers: Message) -> None:
        """With a service account required: a Bearer token ``/token`` issued, or a JWT the
        account signed itself (google-auth's self-signed JWT access, which Google accepts)."""
        with self.lock:
            auth, tokens = self._auth, set(self._tokens)
        if auth is None:
            return
        value = headers.get("authorization", "")
        bearer = value[7:] if value.startswith("Bearer ") else ""
        if bearer and bearer in tokens:
            return
        try:
            claims = _verify_jwt(bearer, auth["public_key_pem"])
            if claims.get("iss") == auth["email"] and claims.get("exp", 0) >= time.time():
                return
        except Exception:
            pass
        raise ApiError(401, "authError", "Request had invalid authentication credentials. "
                       "Expected OAuth 2 access token, login cookie or other valid "
                       "authentication credential.")

    def _dispatch(self, verb: str, route: re.Match[str], query: Mapping[str, str],
                  payload: Any, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        project = route["project"]
        if project != self.project:
            raise _not_found(f"projects/{project}")
        if route["aggregated"]:
            call["method"] = "aggregatedList"
            self._injected_http(call)
            return 200, self._aggregated(query)
        zone, collection, name, verb_suffix = (route["zone"], route["collection"],
                                               route["name"], route["verb"])
        call.update(zone=zone, name=name or "")
        if zone not in self.world:
            raise _invalid("zone", zone, "Unknown zone.")
        if collection in ("machineTypes", "acceleratorTypes"):
            call["method"] = f"{collection}.{'get' if name else 'list'}"
            self._injected_http(call)
            return 200, self._catalog(zone, collection, name)
        if collection == "operations":
            if verb_suffix == "wait" and verb == "POST":
                call["method"] = "operations.wait"
            elif verb == "GET" and not verb_suffix:
                call["method"] = "operations.get"
            else:
                raise ApiError(405, "methodNotAllowed", f"{verb} not allowed here")
            self._injected_http(call)
            return 200, self._operation_json(self._find_operation(zone, name))
        if verb == "POST" and not name:
            call["method"] = "insert"
            return self._insert(zone, query, payload, call)
        if verb == "GET" and not name:
            call["method"] = "list"
            self._injected_http(call)
            return 200, self._list(zone, query)
        if verb == "POST" and verb_suffix == "setMetadata":
            call["method"] = "setMetadata"
            return self._set_metadata(zone, name, query, payload, call)
        if verb == "GET" and verb_suffix == "serialPort":
            call["method"] = "getSerialPortOutput"
            self._injected_http(call)
            return 200, self._serial_port(zone, name, query)
        if verb == "GET":
            call["method"] = "get"
            self._injected_http(call)
            instance = self._instances.get((zone, name))
            if instance is None:
                raise _not_found(f"projects/{self.project}/zones/{zone}/instances/{name}")
            return 200, copy.deepcopy(instance)
        if verb == "DELETE" and name:
            call["method"] = "delete"
            return self._delete(zone, name, query, call)
        raise ApiError(405, "methodNotAllowed", f"{verb} not allowed here")

    def _quotas(self, route: re.Match[str], call: dict[str, Any]) -> tuple[int, Any]:
        """``projects.get``, ``regions.get`` and ``regions.list`` (gce_quotas)."""
        if route["project"] != self.project:
            raise _not_found(f"projects/{route['project']}")
        call.update(method=self.quota_book.method(route), name=route["region"] or "")
        self._injected_http(call)
        try:
            return 200, self.quota_book.answer(self.project, route)
        except KeyError:
            raise _not_found(f"projects/{self.project}/regions/{route['region']}") from None

    # ------------------------------------------------------------------ errors on demand

    def _injected_http(self, call: dict[str, Any], values: Mapping[str, str] | None = None
                       ) -> Rule | None:
        """Raise a matching injected HTTP error; return a matching operation error rule."""
        zone = call["zone"] or ""
        rule = self.fire("error", {"method": call["method"], "zone": zone,
                                   "region": zone.rsplit("-", 1)[0]})
        if rule is None:
            return None
        if rule.detail["fault"] in HTTP_ERRORS:
            status, reason, domain, template = HTTP_ERRORS[rule.detail["fault"]]
            call["outcome"] = "injected"
            raise ApiError(status, reason, template.format(**self._context(call, rule, values)),
                           domain)
        return rule

    def _context(self, call: Mapping[str, Any], rule: Rule,
                 values: Mapping[str, str] | None) -> dict[str, str]:
        zone = call["zone"] or ""
        return {"project": self.project, "zone": zone, "name": call.get("name") or "",
                "region": zone.rsplit("-", 1)[0], "metric": rule.detail["metric"],
                **(values or {})}

    def _tpu_fault(self, zone: str) -> str | None:
        """The injected fault (``inject_tpu``) a TPU create in ``zone`` meets, if any."""
        rule = self.fire("tpu", {"zone": zone})
        return None if rule is None else str(rule.detail["fault"])

    # ------------------------------------------------------------------ instances

    def _insert(self, zone: str, query: Mapping[str, str], payload: Any,
                call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request_id = query.get("requestId")
        if request_id is not None:
            _check_request_id(request_id)
            if request_id in self._request_ids:
                call["outcome"] = "replayed"
                return 200, self._operation_json(self._operations[self._request_ids[request_id]])
        if not isinstance(payload, dict):
            raise ApiError(400, "required", "Required field 'resource' not specified")
        call["name"] = str(payload.get("name", ""))
        call["body"] = copy.deepcopy(payload)
        failing = self._injected_http(call)
        instance = self._validated_instance(zone, payload)
        key = (zone, instance["name"])
        if key in self._instances:
            raise ApiError(409, "alreadyExists", f"The resource 'projects/{self.project}/zones/"
                           f"{zone}/instances/{instance['name']}' already exists")
        hold = self.fire("hold", {"method": "insert", "zone": zone})
        error = None
        if failing is not None:
            kind = failing.detail["fault"]
            status, template = OPERATION_ERRORS[kind]
            error = (kind, status, template.format(**self._context(call, failing, None)))
            call["outcome"] = "injected"
        operation = self._new_operation(zone, "insert", instance["name"], error,
                                        extra_s=hold.seconds if hold else 0.0)
        if error is None:
            instance["id"] = operation.id = str(next(self._ids))
            self._instances[key] = instance
        if request_id is not None:
            self._request_ids[request_id] = (zone, operation.name)
        return 200, self._operation_json(operation)

    def _validated_instance(self, zone: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The instance as stored, after every check the real API makes that greenml could
        get wrong; raises ApiError like Compute Engine."""
        region = zone.rsplit("-", 1)[0]
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _invalid("resource.name", name, "Must be a match of regex "
                           "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|[1-9][0-9]{0,19})'")
        machine_url = str(body.get("machineType", ""))
        machine_zone, machine_type = _zonal(machine_url, "machineTypes", self.project)
        if machine_zone != zone:
            raise _invalid("resource.machineType", machine_url,
                           f"Machine type must be in zone '{zone}'.")
        machine = self.world[zone]["machineTypes"].get(machine_type)
        if machine is None:
            raise _invalid("resource.machineType", machine_url, f"Machine type with name "
                           f"'{machine_type}' does not exist in zone '{zone}'.")
        gpus = sum(a["guestAcceleratorCount"] for a in machine.get("accelerators", []))
        for i, attached in enumerate(body.get("guestAccelerators") or []):
            where = f"resource.guestAccelerators[{i}].acceleratorType"
            url = str(attached.get("acceleratorType", ""))
            accelerator_zone, accelerator = _zonal(url, "acceleratorTypes", self.project)
            if accelerator_zone != zone or accelerator not in self.world[zone][
                    "acceleratorTypes"]:
                raise _invalid(where, url, f"Accelerator type '{accelerator}' does not exist "
                               f"in zone '{zone}'.")
            if machine.get("accelerators"):
                raise _invalid(where, url, f"Machine type '{machine_type}' comes with its own "
                               "accelerators; attach none.")
            count = int(attached.get("acceleratorCount", 0))
            if count not in N1_GPU_COUNTS.get(accelerator, ()):
                raise _invalid(f"resource.guestAccelerators[{i}].acceleratorCount", count,
                               f"{accelerator} can be attached in counts of "
                               f"{N1_GPU_COUNTS.get(accelerator, ())}.")
            gpus += count
        scheduling = body.get("scheduling") or {}
        if gpus and scheduling.get("onHostMaintenance") != "TERMINATE":
            raise ApiError(400, "badRequest", "Instances with guest accelerators do not "
                           "support live migration.")
        if scheduling.get("provisioningModel") == "SPOT" and scheduling.get(
                "automaticRestart", True):
            raise _invalid("resource.scheduling.automaticRestart", "true",
                           "Spot VMs cannot restart automatically.")
        _check_run_duration(scheduling)
        _check_labels("resource.labels", body.get("labels") or {})
        self._check_disks(zone, body.get("disks") or [])
        self._check_network(region, body.get("networkInterfaces") or [])
        for i, account in enumerate(body.get("serviceAccounts") or []):
            email = str(account.get("email", ""))
            if email != "default" and not re.match(r"^[^@\s]+@[^@\s]+\.gserviceaccount\.com$",
                                                   email):
                raise _invalid(f"resource.serviceAccounts[{i}].email", email)
        keys = [item.get("key") for item in (body.get("metadata") or {}).get("items") or []]
        if len(keys) != len(set(keys)):
            raise ApiError(400, "invalid", "Metadata has duplicate keys.")
        instance = copy.deepcopy(dict(body))
        instance["metadata"] = {"kind": "compute#metadata", "fingerprint": _fingerprint(),
                                **instance.get("metadata", {})}
        instance["networkInterfaces"][0] = {"name": "nic0", "networkIP":
                                            f"10.128.0.{next(self._addresses)}",
                                            **instance["networkInterfaces"][0]}
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000-00:00", time.gmtime())
        instance.update({
            "kind": "compute#instance",
            "status": "PROVISIONING",
            "zone": f"{API}/projects/{self.project}/zones/{zone}",
            "machineType": f"{API}/projects/{self.project}/zones/{zone}/machineTypes/"
                           f"{machine_type}",
            "selfLink": f"{API}/projects/{self.project}/zones/{zone}/instances/{name}",
            "creationTimestamp": now,
            "labelFingerprint": base64.b64encode(uuid.uuid4().bytes[:8]).decode(),
        })
        return instance

    def _check_disks(self, zone: str, disks: list[Mapping[str, Any]]) -> None:
        boot = [d for d in disks if d.get("boot")]
        if len(boot) != 1:
            raise ApiError(400, "invalid", "Exactly one boot disk must be specified.")
        params = boot[0].get("initializeParams") or {}
        image = str(params.get("sourceImage", ""))
        match = re.match(r"^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/"
                         r"global/images/family/([^/]+)$", image)
        if match is None or (match[1], match[2]) not in IMAGES:
            raise _not_found(image.removeprefix(f"{API}/"))
        size_gb = int(params.get("diskSizeGb") or IMAGES[(match[1], match[2])])
        if size_gb < IMAGES[(match[1], match[2])]:
            raise ApiError(400, "invalid", f"Requested disk size cannot be smaller than the "
                           f"image size ({IMAGES[(match[1], match[2])]} GB)")
        disk_type = str(params.get("diskType", f"zones/{zone}/diskTypes/pd-standard"))
        disk_zone, kind = _zonal(disk_type, "diskTypes", self.project)
        if disk_zone != zone or kind not in DISK_TYPES:
            raise _invalid("resource.disks[0].initializeParams.diskType", disk_type)
        _check_labels("resource.disks[0].initializeParams.labels", params.get("labels") or {})

    def _check_network(self, region: str, interfaces: list[Mapping[str, Any]]) -> None:
        if not interfaces:
            raise ApiError(400, "invalid", "At least one network interface is required.")
        for nic in interfaces:
            network = str(nic.get("network", "global/networks/default"))
            if network.rsplit("/", 1)[-1] != "default":
                raise _not_found(f"projects/{self.project}/global/networks/"
                                 f"{network.rsplit('/', 1)[-1]}")
            subnetwork = nic.get("subnetwork")
            if subnetwork and not re.search(rf"(^|/)regions/{region}/subnetworks/default$",
                                            str(subnetwork)):
                raise _not_found(str(subnetwork))

    def _delete(self, zone: str, name: str, query: Mapping[str, str],
                call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request_id = query.get("requestId")
        if request_id is not None:
            _check_request_id(request_id)
            if request_id in self._request_ids:
                call["outcome"] = "replayed"
                return 200, self._operation_json(self._operations[self._request_ids[request_id]])
        self._injected_http(call)
        instance = self._instances.get((zone, name))
        if instance is None:
            raise _not_found(f"projects/{self.project}/zones/{zone}/instances/{name}")
        instance["status"] = "STOPPING"
        operation = self._new_operation(zone, "delete", name, None)
        operation.id = instance.get("id", "")
        if request_id is not None:
            self._request_ids[request_id] = (zone, operation.name)
        return 200, self._operation_json(operation)

    def _set_metadata(self, zone: str, name: str, query: Mapping[str, str], payload: Any,
                      call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``instances.setMetadata``: replace the VM's metadata items, given the current
        fingerprint (Compute Engine's optimistic locking); a new fingerprint after."""
        request_id = query.get("requestId")
        if request_id is not None:
            _check_request_id(request_id)
            if request_id in self._request_ids:
                call["outcome"] = "replayed"
                return 200, self._operation_json(self._operations[self._request_ids[request_id]])
        call["body"] = copy.deepcopy(payload)
        self._injected_http(call)
        instance = self._instances.get((zone, name))
        if instance is None:
            raise _not_found(f"projects/{self.project}/zones/{zone}/instances/{name}")
        if not isinstance(payload, dict) or payload.get("fingerprint") != instance[
                "metadata"]["fingerprint"]:
            raise ApiError(412, "conditionNotMet", "Supplied fingerprint does not match "
                           "current metadata fingerprint.")
        items = list(payload.get("items") or [])
        keys = [item.get("key") for item in items]
        if len(keys) != len(set(keys)):
            raise ApiError(400, "invalid", "Metadata has duplicate keys.")
        instance["metadata"] = {"kind": "compute#metadata", "items": copy.deepcopy(items),
                                "fingerprint": _fingerprint()}
        operation = self._new_operation(zone, "setMetadata", name, None)
        operation.id = instance.get("id", "")
        if request_id is not None:
            self._request_ids[request_id] = (zone, operation.name)
        return 200, self._operation_json(operation)

    def _serial_port(self, zone: str, name: str, query: Mapping[str, str]) -> dict[str, Any]:
        """``instances.getSerialPortOutput``: the contents from byte ``start`` on, with the
        offset of the next read in ``next`` (Compute Engine keeps the last 1 MB)."""
        if (zone, name) not in self._instances:
            raise _not_found(f"projects/{self.project}/zones/{zone}/instances/{name}")
        port = query.get("port", "1")
        if port not in ("1", "2", "3", "4"):
            raise _invalid("port", port, "Must be between 1 and 4.")
        data = (self._serial.get((zone, name), "") if port == "1" else "").encode()
        try:
            start = max(0, int(query.get("start", "0")))
        except ValueError:
            raise _invalid("start", query.get("start"), "Must be an integer.") from None
        start = min(start, len(data))
        return {"kind": "compute#serialPortOutput", "contents": data[start:].decode(
            "utf-8", "replace"), "start": str(start), "next": str(len(data)),
            "selfLink": f"{API}/projects/{self.project}/zones/{zone}/instances/{name}"}

    def _list(self, zone: str, query: Mapping[str, str]) -> dict[str, Any]:
        matching = [v for (z, _), v in sorted(self._instances.items())
                    if z == zone and _matches(v, _parse_filter(query.get("filter", "")))]
        page, token = self._page(matching, query)
        answer: dict[str, Any] = {"kind": "compute#instanceList", "id": f"projects/"
                                  f"{self.project}/zones/{zone}/instances",
                                  "items": copy.deepcopy(page)}
        if token:
            answer["nextPageToken"] = token
        return answer

    def _aggregated(self, query: Mapping[str, str]) -> dict[str, Any]:
        terms = _parse_filter(query.get("filter", ""))
        matching = [v for _, v in sorted(self._instances.items()) if _matches(v, terms)]
        page, token = self._page(matching, query)
        items: dict[str, Any] = {}
        for zone in sorted(self.world):
            scoped = [copy.deepcopy(v) for v in page if v["zone"].endswith(f"/zones/{zone}")]
            items[f"zones/{zone}"] = {"instances": scoped} if scoped else {"warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope 'zones/{zone}' on this page.",
                "data": [{"key": "scope", "value": f"zones/{zone}"}]}}
        answer: dict[str, Any] = {"kind": "compute#instanceAggregatedList",
                                  "id": f"projects/{self.project}/aggregated/instances",
                                  "items": items}
        if token:
            answer["nextPageToken"] = token
        return answer

    def _page(self, items: list[Any], query: Mapping[str, str]) -> tuple[list[Any], str]:
        try:
            start = int(query.get("pageToken") or 0)
            size = min(int(query.get("maxResults") or self.page_size), self.page_size)
        except ValueError:
            raise _invalid("pageToken", query.get("pageToken")) from None
        end = start + size
        return items[start:end], (str(end) if end < len(items) else "")

    def _catalog(self, zone: str, collection: str, name: str | None) -> dict[str, Any]:
        table = self.world[zone][collection]
        if name is not None and name not in table:
            raise _not_found(f"projects/{self.project}/zones/{zone}/{collection}/{name}")
        names = [name] if name is not None else sorted(table)
        link = f"{API}/projects/{self.project}/zones/{zone}/{collection}"
        if collection == "machineTypes":
            items = [{"kind": "compute#machineType", "name": n, "zone": zone,
                      "selfLink": f"{link}/{n}", **copy.deepcopy(table[n])} for n in names]
        else:
            items = [{"kind": "compute#acceleratorType", "name": n, "zone": f"{API}/projects/"
                      f"{self.project}/zones/{zone}", "selfLink": f"{link}/{n}",
                      "maximumCardsPerInstance": table[n]} for n in names]
        if name is not None:
            return items[0]
        return {"kind": f"compute#{collection[:-1]}List", "items": items}

    # ------------------------------------------------------------------ operations

    def _new_operation(self, zone: str, kind: str, target: str,
                       error: tuple[str, int, str] | None, extra_s: float = 0.0) -> _Operation:
        now = time.monotonic()
        name = f"operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
        operation = _Operation(name, zone, kind, target, now, now + self.step_s,
                               now + 2 * self.step_s + extra_s, error)
        if error and error[0].endswith("_WITH_DETAILS"):
            operation.details = [{"errorInfo": {
                "reason": "resource_availability", "domain": "compute.googleapis.com",
                "metadatas": {"zone": zone, "vmType": target}}}]
        self._operations[(zone, name)] = operation
        return operation

    def _find_operation(self, zone: str, name: str | None) -> _Operation:
        operation = self._operations.get((zone, name or ""))
        if operation is None:
            raise _not_found(f"projects/{self.project}/zones/{zone}/operations/{name}")
        return operation

    def _advance(self) -> None:
        """Apply what the clock says has happened: VMs start, fail or go away."""
        now = time.monotonic()
        for operation in self._operations.values():
            key = (operation.zone, operation.target)
            instance = self._instances.get(key)
            if operation.finished:
                continue
            starting = (operation.kind == "insert" and instance is not None
                        and instance.get("id") == operation.id
                        and instance["status"] != "STOPPING")
            if starting and now >= operation.running_at:
                instance["status"] = "STAGING"
            if now < operation.done_at:
                continue
            operation.finished = True
            if starting:
                instance["status"] = "RUNNING"
            elif operation.kind == "delete" and instance is not None and instance.get(
                    "id") == operation.id:
                del self._instances[key]

    def _operation_json(self, operation: _Operation) -> dict[str, Any]:
        now = time.monotonic()
        status = ("DONE" if operation.finished else "RUNNING" if now >= operation.running_at
                  else "PENDING")
        link = f"{API}/projects/{self.project}/zones/{operation.zone}"
        answer: dict[str, Any] = {
            "kind": "compute#operation",
            "id": str(abs(hash(operation.name)) % 10**18),
            "name": operation.name,
            "zone": link,
            "operationType": operation.kind,
            "targetLink": f"{link}/instances/{operation.target}",
            "status": status,
            "progress": 100 if status == "DONE" else 0,
            "user": "greenml-test@example.iam.gserviceaccount.com",
            "selfLink": f"{link}/operations/{operation.name}",
        }
        if operation.id:
            answer["targetId"] = operation.id
        if status == "DONE" and operation.error:
            code, http_status, message = operation.error
            error: dict[str, Any] = {"code": code, "message": message}
            if operation.details:
                error["errorDetails"] = operation.details
            answer.update(error={"errors": [error]}, httpErrorStatusCode=http_status,
                          httpErrorMessage=_HTTP_PHRASES.get(http_status, "ERROR"))
        return answer

    def _wait(self, zone: str, name: str) -> tuple[int, dict[str, Any]]:
        """``operations.wait``: return when DONE or after ``wait_cap_s`` (Google: ~2 min)."""
        deadline = time.monotonic() + self.wait_cap_s
        while True:
            with self.lock:
                self._advance()
                operation = self._find_operation(zone, name)
                if operation.finished or time.monotonic() >= deadline:
                    return 200, self._operation_json(operation)
            time.sleep(0.005)

    # ------------------------------------------------------------------ OAuth

    def _token(self, body: bytes) -> Reply:
        """The JWT-bearer grant: verify the assertion's RS256 signature and claims."""
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        with self.lock:
            auth = self._auth
        refused = (400, {"Content-Type": "application/json"}, json.dumps(
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}).encode())
        if auth is None or form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return refused
        try:
            claims = _verify_jwt(form.get("assertion", ""), auth["public_key_pem"])
        except Exception:
            return refused
        if claims.get("iss") != auth["email"] or claims.get("exp", 0) < time.time():
            return refused
        token = f"ya29.fake-{uuid.uuid4().hex}"
        with self.lock:
            self._tokens.add(token)
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).encode()


# ---------------------------------------------------------------------- helpers


def _check_request_id(request_id: str) -> None:
    try:
        parsed = uuid.UUID(request_id)
    except ValueError:
        raise _invalid("requestId", request_id, "Must be a valid UUID.") from None
    if parsed.int == 0:
        raise _invalid("requestId", request_id, "The zero UUID is not supported.")


def _fingerprint() -> str:
    return base64.b64encode(uuid.uuid4().bytes[:8]).decode()


def _check_run_duration(scheduling: Mapping[str, Any]) -> None:
    """``maxRunDuration`` needs ``instanceTerminationAction`` (STOP or DELETE) and lies
    between 30 s and 120 days, as Compute Engine demands."""
    duration = scheduling.get("maxRunDuration")
    if duration is None:
        return
    if scheduling.get("instanceTerminationAction") not in ("STOP", "DELETE"):
        raise _invalid("resource.scheduling.instanceTerminationAction",
                       scheduling.get("instanceTerminationAction"),
                       "instanceTerminationAction is required with maxRunDuration.")
    seconds = int(duration.get("seconds", 0))
    if not 30 <= seconds <= 120 * 24 * 3600:
        raise _invalid("resource.scheduling.maxRunDuration.seconds", seconds,
                       "Must be between 30 seconds and 120 days.")


def _zonal(url: str, collection: str, project: str) -> tuple[str, str]:
    """(zone, name) of a full or partial zonal resource URL (``zones/Z/<collection>/N``)."""
    match = re.match(rf"^(?:{re.escape(API)}/)?(?:projects/{re.escape(project)}/)?"
                     rf"zones/([^/]+)/{collection}/([^/]+)$", url)
    if match is None:
        raise _invalid(f"{collection} URL", url)
    return match[1], match[2]


def _check_labels(where: str, labels: Mapping[str, Any]) -> None:
    if len(labels) > 64:
        raise _invalid(where, len(labels), "At most 64 labels.")
    for key, value in labels.items():
        if not _LABEL_KEY.match(str(key)):
            raise _invalid(f"{where}.key", key, "Label keys must start with a lowercase "
                           "letter and contain only lowercase letters, digits, '_' and '-'.")
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise _invalid(f"{where}.value", value, "Label values may contain only lowercase "
                           "letters, digits, '_' and '-', at most 63 characters.")


def _parse_filter(expression: str) -> list[tuple[str, bool, str]]:
    """``labels.k = "v" AND name != x`` -> [(field, equal?, value)]; refuses what it can't
    read, as Compute Engine does."""
    terms = []
    rest = expression.strip()
    while rest:
        match = _FILTER_TERM.match(rest)
        if match is None:
            raise _invalid("filter", expression, "Invalid list filter expression.")
        value = match["value"].strip('"')
        terms.append((match["field"], match["op"] in ("=", "eq"), value))
        rest = rest[match.end():].strip()
        if rest.upper().startswith("AND "):
            rest = rest[4:].strip()
    return terms


def _matches(instance: Mapping[str, Any], terms: list[tuple[str, bool, str]]) -> bool:
    for field_name, equal, value in terms:
        if field_name.startswith("labels."):
            actual = (instance.get("labels") or {}).get(field_name[len("labels."):])
        else:
            actual = instance.get(field_name)
        if (str(actual) == value) != equal:
            return False
    return True


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _verify_jwt(assertion: str, public_key_pem: bytes) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    header, claims, signature = assertion.split(".")
    key = serialization.load_pem_public_key(public_key_pem)
    key.verify(_b64url(signature), f"{header}.{claims}".encode(),  # type: ignore[union-attr]
               padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
    if json.loads(_b64url(header)).get("alg") != "RS256":
        raise ValueError("not RS256")
    return json.loads(_b64url(claims))


def write_service_account_file(path: Path, fake: FakeCompute,
                               email: str = "trainer@greenml-test.iam.gserviceaccount.com"
                               ) -> str:
    """Write a service-account key file whose token URI is the fake's ``/token``, make the
    fake demand tokens for it, and return the private key's PEM text (the secret)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    path.write_text(json.dumps({
        "type": "service_account", "project_id": fake.project,
        "private_key_id": uuid.uuid4().hex, "private_key": private_pem,
        "client_email": email, "client_id": "1234567890",
        "token_uri": f"{fake.endpoint_url}/token",
    }))
    fake.require_service_account(email, public_pem)
    return private_pem
