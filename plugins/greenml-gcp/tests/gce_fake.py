"""A small local Compute Engine for tests: the documented REST paths, JSON and errors.

No Compute Engine emulator exists, so this stdlib ``ThreadingHTTPServer`` on 127.0.0.1 serves
the part of the v1 REST API that greenml uses, as Google documents it, to the real
``google.cloud.compute_v1`` clients (REST transport):

    POST/GET/DELETE /compute/v1/projects/{p}/zones/{z}/instances[/{name}]   (list: filter, paging)
    GET  /compute/v1/projects/{p}/aggregated/instances                      (filter, paging)
    GET  /compute/v1/projects/{p}/zones/{z}/operations/{op}  and  POST .../{op}/wait
    GET  /compute/v1/projects/{p}/zones/{z}/machineTypes[/{t}]  and  .../acceleratorTypes[/{t}]
    POST /token   (OAuth 2.0 JWT-bearer grant, for service-account credentials)

It refuses what the real API refuses (unknown project, zone, machine type, accelerator type or
image; a duplicate instance name: 409 alreadyExists; a requestId that is not a UUID; invalid
label keys or values, or names; GPUs without ``onHostMaintenance=TERMINATE``; attached GPUs on
a type with built-in ones; a Spot VM that restarts automatically) with Google's error body
``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}``. Inserts and
deletes return operations that go PENDING -> RUNNING -> DONE; a requestId seen before returns
its first operation and creates nothing. The zones and their machine and accelerator types
come from ``gce_world.json`` (real zones; its ``source`` says where from).

Steering: ``inject`` (HTTP errors such as 403 quotaExceeded or 429 rateLimitExceeded, or
failed operations such as ZONE_RESOURCE_POOL_EXHAUSTED or QUOTA_EXCEEDED), ``hold`` (keep
inserts RUNNING), ``delay`` (hold a reply after its effect), ``require_service_account``
(demand OAuth bearer tokens issued by ``/token``); looking: ``instances``, ``calls``.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tpu_fake import FakeTpu, TpuError

from greenml.testing import Countdown

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
    r"(?:/(?P<name>[^/]+))?(?:/(?P<verb>wait))?)$")
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


class _Answered(Exception):  # noqa: N818 - a way out of handle(), not an error
    """The Cloud TPU part answered; leave the Compute Engine routing."""

    def __init__(self, status: int, answer: dict[str, Any]) -> None:
        self.status, self.answer = status, answer


def _invalid(field_name: str, value: Any, why: str = "") -> ApiError:
    text = f"Invalid value for field '{field_name}': '{value}'."
    return ApiError(400, "invalid", f"{text} {why}".strip())


def _not_found(path: str) -> ApiError:
    return ApiError(404, "notFound", f"The resource '{path}' was not found")


@dataclass
class _Rule(Countdown):
    """One injected error or delay and what is left of it."""

    method: str
    kind: str
    zone: str | None
    region: str | None
    skip: int
    remaining: int | None
    metric: str = "NVIDIA_T4_GPUS"
    seconds: float = 0.0

    def matches(self, method: str, zone: str) -> bool:
        return (self.method == method and (self.zone is None or self.zone == zone)
                and (self.region is None or zone.rsplit("-", 1)[0] == self.region))


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


class FakeCompute:
    """The fake's state and steering; ``start()`` serves it on 127.0.0.1:<free port>."""

    def __init__(self, project: str = "greenml-test", world: Mapping[str, Any] | None = None,
                 *, step_s: float = 0.02, wait_cap_s: float = 1.0, page_size: int = 500) -> None:
        self.project = project
        self.world = dict(world if world is not None else load_world())
        self.step_s, self.wait_cap_s, self.page_size = step_s, wait_cap_s, page_size
        self.endpoint_url = ""
        self._lock = threading.RLock()
        self._ids = itertools.count(4_000_000_000_000_000_001)
        self._server: ThreadingHTTPServer | None = None
        self._wake = threading.Event()
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeCompute:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True,
                         name="gce-fake").start()
        return self

    def stop(self) -> None:
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeCompute:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget instances, operations, requestIds, rules, calls and auth; release delays."""
        with self._lock:
            self._instances: dict[tuple[str, str], dict[str, Any]] = {}
            self._operations: dict[tuple[str, str], _Operation] = {}
            self._request_ids: dict[str, tuple[str, str]] = {}
            self._rules: list[_Rule] = []
            self._holds: list[_Rule] = []
            self._delays: list[_Rule] = []
            self._calls: list[dict[str, Any]] = []
            self._auth: dict[str, Any] | None = None
            self._tokens: set[str] = set()
            self.tpu = FakeTpu(self.project, set(self.world))
            self._wake.set()
            self._wake = threading.Event()

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
        with self._lock:
            self._rules.append(_Rule(method, kind, zone, region, after, times, metric))

    def hold(self, seconds: float, *, zone: str | None = None, times: int | None = None) -> None:
        """Keep matching inserts' operations RUNNING for ``seconds`` before they finish."""
        with self._lock:
            self._holds.append(_Rule("insert", "hold", zone, None, 0, times, seconds=seconds))

    def delay(self, method: str, seconds: float, *, times: int | None = 1,
              zone: str | None = None) -> None:
        """Hold the reply to matching calls for ``seconds`` after their effect (the VM exists
        before the client hears of it); ``reset()``/``stop()`` release it."""
        with self._lock:
            self._delays.append(_Rule(method, "delay", zone, None, 0, times, seconds=seconds))

    def inject_tpu(self, kind: str, *, zone: str | None = None, times: int = 1) -> None:
        """Fail the next ``times`` TPU creates (in ``zone``): "stockout" (the operation ends
        RESOURCE_EXHAUSTED, no node) or "quota" (429 at once)."""
        if kind not in ("stockout", "quota"):
            raise ValueError(f"unknown TPU fault {kind!r}")
        with self._lock:
            self.tpu.faults += [(kind, zone)] * times

    def tpu_nodes(self) -> list[dict[str, Any]]:
        """Every TPU node that exists, as the Cloud TPU API returns it."""
        with self._lock:
            return [copy.deepcopy(n) for _, n in sorted(self.tpu.nodes.items())]

    def require_service_account(self, email: str, public_key_pem: bytes) -> None:
        """From now on, demand ``Authorization: Bearer`` tokens that ``/token`` issued for a
        JWT signed by this service account's key (RS256), as Google's OAuth server does."""
        with self._lock:
            self._auth = {"email": email, "public_key_pem": public_key_pem}

    # ------------------------------------------------------------------ looking

    def instances(self, zone: str | None = None) -> list[dict[str, Any]]:
        """Every VM that exists (any status), as Compute Engine would return it."""
        with self._lock:
            self._advance()
            return [copy.deepcopy(v) for (z, _), v in sorted(self._instances.items())
                    if zone is None or z == zone]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every API call received, oldest first: method, zone, name, query, body, status,
        outcome (answered, injected, replayed, refused)."""
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls
                    if method is None or c["method"] == method]

    # ------------------------------------------------------------------ serving

    def handle(self, verb: str, target: str, headers: Mapping[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: (status, headers, body)."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path == "/token" and verb == "POST":
            return self._token(body)
        call: dict[str, Any] = {"verb": verb, "path": parts.path, "query": query,
                                "method": "", "zone": "", "name": "", "status": None,
                                "outcome": "answered"}
        delay = None
        try:
            self._authorise(headers)
            if parts.path.startswith("/v2/"):  # the Cloud TPU API
                payload = json.loads(body) if body.strip() else None
                with self._lock:
                    try:
                        status, answer = self.tpu.handle(verb, parts.path, query, payload, call)
                    except TpuError as error:
                        raise ApiError(error.status, "", error.message) from None
                    delay, wake = _fire(self._delays, call["method"], call["zone"]), self._wake
                raise _Answered(status, answer)
            route = _ROUTE.match(parts.path)
            if route is None:
                raise ApiError(404, "notFound", f"Not Found: {verb} {parts.path}")
            payload = json.loads(body) if body.strip() else None
            with self._lock:
                self._advance()
                status, answer = self._dispatch(verb, route, query, payload, call)
                delay = _fire(self._delays, call["method"], call["zone"])
                wake = self._wake
            if call["method"] == "operations.wait":
                status, answer = self._wait(route["zone"], route["name"])
        except _Answered as answered:
            status, answer, headers_out = answered.status, answered.answer, {}
        except ApiError as error:
            status, answer = error.status, error.body()
            if call["method"].startswith("tpu."):
                answer = TpuError(error.status, error.message).body()
            if call["outcome"] == "answered":
                call["outcome"] = "refused"
            headers_out = error.headers
        else:
            headers_out = {}
        data = json.dumps(answer).encode()
        with self._lock:
            call["status"] = status
            self._calls.append(call)
        if delay is not None:
            wake.wait(delay.seconds)
        return status, {"Content-Type": "application/json; charset=UTF-8", **headers_out}, \
            data

    def _authorise(self, headers: Mapping[str, str]) -> None:
        """With a service account required: a Bearer token ``/token`` issued, or a JWT the
        account signed itself (google-auth's self-signed JWT access, which Google accepts)."""
        with self._lock:
            auth, tokens = self._auth, set(self._tokens)
        if auth is None:
            return
        value = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
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

    # ------------------------------------------------------------------ errors on demand

    def _injected_http(self, call: dict[str, Any], values: Mapping[str, str] | None = None
                       ) -> _Rule | None:
        """Raise a matching injected HTTP error; return a matching operation error rule."""
        rule = _fire(self._rules, call["method"], call["zone"])
        if rule is None:
            return None
        if rule.kind in HTTP_ERRORS:
            status, reason, domain, template = HTTP_ERRORS[rule.kind]
            call["outcome"] = "injected"
            raise ApiError(status, reason, template.format(**self._context(call, rule, values)),
                           domain)
        return rule

    def _context(self, call: Mapping[str, Any], rule: _Rule,
                 values: Mapping[str, str] | None) -> dict[str, str]:
        zone = call["zone"] or ""
        return {"project": self.project, "zone": zone, "name": call.get("name") or "",
                "region": zone.rsplit("-", 1)[0], "metric": rule.metric, **(values or {})}

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
        hold = _fire(self._holds, "insert", zone)
        error = None
        if failing is not None:
            status, template = OPERATION_ERRORS[failing.kind]
            error = (failing.kind, status, template.format(**self._context(call, failing, None)))
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
            with self._lock:
                self._advance()
                operation = self._find_operation(zone, name)
                if operation.finished or time.monotonic() >= deadline:
                    return 200, self._operation_json(operation)
            time.sleep(0.005)

    # ------------------------------------------------------------------ OAuth

    def _token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """The JWT-bearer grant: verify the assertion's RS256 signature and claims."""
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        with self._lock:
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
        with self._lock:
            self._tokens.add(token)
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).encode()


# ---------------------------------------------------------------------- helpers


def _fire(rules: list[_Rule], method: str, zone: str) -> _Rule | None:
    """The first rule acting on this call (caller holds the lock); spent rules are dropped."""
    fired = None
    for rule in rules:
        if rule.matches(method, zone) and rule.take():
            fired = rule
            break
    rules[:] = [r for r in rules if r.remaining != 0]
    return fired


def _check_request_id(request_id: str) -> None:
    try:
        parsed = uuid.UUID(request_id)
    except ValueError:
        raise _invalid("requestId", request_id, "Must be a valid UUID.") from None
    if parsed.int == 0:
        raise _invalid("requestId", request_id, "The zero UUID is not supported.")


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


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, lets FakeCompute answer it, writes the answer (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "ESF"

    def do_request(self) -> None:
        fake: FakeCompute = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = fake.handle(self.command, self.path, dict(self.headers),
                                               body)
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (killed mid-delay): fine

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: tests read calls() instead of an access log."""
