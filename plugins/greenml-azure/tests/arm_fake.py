"""A small local Azure Resource Manager (and Microsoft Entra token endpoint) for the tests.

It speaks the documented ARM REST wire format for exactly what greenml-azure uses, over HTTPS
with a self-signed certificate made at start-up, so the real ``azure-identity`` credential and
the real ``ComputeManagementClient`` / ``NetworkManagementClient`` / ``ResourceManagementClient``
run unchanged against it:

* Entra: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials; a wrong secret is ``invalid_client``);
* subscriptions (``GET /subscriptions[/{id}]``), resource groups, the generic resource list
  with its tag ``$filter`` and ``nextLink`` paging, resource SKUs with restrictions, compute
  usages per location (vCPU quotas per VM family, ``azure_quotas``);
* virtual networks and subnets, network interfaces, public IP addresses, virtual machines and
  managed disks, each PUT/PATCH/DELETE answered ``201``/``202`` with ``Azure-AsyncOperation``
  (and ``Location`` on DELETE) and an operation-status resource that goes ``InProgress`` ->
  ``Succeeded`` / ``Failed`` with ``error.code``;
* ARM's refusals: a missing ``api-version``, a missing or unknown bearer token, an unknown
  location or VM size, a size not offered in a location (``SkuNotAvailable``), a reference to a
  subnet, public IP or NIC that does not exist, deleting a NIC, IP or disk still in use;
* VM deletion honours the ``deleteOption`` of its NICs, OS disk and public IPs, as ARM does;
  the OS disk is created untagged (ARM does not copy a VM's tags onto it);
* a VM's system-assigned managed identity (``identity.type``: a ``principalId`` and
  ``tenantId`` in the answer), and role assignments at a VM's scope
  (``PUT/GET/DELETE {vm id}/providers/Microsoft.Authorization/roleAssignments/{guid}``,
  answered at once): the name must be a GUID, the role a built-in role definition id of the
  subscription, the principal an identity that exists (else 400 ``PrincipalNotFound``), the
  same principal and role at the same scope under another name is 409
  ``RoleAssignmentExists``; deleting a VM leaves its role assignments (orphaned), as Azure
  does.

Tests steer it with ``inject`` (an error answer, e.g. 409 ``SkuNotAvailable`` or 429 with
``Retry-After``), ``fail_operation`` (accept a PUT, then end its operation ``Failed``, e.g.
``AllocationFailed``), ``restrict`` (a resource-SKU restriction), ``slow_operations`` and read
its state with ``resources``, ``role_assignments`` and ``calls``. Locations and VM sizes
come from greenml-azure's own catalog (``regions.csv``/``offers.csv``). Nothing here
reaches beyond 127.0.0.1. The server, its TLS, rules and call log are
greenml.testing.fakeserver's.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime
import importlib.resources
import io
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, quote

from azure_quotas import family_of, usages

from greenml.testing.fakeserver import FakeServer, Reply, Rule, split_target

__all__ = ["FakeARM"]

#: Canonical casing of the resource types served, by their lower-case spelling.
TYPES = {
    "microsoft.network/virtualnetworks": "Microsoft.Network/virtualNetworks",
    "microsoft.network/networkinterfaces": "Microsoft.Network/networkInterfaces",
    "microsoft.network/publicipaddresses": "Microsoft.Network/publicIPAddresses",
    "microsoft.compute/virtualmachines": "Microsoft.Compute/virtualMachines",
    "microsoft.compute/disks": "Microsoft.Compute/disks",
}
SUBNETS = "Microsoft.Network/virtualNetworks/subnets"
#: Where the fake serves boot diagnostics blobs (Azure: a managed storage account's host).
BLOB_PREFIX = "/bootdiagnostics-blob/"
RESOURCE_GROUPS = "Microsoft.Resources/resourceGroups"

_SEG = r"([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("openid", re.compile(rf"^/{_SEG}/v2\.0/\.well-known/openid-configuration$", re.I)),
    ("token", re.compile(rf"^/{_SEG}/oauth2/v2\.0/token$", re.I)),
    ("subscriptions", re.compile(r"^/subscriptions$", re.I)),
    ("subscription", re.compile(rf"^/subscriptions/{_SEG}$", re.I)),
    ("resources", re.compile(rf"^/subscriptions/{_SEG}/resources$", re.I)),
    ("skus", re.compile(rf"^/subscriptions/{_SEG}/providers/Microsoft\.Compute/skus$", re.I)),
    ("usages", re.compile(
        rf"^/subscriptions/{_SEG}/providers/Microsoft\.Compute/locations/{_SEG}/usages$", re.I)),
    ("operation", re.compile(
        rf"^/subscriptions/{_SEG}/providers/(Microsoft\.\w+)/locations/{_SEG}/operations/{_SEG}$",
        re.I)),
    ("group", re.compile(rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}$", re.I)),
    ("subnet", re.compile(
        rf"^/subscriptions/{_SEG}/resourceGroups/{_SEG}/providers/Microsoft\.Network/"
        rf"virtualNetworks/{_SEG}/subnets/{_SEG}$", re.I)),
    ("bootdiagnostics", re.compile(
        rf"^/subscriptions/{_SEG}/resourceGroups/{_SEG}/providers/Microsoft\.Compute/"
        rf"virtualMachines/{_SEG}/retrieveBootDiagnosticsData$", re.I)),
    ("roleassignment", re.compile(
        rf"^/subscriptions/{_SEG}/resourceGroups/{_SEG}/providers/Microsoft\.Compute/"
        rf"virtualMachines/{_SEG}/providers/Microsoft\.Authorization/roleAssignments/{_SEG}$",
        re.I)),
    ("resource", re.compile(
        rf"^/subscriptions/{_SEG}/resourceGroups/{_SEG}/providers/(Microsoft\.\w+/\w+)/{_SEG}$",
        re.I)),
]

#: Built-in role definitions the fake knows: Virtual Machine Contributor, Reader.
ROLE_DEFINITIONS = {"9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "acdd72a7-3385-48ef-bd42-f606fba81ae7"}
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

_TAG_FILTER = re.compile(r"^tagName eq '([^']*)' and tagValue eq '([^']*)'$")
_LOCATION_FILTER = re.compile(r"^location eq '([^']*)'$")
_SIZE_PATTERN = re.compile(r"^Standard_[A-Za-z0-9_]+$")


class ArmError(Exception):
    """An ARM error answer: status, ``{"error": {"code", "message"}}`` and extra headers."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.target = status, code, message, target
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


@dataclass
class _Operation:
    """An asynchronous operation: ``polls_left`` InProgress answers, then its outcome."""

    op_id: str
    namespace: str
    location: str
    polls_left: int
    on_success: Callable[[], None]
    error: tuple[str, str] | None = None
    on_failure: Callable[[], None] = lambda: None
    status: str = "InProgress"
    started: str = field(default_factory=lambda: _now())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _catalog() -> tuple[set[str], dict[str, set[str]], dict[str, str]]:
    """Locations, VM size -> locations offering it, and each size's spelling, from
    greenml-azure's package data (ARM compares names case-insensitively)."""
    data = importlib.resources.files("greenml_azure.data")
    regions = {row["region"].lower() for row in
               csv.DictReader(io.StringIO(data.joinpath("regions.csv").read_text("utf-8")))}
    sizes: dict[str, set[str]] = {}
    spelling: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(data.joinpath("offers.csv").read_text("utf-8"))):
        sizes.setdefault(row["instance_type"].lower(), set()).add(row["region"].lower())
        spelling[row["instance_type"].lower()] = row["instance_type"]
    return regions, sizes, spelling


class FakeARM(FakeServer):
    """The server and its state. ``start()``/``stop()``, or use it as a context manager."""

    def __init__(self, *, tenant_id: str = "00000000-0000-4000-8000-00000000aaaa",
                 client_id: str = "00000000-0000-4000-8000-00000000cccc",
                 client_secret: str = "fake-client-secret-do-not-print",
                 subscription_id: str = "00000000-0000-4000-8000-000000005555",
                 page_size: int = 4, default_polls: int = 1) -> None:
        super().__init__()
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.subscription_id = subscription_id
        self.page_size, self.default_polls = page_size, default_polls
        self.locations, self.sizes, self.size_names = _catalog()
        self.use_tls(name="greenml test ARM")  # ca_bundle: the CA file to trust
        self.reset()

    @property
    def endpoint(self) -> str:
        return self.url

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> Reply:
        path, query = split_target(target)
        if path.startswith(BLOB_PREFIX):
            return self._blob(verb, path, query, headers)
        return _Exchange(self, verb, target, headers, body).serve()

    def set_serial_console(self, vm_name: str, text: str) -> None:
        """What the serial console log blob of VM ``vm_name`` holds from now on."""
        with self.lock:
            self.consoles[vm_name.lower()] = text

    def _blob(self, verb: str, path: str, query: dict[str, str], headers: Message) -> Reply:
        """A serial console log blob, read with its SAS (as Azure Storage serves it); an ARM
        bearer token must not come here."""
        self.record({"method": verb, "kind": "blob", "path": path, "name": path.split("/")[2],
                     "location": None, "size": None, "body": None, "query": dict(query),
                     "authorization": headers.get("Authorization", "")})
        with self.lock:
            vm = self.sas.get(query.get("sig", ""))
            text = self.consoles.get(vm or "", "")
        if verb != "GET" or vm is None:
            return 403, {"Content-Type": "application/xml"}, (
                b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed'
                b"</Code><Message>Server failed to authenticate the request.</Message></Error>")
        return 200, {"Content-Type": "text/plain", "x-ms-blob-type": "BlockBlob"}, text.encode()

    def environment(self) -> dict[str, str]:
        """The environment a greenml process needs to use this fake as its Azure."""
        return {
            "GREENML_AZURE_ENDPOINT": self.endpoint,
            "GREENML_AZURE_CA_BUNDLE": str(self.ca_bundle),
            "AZURE_AUTHORITY_HOST": self.endpoint,
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_SUBSCRIPTION_ID": self.subscription_id,
            "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
        }

    # steering

    def reset(self) -> None:
        """Forget every resource, token, rule and call."""
        with self.lock:
            self.store: dict[str, dict[str, Any]] = {}
            self.groups: dict[str, dict[str, Any]] = {}
            self.operations: dict[str, _Operation] = {}
            self.tokens: set[str] = set()
            self.restrictions: list[dict[str, Any]] = []
            self.subscriptions = {self.subscription_id.lower(): self.subscription_id}
            self.consoles: dict[str, str] = {}
            #: role assignment id, lower-case -> its record
            self.roles: dict[str, dict[str, Any]] = {}
            self.sas: dict[str, str] = {}  # SAS signature -> the VM whose blob it reads
            #: location -> usage name -> (limit, current), for the usages list (azure_quotas)
            self.usages: dict[str, dict[str, tuple[float, float]]] = {}
            super().reset()

    def inject(self, method: str, kind: str, code: str, *, status: int = 400,
               message: str = "", location: str | None = None, size: str | None = None,
               times: int | None = 1, after: int = 0, retry_after: str | None = None) -> None:
        """Answer matching requests with an ARM error (``kind``: "virtualMachines", "token"...)."""
        self.add_rule("error", _key(method.upper(), _kind(kind), location, size), times=times,
                      after=after, status=status, code=code, message=message,
                      retry_after=retry_after)

    def fail_operation(self, kind: str, code: str, *, message: str = "",
                       location: str | None = None, size: str | None = None,
                       times: int | None = 1, after: int = 0) -> None:
        """Accept matching PUTs, then end their asynchronous operation ``Failed`` with ``code``."""
        self.add_rule("operation", _key(None, _kind(kind), location, size), times=times,
                      after=after, code=code, message=message)

    def slow_operations(self, kind: str, polls: int, *, method: str = "PUT",
                        location: str | None = None) -> None:
        """Keep the operations of matching requests InProgress for ``polls`` status reads."""
        self.add_rule("slow", _key(method.upper(), _kind(kind), location, None), times=None,
                      polls=polls)

    def restrict(self, size: str, location: str,
                 reason: str = "NotAvailableForSubscription") -> None:
        """A resource-SKU restriction: ``size`` cannot be had in ``location``."""
        with self.lock:
            self.restrictions.append({"size": size.lower(), "location": location.lower(),
                                      "reason": reason})

    def set_usage(self, location: str, name: str, limit: float, current: float = 0) -> None:
        """A compute usage (a VM family's vCPU quota, or ``lowPriorityCores``) in
        ``location``, served by the usages list until ``reset()``."""
        with self.lock:
            self.usages.setdefault(location.lower(), {})[name] = (limit, current)

    def resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every resource that exists now (deep copies), optionally of one type."""
        with self.lock:
            want = _kind(kind) if kind else None
            return [json.loads(json.dumps(r)) for r in self.store.values()
                    if want is None or r["type"].lower() == want]

    def role_assignments(self) -> list[dict[str, Any]]:
        """Every role assignment that exists now (deep copies)."""
        with self.lock:
            return [json.loads(json.dumps(r)) for r in self.roles.values()]

    def names(self, kind: str) -> list[str]:
        return sorted(r["name"] for r in self.resources(kind))

    def calls(self, method: str | None = None, kind: str | None = None,
              **where: Any) -> list[dict[str, Any]]:
        """Requests received, in order (method, path, kind, name, location, size, body...)."""
        return super().calls(method=method.upper() if method else None,
                             kind=_kind(kind) if kind else None, **where)

    # internals shared with the exchange

    def _rule(self, method: str, kind: str, location: str | None,
              size: str | None) -> Rule | None:
        return self.fire("error", _key(method, kind, location, size))

    def _start_operation(self, namespace: str, location: str, kind: str, method: str,
                         on_success: Callable[[], None], location_: str | None = None,
                         size: str | None = None) -> _Operation:
        polls = self.default_polls
        for rule in self.rules("slow", _key(method, kind, location_ or location, None)):
            polls = rule.detail["polls"]
        error = None
        if method == "PUT":
            failing = self.fire("operation", _key(None, kind, location_ or location, size))
            if failing is not None:
                code = failing.detail["code"]
                error = (code, failing.detail["message"] or _MESSAGES.get(
                    code, f"{code}: the operation failed."))
        op = _Operation(uuid.uuid4().hex, namespace, location, polls, on_success, error)
        self.operations[op.op_id] = op
        return op

    def _advance(self, op: _Operation) -> None:
        """One status read: count down, then apply the outcome exactly once."""
        if op.status != "InProgress":
            return
        if op.polls_left > 0:
            op.polls_left -= 1
            return
        if op.error is None:
            op.on_success()
            op.status = "Succeeded"
        else:
            op.on_failure()
            op.status = "Failed"


_MESSAGES = {
    "AllocationFailed": (
        "Allocation failed. We do not have sufficient capacity for the requested VM size in "
        "this region. Read more about improving likelihood of allocation success at "
        "http://aka.ms/allocation-guidance"),
    "ZonalAllocationFailed": (
        "Allocation failed. We do not have sufficient capacity for the requested VM size in "
        "this zone. Read more about improving likelihood of allocation success at "
        "http://aka.ms/allocation-guidance"),
    "SkuNotAvailable": (
        "The requested VM size for resource 'Following SKUs have failed for Capacity "
        "Restrictions: {size}' is currently not available in location '{location}'. Please "
        "try another size or deploy to a different location or different zone. See "
        "https://aka.ms/azureskunotavailable for details."),
    "OperationNotAllowed": (
        "Operation could not be completed as it results in exceeding approved "
        "standardNCADSA100v4Family Cores quota. Additional details - Deployment Model: "
        "Resource Manager, Location: {location}, Current Limit: 0, Current Usage: 0, "
        "Additional Required: 24, (Minimum) New Limit Required: 24."),
    "TooManyRequests": "The request is being throttled as the limit has been reached for "
                       "operation type - Write_1Min.",
    "AuthorizationFailed": (
        "The client '{client}' with object id '{client}' does not have authorization to "
        "perform action 'Microsoft.Compute/virtualMachines/write' over scope '{scope}' or "
        "the scope is invalid. If access was recently granted, please refresh your "
        "credentials."),
}


def _low(value: str | None) -> str | None:
    return value.lower() if value else None


def _key(method: str | None, kind: str, location: str | None, size: str | None
         ) -> dict[str, str | None]:
    """What a rule matches a request by (names compared case-insensitively, as ARM does)."""
    return {"method": method, "kind": kind, "location": _low(location), "size": _low(size)}


def _kind(kind: str) -> str:
    """A short or full resource type to the lower-case full type (other names pass as is)."""
    low = kind.lower()
    for full in TYPES:
        if low == full or low == full.split("/")[1]:
            return full
    return low


class _Exchange:
    """One request to FakeARM and its answer, routed to ARM's (or Entra's) handlers."""

    def __init__(self, arm: FakeARM, verb: str, target: str, headers: Message,
                 body: bytes) -> None:
        self.arm, self.command, self.path, self.headers, self.raw = (
            arm, verb, target, headers, body)
        self.query = split_target(target)[1]

    def serve(self) -> Reply:
        try:
            status, body, headers = self._route(self.command, split_target(self.path)[0])
        except ArmError as err:
            status, body, headers = err.status, err.body(), err.headers
        skip = body is None or status == 204 or self.command == "HEAD"
        data = b"" if skip else json.dumps(body).encode()
        return status, {"Content-Type": "application/json; charset=utf-8",
                        "x-ms-request-id": str(uuid.uuid4()), **headers}, data

    def _json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.raw or b"{}")
        except ValueError:
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized."
                           ) from None
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be an object.")
        return body

    def _route(self, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
        routed = next(((n, m) for n, p in _ROUTES if (m := p.match(path))), None)
        if routed is None:
            raise ArmError(404, "NotFound", f"No route for {method} {path}.")
        name, match = routed
        if name == "openid":
            return self._openid(match.group(1))
        if name == "token":
            return self._token(match.group(1))
        self._authorize()
        if "api-version" not in self.query:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all "
                           "requests.")
        if name == "subscriptions":
            self._record(method, "subscriptions", path)
            return 200, {"value": [self._subscription(s) for s in
                                   self.arm.subscriptions.values()]}, {}
        sub = self._known_subscription(match.group(1))
        handler = getattr(self, "_subscription_get" if name == "subscription" else f"_{name}")
        return handler(method, path, sub, *match.groups()[1:])

    def _record(self, method: str, kind: str, path: str, name: str = "",
                location: str | None = None, size: str | None = None,
                body: dict[str, Any] | None = None) -> None:
        self.arm.record({"method": method, "kind": kind, "path": path, "name": name,
                         "location": location, "size": size, "body": body,
                         "query": dict(self.query)})

    def _injected(self, method: str, kind: str, location: str | None = None,
                  size: str | None = None, scope: str = "") -> None:
        rule = self.arm._rule(method, kind, location, size)
        if rule is None:
            return
        code, retry_after = rule.detail["code"], rule.detail["retry_after"]
        message = rule.detail["message"] or _MESSAGES.get(code, f"{code}.")
        message = message.format(size=size or "", location=location or "",
                                 client=self.arm.client_id, scope=scope)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        raise ArmError(rule.status, code, message, headers=headers)

    def _bootdiagnostics(self, method: str, path: str, sub: str, rg: str,
                         vm: str) -> tuple[int, Any, dict]:
        """``retrieveBootDiagnosticsData``: SAS URLs of the screenshot and serial log blobs,
        for a VM with boot diagnostics enabled (managed storage: no storageUri)."""
        self._record(method, "retrievebootdiagnosticsdata", path, vm)
        if method != "POST":
            raise ArmError(405, "MethodNotAllowed", f"{method} is not served here.")
        with self.arm.lock:
            record = self.arm.store.get(_rid(sub, rg, TYPES["microsoft.compute/virtualmachines"],
                                             vm).lower())
            if record is None:
                raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/"
                               f"virtualMachines/{vm}' under resource group '{rg}' was not "
                               "found.")
            boot = record["properties"].get("diagnosticsProfile", {}).get("bootDiagnostics", {})
            if not boot.get("enabled") or boot.get("storageUri"):
                raise ArmError(409, "OperationNotAllowed", "Boot diagnostics with managed "
                               f"storage is not enabled for the VM '{vm}'.")
            sig = secrets.token_urlsafe(16)
            self.arm.sas[sig] = vm.lower()
        base = f"{self.arm.endpoint}{BLOB_PREFIX}{record['properties']['vmId']}"
        sas = f"sv=2021-08-06&sr=b&sp=r&sig={quote(sig)}"
        return 200, {"consoleScreenshotBlobUri": f"{base}/screenshot.bmp?{sas}",
                     "serialConsoleLogBlobUri": f"{base}/serialconsole.log?{sas}"}, {}

    def _roleassignment(self, method: str, path: str, sub: str, rg: str, vm: str,
                        name: str) -> tuple[int, Any, dict]:
        """A role assignment at a VM's scope (answered at once, as ARM does)."""
        body = self._json() if method == "PUT" else None
        self._record(method, "roleassignment", path, name, body=body)
        scope = _rid(sub, rg, TYPES["microsoft.compute/virtualmachines"], vm)
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        with self.arm.lock:
            self._injected(method, "roleassignment", scope=scope)
            existing = self.arm.roles.get(rid.lower())
            if method == "GET":
                if existing is None:
                    raise ArmError(404, "RoleAssignmentNotFound",
                                   "The role assignment could not be found.")
                return 200, existing, {}
            if method == "DELETE":
                if existing is None:
                    return 204, None, {}
                return 200, self.arm.roles.pop(rid.lower()), {}
            if method != "PUT":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not served here.")
            assert body is not None
            return self._role_put(sub, scope, rid, name, body, existing)

    def _role_put(self, sub: str, scope: str, rid: str, name: str, body: dict[str, Any],
                  existing: dict[str, Any] | None) -> tuple[int, Any, dict]:
        if not _GUID.match(name):
            raise ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' "
                           "is not valid. The role assignment ID must be a GUID.")
        if scope.lower() not in self.arm.store:
            raise ArmError(404, "ResourceNotFound", f"The Resource '{scope}' was not found.")
        props = body.get("properties") or {}
        role = str(props.get("roleDefinitionId", ""))
        prefix = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
        if not role.lower().startswith(prefix.lower()) or role[len(prefix):].lower() not in \
                ROLE_DEFINITIONS:
            raise ArmError(400, "RoleDefinitionDoesNotExist",
                           "The specified role definition with ID "
                           f"'{role.rsplit('/', 1)[-1]}' does not exist.")
        principal = str(props.get("principalId", ""))
        known = {str((r.get("identity") or {}).get("principalId", "")).lower()
                 for r in self.arm.store.values()}
        if not principal or principal.lower() not in known:
            raise ArmError(400, "PrincipalNotFound", f"Principal {principal.replace('-', '')} "
                           "does not exist in the directory "
                           f"{self.arm.tenant_id}.")
        for other in self.arm.roles.values():
            p = other["properties"]
            if other["id"].lower() != rid.lower() and (p["scope"].lower(), p["principalId"],
                                                       p["roleDefinitionId"].lower()) == (
                    scope.lower(), principal, role.lower()):
                raise ArmError(409, "RoleAssignmentExists",
                               "The role assignment already exists.")
        record = {"id": rid, "name": name, "type": "Microsoft.Authorization/roleAssignments",
                  "properties": {"roleDefinitionId": role, "principalId": principal,
                                 "principalType": props.get("principalType", "User"),
                                 "scope": scope}}
        self.arm.roles[rid.lower()] = record
        return (200 if existing else 201), record, {}

    # Entra

    def _openid(self, tenant: str) -> tuple[int, Any, dict[str, str]]:
        base = f"{self.arm.endpoint}/{tenant}"
        return 200, {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "token"],
            "tenant_region_scope": "EU",
        }, {}

    def _token(self, tenant: str) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(self.raw.decode()).items()}
        self._record("POST", "token", self.path)
        rule = self.arm._rule("POST", "token", None, None)
        if rule is not None:
            return rule.status, {"error": rule.detail["code"],
                                 "error_description": rule.detail["message"]}, {}
        if tenant.lower() != self.arm.tenant_id.lower():
            return 400, {"error": "invalid_request", "error_codes": [90002],
                         "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}, {}
        if form.get("client_id") != self.arm.client_id or \
                form.get("client_secret") != self.arm.client_secret:
            return 401, {"error": "invalid_client", "error_codes": [7000215],
                         "error_description": "AADSTS7000215: Invalid client secret provided. "
                         "Ensure the secret being sent in the request is the client secret "
                         "value, not the client secret ID."}, {}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "AADSTS70003: unsupported grant type."}, {}
        token = "fake-access-token-" + secrets.token_hex(16)
        with self.arm.lock:
            self.arm.tokens.add(token)
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": token}, {}

    def _authorize(self) -> None:
        header = self.headers.get("Authorization", "")
        if not header:
            raise ArmError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is missing.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token not in self.arm.tokens:
            raise ArmError(401, "InvalidAuthenticationToken",
                           "The access token is invalid.")

    # subscriptions, groups, generic list, SKUs, operations

    def _subscription(self, sub: str) -> dict[str, Any]:
        return {"id": f"/subscriptions/{sub}", "subscriptionId": sub,
                "displayName": "greenml test subscription", "state": "Enabled",
                "tenantId": self.arm.tenant_id}

    def _known_subscription(self, sub: str) -> str:
        known = self.arm.subscriptions.get(sub.lower())
        if known is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be "
                           "found.")
        return known

    def _subscription_get(self, method: str, path: str, sub: str) -> tuple[int, Any, dict]:
        self._record(method, "subscription", path)
        self._injected(method, "subscription")  # e.g. 403 AuthorizationFailed: no role on it
        return 200, self._subscription(sub), {}

    def _group(self, method: str, path: str, sub: str, rg: str) -> tuple[int, Any, dict]:
        key = f"/subscriptions/{sub}/resourcegroups/{rg}".lower()
        self._record(method, "resourcegroups", path, rg)
        with self.arm.lock:
            group = self.arm.groups.get(key)
            if method in ("GET", "HEAD"):
                if group is None:
                    raise ArmError(404, "ResourceGroupNotFound",
                                   f"Resource group '{rg}' could not be found.")
                return (204 if method == "HEAD" else 200), group, {}
            if method != "PUT":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not served here.")
            body = self._json()
            location = str(body.get("location", ""))
            if not location:
                raise ArmError(400, "LocationRequired", "The location property is required for "
                               "this definition.")
            if location.lower() not in self.arm.locations:
                raise ArmError(400, "LocationNotAvailableForResourceGroup",
                               f"The provided location '{location}' is not available for "
                               "resource group.")
            if group is not None and group["location"] != location.lower():
                raise ArmError(409, "InvalidResourceGroupLocation",
                               f"Invalid resource group location '{location}'. The Resource "
                               f"group already exists in location '{group['location']}'.")
            _check_tags(body.get("tags"))
            created = group is None
            group = {"id": f"/subscriptions/{sub}/resourceGroups/{rg}", "name": rg,
                     "type": RESOURCE_GROUPS, "location": location.lower(),
                     "tags": dict(body.get("tags") or {}),
                     "properties": {"provisioningState": "Succeeded"}}
            self.arm.groups[key] = group
            return (201 if created else 200), group, {}

    def _resources(self, method: str, path: str, sub: str) -> tuple[int, Any, dict]:
        self._record(method, "resources", path)
        self._injected(method, "resources")
        text = self.query.get("$filter", "")
        match = _TAG_FILTER.match(text.strip()) if text else None
        if text and not match:
            raise ArmError(400, "InvalidFilterInQueryString",
                           f"Invalid $filter '{text}' specified in the query string.")
        with self.arm.lock:
            rows = [r for r in self.arm.store.values()
                    if r["id"].lower().startswith(f"/subscriptions/{sub}/".lower())
                    and (match is None or r.get("tags", {}).get(match.group(1)) == match.group(2))]
            rows.sort(key=lambda r: r["id"].lower())
            start = int(self.query.get("$skiptoken", "0") or 0)
            page = rows[start:start + self.arm.page_size]
            out: dict[str, Any] = {"value": [
                {k: r[k] for k in ("id", "name", "type", "location", "tags", "zones", "sku")
                 if k in r} for r in page]}
            if start + self.arm.page_size < len(rows):
                query = "&".join(f"{k}={quote(v)}" for k, v in self.query.items()
                                 if k != "$skiptoken")
                out["nextLink"] = (f"{self.arm.endpoint}{split_target(self.path)[0]}?{query}"
                                   f"&$skiptoken={start + self.arm.page_size}")
            return 200, out, {}

    def _skus(self, method: str, path: str, sub: str) -> tuple[int, Any, dict]:
        self._record(method, "skus", path)
        self._injected(method, "skus")
        text = self.query.get("$filter", "")
        match = _LOCATION_FILTER.match(text.strip()) if text else None
        if text and not match:
            raise ArmError(400, "InvalidFilter", "Only location filter is supported.")
        wanted = match.group(1).lower() if match else None
        out = []
        for size, locations in sorted(self.arm.sizes.items()):
            for location in sorted(locations):
                if wanted and location != wanted:
                    continue
                restrictions = [
                    {"type": "Location", "values": [location],
                     "restrictionInfo": {"locations": [location]}, "reasonCode": r["reason"]}
                    for r in self.arm.restrictions
                    if r["size"] == size and r["location"] == location]
                name = self.arm.size_names[size]
                out.append({"resourceType": "virtualMachines", "name": name, "tier": "Standard",
                            "size": name.removeprefix("Standard_"), "family": family_of(name),
                            "locations": [location],
                            "locationInfo": [{"location": location, "zones": []}],
                            "capabilities": [], "restrictions": restrictions})
        return 200, {"value": out}, {}

    def _usages(self, method: str, path: str, sub: str, location: str) -> tuple[int, Any, dict]:
        """The compute usages of a location (azure_quotas.usages)."""
        self._record(method, "usages", path, location=location.lower())
        self._injected(method, "usages", location.lower())
        if location.lower() not in self.arm.locations:
            raise ArmError(404, "NoRegisteredProviderFound",
                           f"No registered resource provider found for location "
                           f"'{location}'.")
        with self.arm.lock:
            held = dict(self.arm.usages.get(location.lower(), {}))
        return 200, usages(held), {}

    def _operation(self, method: str, path: str, sub: str, namespace: str, location: str,
                   op_id: str) -> tuple[int, Any, dict]:
        self._record(method, "operations", path, op_id, location)
        self._injected(method, "operations", location)
        with self.arm.lock:
            op = self.arm.operations.get(op_id)
            if op is None:
                raise ArmError(404, "NotFound", f"Operation {op_id} was not found.")
            self.arm._advance(op)
            if self.query.get("monitor") == "true":  # the Location header's monitor URL
                if op.status == "InProgress":
                    return 202, None, {"Location": self._operation_url(op, monitor=True)}
                if op.status == "Failed":
                    code, message = op.error or ("Failed", "")
                    raise ArmError(409, code, message)
                return 204, None, {}
            body: dict[str, Any] = {"name": op.op_id, "status": op.status,
                                    "startTime": op.started}
            if op.status != "InProgress":
                body["endTime"] = _now()
            if op.status == "Failed" and op.error:
                body["error"] = {"code": op.error[0], "message": op.error[1]}
            return 200, body, {}

    def _operation_url(self, op: _Operation, monitor: bool = False) -> str:
        return (f"{self.arm.endpoint}/subscriptions/{self.arm.subscription_id}/providers/"
                f"{op.namespace}/locations/{op.location}/operations/{op.op_id}"
                f"?api-version={quote(self.query.get('api-version', '2024-07-01'))}"
                + ("&monitor=true" if monitor else ""))

    def _accepted(self, op: _Operation, status: int, body: Any,
                  delete: bool = False) -> tuple[int, Any, dict]:
        headers = {"Azure-AsyncOperation": self._operation_url(op)}
        if delete or status == 202:
            headers["Location"] = self._operation_url(op, monitor=True)
        return status, body, headers

    # resources

    def _subnet(self, method: str, path: str, sub: str, rg: str, vnet: str,
                subnet: str) -> tuple[int, Any, dict]:
        vnet_id = _rid(sub, rg, "Microsoft.Network/virtualNetworks", vnet)
        subnet_id = f"{vnet_id}/subnets/{subnet}"
        self._record(method, "subnets", path, subnet)
        with self.arm.lock:
            self._group_of(sub, rg)
            parent = self.arm.store.get(vnet_id.lower())
            if parent is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Network/virtualNetworks/{vnet}' under "
                               f"resource group '{rg}' was not found. For more details please go "
                               "to https://aka.ms/ARMResourceNotFoundFix")
            found = next((s for s in parent["properties"]["subnets"]
                          if s["name"].lower() == subnet.lower()), None)
            if method == "GET":
                if found is None:
                    raise ArmError(404, "NotFound", f"Resource {subnet_id} not found.")
                return 200, found, {}
            if method != "PUT":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not served here.")
            body = self._json()
            prefix = body.get("properties", {}).get("addressPrefix")
            if not prefix:
                raise ArmError(400, "InvalidRequestFormat",
                               "Cannot parse the request: subnet addressPrefix is missing.")
            record = _subnet_record(subnet_id, subnet, prefix)
            parent["properties"]["subnets"] = [
                s for s in parent["properties"]["subnets"] if s["name"].lower() != subnet.lower()
            ] + [record]
            op = self.arm._start_operation("Microsoft.Network", parent["location"], "subnets",
                                           "PUT", lambda: None)
            return self._accepted(op, 200 if found else 201, record)

    def _resource(self, method: str, path: str, sub: str, rg: str, rtype: str,
                  name: str) -> tuple[int, Any, dict]:
        kind = rtype.lower()
        if kind not in TYPES:
            raise ArmError(404, "InvalidResourceType",
                           f"The resource type '{rtype}' could not be found.")
        rid = _rid(sub, rg, TYPES[kind], name)
        body = self._json() if method in ("PUT", "PATCH") else None
        location = (body or {}).get("location") if body else None
        size = None
        if body and kind == "microsoft.compute/virtualmachines":
            size = body.get("properties", {}).get("hardwareProfile", {}).get("vmSize")
        self._record(method, kind, path, name, location, size, body)
        with self.arm.lock:
            existing = self.arm.store.get(rid.lower())
            scope_location = location or (existing or {}).get("location")
            self._injected(method, kind, scope_location, size, scope=rid)
            if method == "GET":
                if existing is None:
                    raise ArmError(404, "ResourceNotFound",
                                   f"The Resource '{TYPES[kind]}/{name}' under resource group "
                                   f"'{rg}' was not found. For more details please go to "
                                   "https://aka.ms/ARMResourceNotFoundFix")
                return 200, existing, {}
            if method == "DELETE":
                self._group_of(sub, rg)
                if existing is None:
                    return 204, None, {}
                self._deletable(existing)
                op = self.arm._start_operation(
                    TYPES[kind].split("/")[0], existing["location"], kind, "DELETE",
                    lambda: self._delete(existing))
                if kind == "microsoft.compute/virtualmachines":
                    existing["properties"]["provisioningState"] = "Deleting"
                return self._accepted(op, 202, None, delete=True)
            self._group_of(sub, rg)
            if method == "PATCH":
                if existing is None:
                    raise ArmError(404, "ResourceNotFound",
                                   f"The Resource '{TYPES[kind]}/{name}' under resource group "
                                   f"'{rg}' was not found.")
                assert body is not None
                if "tags" in body:
                    _check_tags(body["tags"])
                    existing["tags"] = dict(body["tags"] or {})
                op = self.arm._start_operation(TYPES[kind].split("/")[0], existing["location"],
                                               kind, "PATCH", lambda: None)
                if kind == "microsoft.compute/virtualmachines":  # ARM answers a VM's PATCH
                    return self._accepted(op, 200, existing)  # with the VM (200, as the SDK
                return self._accepted(op, 202, None)  # expects); a disk's with 202
            if method != "PUT":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not served here.")
            assert body is not None
            record = self._validate_put(kind, rid, name, body, existing)
            record["properties"]["provisioningState"] = (
                "Creating" if kind == "microsoft.compute/virtualmachines" else "Updating")
            self.arm.store[rid.lower()] = record
            self._link(record)
            status = 200 if existing else 201
            op = self.arm._start_operation(TYPES[kind].split("/")[0], record["location"], kind,
                                           "PUT", lambda: self._provisioned(record), location,
                                           size)
            op.on_failure = lambda: record["properties"].update(provisioningState="Failed")
            return self._accepted(op, status, record)

    def _provisioned(self, record: dict[str, Any]) -> None:
        record["properties"]["provisioningState"] = "Succeeded"

    def _group_of(self, sub: str, rg: str) -> dict[str, Any]:
        group = self.arm.groups.get(f"/subscriptions/{sub}/resourcegroups/{rg}".lower())
        if group is None:
            raise ArmError(404, "ResourceGroupNotFound",
                           f"Resource group '{rg}' could not be found.")
        return group

    def _location(self, body: dict[str, Any], kind: str) -> str:
        location = str(body.get("location") or "")
        if not location:
            raise ArmError(400, "LocationRequired",
                           "The location property is required for this definition.")
        if location.lower() not in self.arm.locations:
            raise ArmError(400, "LocationNotAvailableForResourceType",
                           f"The provided location '{location}' is not available for resource "
                           f"type '{TYPES[kind]}'. List of available regions for the resource "
                           f"type is '{','.join(sorted(self.arm.locations))}'.")
        return location.lower()

    def _validate_put(self, kind: str, rid: str, name: str, body: dict[str, Any],
                      existing: dict[str, Any] | None) -> dict[str, Any]:
        location = self._location(body, kind)
        if existing is not None and existing["location"] != location:
            raise ArmError(400, "InvalidResourceLocation",
                           f"The resource '{name}' already exists in location "
                           f"'{existing['location']}' in resource group. A resource with the "
                           "same name cannot be created in location '{location}'.")
        _check_tags(body.get("tags"))
        properties = json.loads(json.dumps(body.get("properties") or {}))
        record: dict[str, Any] = {"id": rid, "name": name, "type": TYPES[kind],
                                  "location": location, "tags": dict(body.get("tags") or {}),
                                  "properties": properties}
        if body.get("zones"):
            record["zones"] = list(body["zones"])
        if body.get("sku"):
            record["sku"] = dict(body["sku"])
        if body.get("identity") is not None:
            record["identity"] = self._identity(body["identity"], existing)
        validate = {
            "microsoft.network/virtualnetworks": self._vnet,
            "microsoft.network/networkinterfaces": self._nic,
            "microsoft.network/publicipaddresses": self._ip,
            "microsoft.compute/virtualmachines": self._vm,
            "microsoft.compute/disks": self._disk,
        }[kind]
        validate(record, existing)
        return record

    def _identity(self, identity: Any, existing: dict[str, Any] | None) -> dict[str, Any]:
        """A managed identity: a system-assigned one gets a principal (kept on a re-PUT)."""
        kind = str((identity or {}).get("type", ""))
        if kind not in ("SystemAssigned", "None"):
            raise ArmError(400, "InvalidParameter", f"The value '{kind}' of parameter "
                           "'identity.type' is not allowed (this fake serves SystemAssigned "
                           "and None).", "identity.type")
        if kind == "None":
            return {"type": "None"}
        before = (existing or {}).get("identity") or {}
        return {"type": kind, "principalId": before.get("principalId", str(uuid.uuid4())),
                "tenantId": self.arm.tenant_id}

    def _vnet(self, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
        props = record["properties"]
        prefixes = props.get("addressSpace", {}).get("addressPrefixes") or []
        if not prefixes:
            raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: "
                           "addressSpace.addressPrefixes is missing.")
        props["subnets"] = [
            _subnet_record(f"{record['id']}/subnets/{s['name']}", s["name"],
                           s.get("properties", {}).get("addressPrefix", ""))
            for s in props.get("subnets") or []]

    def _find_subnet(self, subnet_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        vnet_id, sep, subnet = subnet_id.rpartition("/subnets/")
        vnet = self.arm.store.get(vnet_id.lower()) if sep else None
        if vnet is None:
            return None
        for s in vnet["properties"]["subnets"]:
            if s["name"].lower() == subnet.lower():
                return vnet, s
        return None

    def _nic(self, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
        props = record["properties"]
        configs = props.get("ipConfigurations") or []
        if not configs:
            raise ArmError(400, "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
                           f"Network interface {record['id']} must have at least one IP "
                           "configuration.")
        for number, config in enumerate(configs):
            cprops = config.setdefault("properties", {})
            subnet_id = cprops.get("subnet", {}).get("id", "")
            found = self._find_subnet(subnet_id)
            if found is None or found[0]["location"] != record["location"]:
                raise ArmError(400, "InvalidResourceReference",
                               f"Resource {subnet_id} referenced by resource {record['id']} was "
                               "not found. Please make sure that the referenced resource "
                               "exists, and that both resources are in the same region.")
            ip_id = cprops.get("publicIPAddress", {}).get("id")
            if ip_id:
                ip = self.arm.store.get(ip_id.lower())
                if ip is None or ip["location"] != record["location"]:
                    raise ArmError(400, "InvalidResourceReference",
                                   f"Resource {ip_id} referenced by resource {record['id']} "
                                   "was not found. Please make sure that the referenced "
                                   "resource exists, and that both resources are in the same "
                                   "region.")
                owner = ip["properties"].get("ipConfiguration", {}).get("id", "")
                if owner and not owner.lower().startswith(record["id"].lower() + "/"):
                    raise ArmError(400, "PublicIPAddressInUse",
                                   f"Resource {ip_id} is already in use by {owner}.")
            config["id"] = f"{record['id']}/ipConfigurations/{config.get('name', 'ipconfig1')}"
            cprops["privateIPAddress"] = f"10.42.0.{4 + number + len(self.arm.store) % 200}"
        if existing is not None and existing["properties"].get("virtualMachine"):
            props["virtualMachine"] = existing["properties"]["virtualMachine"]

    def _ip(self, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
        sku = record.get("sku", {}).get("name", "Standard")
        if sku not in ("Standard", "Basic"):
            raise ArmError(400, "InvalidParameter", f"Public IP SKU '{sku}' is not valid.",
                           "sku.name")
        record["properties"]["ipAddress"] = f"203.0.113.{len(self.arm.store) % 250 + 1}"
        if existing is not None and existing["properties"].get("ipConfiguration"):
            record["properties"]["ipConfiguration"] = existing["properties"]["ipConfiguration"]

    def _disk(self, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
        raise ArmError(400, "InvalidParameter", "Creating disks directly is not served by this "
                       "fake; disks come from virtual machines.")

    def _vm(self, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
        props, location = record["properties"], record["location"]
        size = props.get("hardwareProfile", {}).get("vmSize", "")
        if not size:
            raise ArmError(400, "InvalidParameter", "Required parameter 'vmSize' is missing "
                           "(null).", "hardwareProfile.vmSize")
        if size.lower() not in self.arm.sizes or not _SIZE_PATTERN.match(size):
            raise ArmError(400, "InvalidParameter",
                           f"The value {size} provided for the VM size is not valid. The valid "
                           "sizes in the current region are: "
                           f"{', '.join(sorted(self.arm.size_names.values()))}.",
                           "vmSize")
        restricted = any(r["size"] == size.lower() and r["location"] == location
                         for r in self.arm.restrictions)
        if location not in self.arm.sizes[size.lower()] or restricted:
            raise ArmError(409, "SkuNotAvailable", _MESSAGES["SkuNotAvailable"].format(
                size=size, location=location))
        storage = props.get("storageProfile", {})
        image = storage.get("imageReference") or {}
        for part in ("publisher", "offer", "sku", "version"):
            if not image.get(part):
                raise ArmError(400, "InvalidParameter", f"Required parameter '{part}' is "
                               "missing (null).", f"imageReference.{part}")
        os_disk = storage.setdefault("osDisk", {})
        if os_disk.get("createOption", "").lower() != "fromimage":
            raise ArmError(400, "InvalidParameter", "The value of parameter createOption is "
                           "invalid.", "osDisk.createOption")
        self._os_profile(props.get("osProfile") or {})
        self._priority(props)
        nics = props.get("networkProfile", {}).get("networkInterfaces") or []
        if not nics:
            raise ArmError(400, "InvalidParameter", "At least one network interface is "
                           "required.", "networkProfile.networkInterfaces")
        for ref in nics:
            nic = self.arm.store.get(str(ref.get("id", "")).lower())
            if nic is None:
                raise ArmError(404, "NotFound", f"Resource {ref.get('id')} not found.")
            owner = nic["properties"].get("virtualMachine", {}).get("id", "")
            if owner and owner.lower() != record["id"].lower():
                raise ArmError(400, "NicInUse", f"Network Interface {nic['id']} is used by "
                               f"existing resource {owner}.")
        if existing is None and not os_disk.get("name"):
            os_disk["name"] = f"{record['name']}_OsDisk_1_{uuid.uuid4().hex}"
        disk_id = _rid(*_split(record["id"])[:2], "Microsoft.Compute/disks", os_disk["name"])
        os_disk.setdefault("managedDisk", {})["id"] = disk_id
        props["vmId"] = (existing or {}).get("properties", {}).get("vmId", str(uuid.uuid4()))
        props["timeCreated"] = _now()

    def _os_profile(self, profile: dict[str, Any]) -> None:
        if not profile.get("adminUsername"):
            raise ArmError(400, "InvalidParameter", "Required parameter 'adminUsername' is "
                           "missing (null).", "adminUsername")
        name = profile.get("computerName", "")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}[A-Za-z0-9]$", name):
            raise ArmError(400, "InvalidParameter", "Linux host name cannot exceed 64 "
                           "characters in length or contain the following characters: "
                           "` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : ' \" , < > / ?.",
                           "computerName")
        linux = profile.get("linuxConfiguration") or {}
        keys = (linux.get("ssh") or {}).get("publicKeys") or []
        if linux.get("disablePasswordAuthentication") and not keys:
            raise ArmError(400, "InvalidParameter", "Destination path for SSH public keys is "
                           "required, and at least one SSH public key must be provided when "
                           "password authentication is disabled.",
                           "linuxConfiguration.ssh.publicKeys")
        if not linux.get("disablePasswordAuthentication") and not profile.get("adminPassword"):
            raise ArmError(400, "InvalidParameter", "Required parameter 'adminPassword' is "
                           "missing (null).", "adminPassword")
        for key in keys:
            if not str(key.get("keyData", "")).startswith(("ssh-rsa ", "ssh-ed25519 ",
                                                           "ecdsa-sha2-")):
                raise ArmError(400, "InvalidParameter", "The value of parameter "
                               "linuxConfiguration.ssh.publicKeys.keyData is invalid.",
                               "linuxConfiguration.ssh.publicKeys.keyData")
        data = profile.get("customData")
        if data is not None:
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ArmError(400, "InvalidParameter", "Custom data in OSProfile must be in "
                               "Base64 encoding and with a maximum length of 87380 characters.",
                               "customData") from None
            if len(data) > 87380:
                raise ArmError(400, "InvalidParameter", "Custom data in OSProfile must be in "
                               "Base64 encoding and with a maximum length of 87380 characters.",
                               "customData")

    def _priority(self, props: dict[str, Any]) -> None:
        priority = props.get("priority", "Regular")
        if priority not in ("Regular", "Low", "Spot"):
            raise ArmError(400, "InvalidParameter", f"The value '{priority}' of parameter "
                           "'priority' is not allowed.", "priority")
        eviction = props.get("evictionPolicy")
        if priority == "Regular" and (eviction or props.get("billingProfile")):
            raise ArmError(400, "InvalidParameter", "Eviction policy and billing profile can "
                           "be set only for Spot virtual machines.", "evictionPolicy")
        if eviction is not None and eviction not in ("Deallocate", "Delete"):
            raise ArmError(400, "InvalidParameter", f"The value '{eviction}' of parameter "
                           "'evictionPolicy' is not allowed.", "evictionPolicy")
        price = (props.get("billingProfile") or {}).get("maxPrice")
        if price is not None and price != -1 and price <= 0:
            raise ArmError(400, "InvalidParameter", "maxPrice must be -1 or greater than 0.",
                           "billingProfile.maxPrice")

    def _link(self, record: dict[str, Any]) -> None:
        """Attach what a new resource references (NIC <- VM, disk <- VM, IP <- NIC)."""
        kind = record["type"].lower()
        if kind == "microsoft.compute/virtualmachines":
            for ref in record["properties"]["networkProfile"]["networkInterfaces"]:
                nic = self.arm.store[ref["id"].lower()]
                nic["properties"]["virtualMachine"] = {"id": record["id"]}
            os_disk = record["properties"]["storageProfile"]["osDisk"]
            disk_id = os_disk["managedDisk"]["id"]
            if disk_id.lower() not in self.arm.store:
                self.arm.store[disk_id.lower()] = {
                    "id": disk_id, "name": os_disk["name"], "type": TYPES[
                        "microsoft.compute/disks"], "location": record["location"],
                    "tags": {}, "managedBy": record["id"],
                    "sku": {"name": os_disk.get("managedDisk", {}).get(
                        "storageAccountType", "Premium_LRS")},
                    "properties": {"diskState": "Attached", "diskSizeGB": 64,
                                   "osType": "Linux", "provisioningState": "Succeeded",
                                   "creationData": {"createOption": "FromImage"}}}
        elif kind == "microsoft.network/networkinterfaces":
            for config in record["properties"]["ipConfigurations"]:
                ip_id = config["properties"].get("publicIPAddress", {}).get("id")
                if ip_id:
                    self.arm.store[ip_id.lower()]["properties"]["ipConfiguration"] = {
                        "id": config["id"]}

    def _deletable(self, record: dict[str, Any]) -> None:
        kind = record["type"].lower()
        if kind == "microsoft.network/networkinterfaces":
            owner = record["properties"].get("virtualMachine", {}).get("id")
            if owner:
                raise ArmError(400, "NicInUse",
                               f"Network Interface {record['id']} is used by existing resource "
                               f"{owner}. In order to delete the network interface, it must be "
                               "dissociated from the resource. To learn more, see "
                               "aka.ms/deletenic.")
        elif kind == "microsoft.network/publicipaddresses":
            owner = record["properties"].get("ipConfiguration", {}).get("id")
            if owner:
                raise ArmError(400, "PublicIPAddressCannotBeDeleted",
                               f"Public IP address {record['id']} can not be deleted since it "
                               f"is still allocated to resource {owner}. In order to delete the "
                               "public IP, disassociate/detach the Public IP address from the "
                               "resource.")
        elif kind == "microsoft.compute/disks":
            if record.get("managedBy"):
                raise ArmError(409, "OperationNotAllowed",
                               f"Disk {record['name']} is attached to VM {record['managedBy']}.")
        elif kind == "microsoft.network/virtualnetworks":
            for subnet in record["properties"]["subnets"]:
                if any(_uses_subnet(r, subnet["id"]) for r in self.arm.store.values()):
                    raise ArmError(400, "InUseSubnetCannotBeDeleted",
                                   f"Subnet {subnet['name']} is in use and cannot be deleted.")

    def _delete(self, record: dict[str, Any]) -> None:
        """The end of a DELETE: remove it, and what its delete options say goes with it."""
        store = self.arm.store
        if store.pop(record["id"].lower(), None) is None:
            return
        kind = record["type"].lower()
        if kind == "microsoft.compute/virtualmachines":
            for ref in record["properties"]["networkProfile"]["networkInterfaces"]:
                nic = store.get(ref["id"].lower())
                if nic is None:
                    continue
                nic["properties"].pop("virtualMachine", None)
                if (ref.get("properties") or {}).get("deleteOption") == "Delete":
                    for config in nic["properties"]["ipConfigurations"]:
                        ip_ref = config["properties"].get("publicIPAddress") or {}
                        ip = store.get(str(ip_ref.get("id", "")).lower())
                        if ip is not None:
                            ip["properties"].pop("ipConfiguration", None)
                            if (ip_ref.get("properties") or {}).get("deleteOption") == "Delete":
                                store.pop(ip["id"].lower(), None)
                    store.pop(nic["id"].lower(), None)
            os_disk = record["properties"]["storageProfile"]["osDisk"]
            disk = store.get(os_disk["managedDisk"]["id"].lower())
            if disk is not None:
                disk.pop("managedBy", None)
                disk["properties"]["diskState"] = "Unattached"
                if os_disk.get("deleteOption") == "Delete":
                    store.pop(disk["id"].lower(), None)
        elif kind == "microsoft.network/networkinterfaces":
            for config in record["properties"]["ipConfigurations"]:
                ip_id = config["properties"].get("publicIPAddress", {}).get("id")
                ip = store.get(str(ip_id).lower()) if ip_id else None
                if ip is not None:
                    ip["properties"].pop("ipConfiguration", None)


def _uses_subnet(record: dict[str, Any], subnet_id: str) -> bool:
    if record["type"] != TYPES["microsoft.network/networkinterfaces"]:
        return False
    return any(c["properties"].get("subnet", {}).get("id", "").lower() == subnet_id.lower()
               for c in record["properties"]["ipConfigurations"])


def _subnet_record(subnet_id: str, name: str, prefix: str) -> dict[str, Any]:
    return {"id": subnet_id, "name": name, "type": SUBNETS,
            "properties": {"addressPrefix": prefix, "provisioningState": "Succeeded"}}


def _rid(sub: str, rg: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{rtype}/{name}"


def _split(rid: str) -> tuple[str, str, str, str]:
    parts = rid.split("/")
    return parts[2], parts[4], f"{parts[6]}/{parts[7]}", parts[8]


def _check_tags(tags: Any) -> None:
    """ARM's tag limits: at most 50, names up to 512 characters, values up to 256."""
    if tags is None:
        return
    if not isinstance(tags, dict) or len(tags) > 50:
        raise ArmError(400, "InvalidTagNameCharacters" if isinstance(tags, dict) else
                       "InvalidRequestContent", "Tags must be an object of at most 50 pairs.")
    for key, value in tags.items():
        if not isinstance(value, str) or len(key) > 512 or len(value) > 256 or \
                any(c in key for c in "<>%&\\?/"):
            raise ArmError(400, "InvalidTagNameCharacters",
                           f"The tag name '{key}' or its value is not valid.")
