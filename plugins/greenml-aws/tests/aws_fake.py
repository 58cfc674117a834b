"""A thin EC2 front for moto's server: ClientToken idempotency, error injection and delays.

moto 5.x in server mode serves EC2 and SSM well enough for greenml's tests, but it ignores
RunInstances' ``ClientToken`` (a retried call creates a second instance) and cannot return
EC2 errors on demand. ``FakeEC2`` starts moto's ``ThreadedMotoServer`` on 127.0.0.1 and, in
front of it, a small stdlib HTTP server that relays every request to moto and adds both, on
EC2's real wire format, so the errors travel through botocore's own parsing and retry code:

    with FakeEC2() as fake:
        fake.inject("RunInstances", "InsufficientInstanceCapacity", region="eu-north-1")
        ec2 = ec2_client(fake, "eu-north-1")   # or AWS_ENDPOINT_URL=fake.endpoint_url

Run as a script (``python plugins/greenml-aws/tests/aws_fake.py``) it serves until killed and
prints one JSON line ``{"endpoint_url": ..., "moto_url": ...}``; another process then steers it
through ``POST {endpoint_url}/_fake/<method>`` with the method's keyword arguments as a JSON
object (``reset``, ``clear_faults``, ``inject``, ``inject_after``, ``delay``, ``calls``,
``publish_public_parameter``, ``set_console_output``, ``info``).

The front is a greenml.testing.fakeserver server (its rules, delays and call log). Only the
standard library, greenml, moto and boto3 are used. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import logging
import os
import re
import signal
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from servicequotas_fake import ServiceQuotas

from greenml.testing.fakeserver import FakeServer

__all__ = [
    "DEFAULT_STATUS",
    "DLAMI_PARAMETERS",
    "FakeEC2",
    "default_ami",
    "ec2_client",
    "publish_dlami_parameters",
    "ssm_client",
]

#: The public SSM parameters naming the AWS Deep Learning AMIs, and the CPU architecture of
#: the image each one names (the Neuron DLAMI runs on x86_64 trn/inf hosts).
DLAMI_PARAMETERS: dict[str, str] = {
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id":
        "x86_64",
    "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id":
        "arm64",
    "/aws/service/neuron/dlami/multi-framework/ubuntu-22.04/latest/image_id": "x86_64",
}

#: HTTP status EC2 sends with an error code, where it is not 400. EC2 splits its codes into
#: client errors (4xx) and server errors (5xx); the wire statuses below are the ones seen from
#: the real service: botocore's own ``_retry.json`` matches ``RequestLimitExceeded`` only with
#: 503, and capacity errors come back as 500 (so botocore retries them as transient errors,
#: exactly as it does against AWS).
DEFAULT_STATUS: dict[str, int] = {
    "RequestLimitExceeded": 503,
    "EC2ThrottledException": 503,
    "Unavailable": 503,
    "ServiceUnavailable": 503,
    "InsufficientInstanceCapacity": 500,
    "InsufficientCapacity": 500,
    "InsufficientHostCapacity": 500,
    "InsufficientAddressCapacity": 500,
    "InsufficientReservedInstanceCapacity": 500,
    "InsufficientVolumeCapacity": 500,
    "InternalError": 500,
    "InternalFailure": 500,
    "AuthFailure": 401,
    "UnauthorizedOperation": 403,
}

#: Messages worded as EC2 words them, used when ``inject`` is given none.
_DEFAULT_MESSAGES: dict[str, str] = {
    "InsufficientInstanceCapacity": (
        "We currently do not have sufficient {instance_type} capacity in the Availability "
        "Zone you requested. Our system will be working on provisioning additional capacity."),
    "VcpuLimitExceeded": (
        "You have requested more vCPU capacity than your current vCPU limit allows for the "
        "instance bucket that the specified instance type belongs to."),
    "InstanceLimitExceeded": (
        "You have requested more instances than your current instance limit allows for the "
        "specified instance type."),
    "Unsupported": (
        "Your requested instance type ({instance_type}) is not supported in your requested "
        "Availability Zone."),
    "RequestLimitExceeded": "Request limit exceeded.",
    "AuthFailure": "AWS was not able to validate the provided access credentials",
    "UnauthorizedOperation": "You are not authorized to perform this operation.",
}

#: Headers that belong to one hop of a connection and must not be relayed (RFC 9110 7.6.1),
#: plus the ones the front recomputes itself.
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection",
    "content-length", "expect",
})

#: Wire parameters that differ between two sends of the same logical request.
_NOT_COMPARED = frozenset({"Action", "Version", "ClientToken"})

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_HOST_REGION = re.compile(r"^[a-z0-9-]+\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com")
_REQUEST_ID = re.compile(rb"<requestId>[^<]*</requestId>")
_CONTROL_PREFIX = "/_fake/"

_Response = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class _TokenEntry:
    """What EC2 remembers about a ClientToken: the request it came with and its answer."""

    params: tuple[tuple[str, str], ...]
    response: _Response | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeEC2(FakeServer):
    """moto's server behind a front that adds EC2's ClientToken idempotency and failures.

    ``endpoint_url`` is the front (point boto3 there); ``moto_url`` is moto itself, for
    looking behind the front's back (what really exists). Thread-safe throughout.
    """

    server_version = "AmazonEC2"

    def __init__(self, *, upstream_timeout_s: float = 60.0) -> None:
        super().__init__()
        self.endpoint_url = ""
        self.moto_url = ""
        self._upstream_timeout_s = upstream_timeout_s
        self._tokens: dict[tuple[str, str], _TokenEntry] = {}
        self._consoles: dict[str, str] = {}
        self._moto: Any = None
        #: (region, name) -> strategy: placement groups, which moto does not implement.
        self.placement_groups: dict[tuple[str, str], str] = {}
        #: AWS Service Quotas (moto serves only VPC's), answered by the front.
        self.service_quotas = ServiceQuotas()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeEC2:
        """Start moto, then the front; both on 127.0.0.1 and on ports the OS picks."""
        from moto.server import ThreadedMotoServer

        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:  # one access-log line per request otherwise
            werkzeug_log.setLevel(logging.WARNING)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        super().start()
        self.endpoint_url = self.url
        return self

    def stop(self) -> None:
        """Stop the front, release delayed replies, stop moto."""
        super().stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def reset(self) -> None:
        """Empty moto (``/moto-api/reset``) and forget rules, tokens and recorded calls.

        Replies still held by ``delay`` are released at once, so a test never waits for a
        previous test's delay.
        """
        status, _, body = _http(self.moto_url, "POST", "/moto-api/reset", b"", {},
                                self._upstream_timeout_s)
        if status != 200:
            raise RuntimeError(f"moto reset failed: {status} {body[:200]!r}")
        with self.lock:
            self._tokens.clear()
            self._consoles.clear()
            self.placement_groups.clear()
            self.service_quotas.clear()
            super().reset()

    # ------------------------------------------------------------------ steering

    def inject(self, action: str, code: str, message: str | None = None, times: int | None = 1,
               region: str | None = None, instance_type: str | None = None,
               status: int | None = None) -> None:
        """Answer the next ``times`` matching requests with EC2's error ``code``.

        ``times=None`` fails every matching request until ``reset()``. ``status`` defaults
        to the one EC2 sends with ``code`` (``DEFAULT_STATUS``, else 400).
        """
        self.inject_after(action, code, after=0, message=message, times=times, region=region,
                          instance_type=instance_type, status=status)

    def inject_after(self, action: str, code: str, after: int, message: str | None = None,
                     times: int | None = 1, region: str | None = None,
                     instance_type: str | None = None, status: int | None = None) -> None:
        """Let ``after`` matching requests through, then fail the next ``times`` of them.

        For failing one instance halfway through a gang. Rules are checked in the order they
        were added; the first one that fires answers the request.
        """
        self.add_rule("error", _where(action, region, instance_type), times=times, after=after,
                      status=status or DEFAULT_STATUS.get(code, 400), code=code,
                      message=message or "")

    def delay(self, action: str, seconds: float, times: int | None = 1, *,
              region: str | None = None, instance_type: str | None = None) -> None:
        """Forward the next ``times`` matching requests to moto, then hold the reply.

        The resource exists in moto (and its ClientToken is remembered) before the client
        hears of it: the window in which a client process can be killed between the cloud
        call and its own record. ``reset()`` and ``stop()`` release held replies.
        """
        self.add_rule("delay", _where(action, region, instance_type), times=times,
                      seconds=seconds)

    def calls(self, action: str | None = None, **where: Any) -> list[dict[str, Any]]:
        """Every AWS request the front received, oldest first, optionally of one Action.

        Each is a dict of the request's wire parameters as sent (``"ClientToken"``,
        ``"InstanceType"``, ``"TagSpecification.1.Tag.1.Key"``: strings, as on the wire) plus
        lower-case keys the front adds: ``action``, ``region``, ``service``, ``params`` (the
        same parameters nested: ``params["TagSpecification"][0]["Tag"][0]["Key"]``),
        ``status`` (the HTTP status answered, ``None`` while pending) and ``outcome``
        (``"forwarded"``, ``"injected"``, ``"replayed"``, ``"mismatch"`` or ``"pending"``).
        """
        return super().calls(action=action, **where)

    def publish_public_parameter(self, region: str, name: str, value: str,
                                 account_id: str | None = None) -> None:
        """Create an AWS-owned public SSM parameter (``/aws/service/...``) in moto.

        ``PutParameter`` refuses the reserved ``/aws/`` prefix, in moto as in AWS. moto itself
        seeds its public parameters (``/aws/service/ami-amazon-linux-latest``, ...) by
        appending ``Parameter`` objects straight into the region backend's ``ParameterDict``;
        this does the same, in the process that runs moto. Gone after ``reset()``.
        """
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.utils import utcnow
        from moto.ssm.models import Parameter, ssm_backends

        account = account_id or os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
        store = ssm_backends[account][region]._parameters
        versions = dict.__getitem__(store, name) if dict.__contains__(store, name) else []
        versions.append(Parameter(  # type: ignore[abstract]  # moto builds it so too
            account_id=account, name=name, value=value, parameter_type="String",
            description=None, allowed_pattern=None, keyid=None,
            last_modified_date=utcnow(), version=len(versions) + 1, data_type="text"))
        dict.__setitem__(store, name, versions)

    def set_console_output(self, instance_id: str, text: str) -> None:
        """What ``GetConsoleOutput`` answers for this instance from now on (base64 in
        ``<output>``, as EC2 sends it); moto answers one fixed kernel log for every one."""
        with self.lock:
            self._consoles[instance_id] = text

    def set_service_quota(self, region: str, code: str, name: str, value: float) -> None:
        """An EC2 quota that Service Quotas reports in ``region`` until ``reset()``."""
        self.service_quotas.set(region, code, name, value)

    def info(self) -> dict[str, str]:
        """The two URLs, as the script prints them."""
        return {"endpoint_url": self.endpoint_url, "moto_url": self.moto_url}

    # ------------------------------------------------------------------ the front's logic

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> _Response:
        """A control call (``/_fake/``), or an AWS request, relayed without hop-by-hop headers."""
        path = urlsplit(target).path
        if path.startswith(_CONTROL_PREFIX):
            return self._control(path[len(_CONTROL_PREFIX):], body)
        status, pairs, data = self._answer(verb, target, list(headers.items()), body)
        own = _hop_by_hop(pairs) - {"content-length"}  # the server recomputes it (not on HEAD)
        return status, [(k, v) for k, v in pairs if k.lower() not in own], data

    def _answer(self, method: str, target: str, headers: list[tuple[str, str]],
                body: bytes) -> _Response:
        """Answer one AWS request: injected error, remembered token, or moto's reply."""
        call = self.record(_decode_call(method, target, headers, body))
        error = self.fire("error", call)
        if error is not None:
            response = _error_response(call, error.detail["code"], error.detail["message"],
                                       error.status)
            return self._finish(call, "injected", response)
        if call["service"] == "servicequotas":
            return self._finish(call, "answered", self.service_quotas.answer(call))
        if call["action"] in ("CreatePlacementGroup", "DeletePlacementGroup"):
            return self._finish(call, "answered", self._placement_group(call))
        with self.lock:
            console = (self._consoles.get(str(call.get("InstanceId")))
                       if call["action"] == "GetConsoleOutput" else None)
        if console is not None:
            return self._finish(call, "answered", _console_response(call, console))
        token = call.get("ClientToken") if call["action"] == "RunInstances" else None
        if token:
            outcome, response = self._idempotent(call, token, method, target, headers, body)
        else:
            outcome, response = "forwarded", self._forward(method, target, headers, body)
        self._finish(call, outcome, response)
        self.hold_reply(call)
        return response

    def _placement_group(self, call: Mapping[str, Any]) -> _Response:
        """Create or delete a placement group (moto lacks both), with EC2's errors."""
        key = (call["region"], str(call.get("GroupName", "")))
        with self.lock:
            if call["action"] == "CreatePlacementGroup":
                if key in self.placement_groups:
                    return _error_response(call, "InvalidPlacementGroup.Duplicate",
                                           f"The Placement Group '{key[1]}' already exists.",
                                           400)
                self.placement_groups[key] = str(call.get("Strategy", ""))
            elif self.placement_groups.pop(key, None) is None:
                return _error_response(call, "InvalidPlacementGroup.Unknown",
                                       f"The Placement Group '{key[1]}' is unknown.", 400)
        return _ec2_ok(call["action"])

    def _idempotent(self, call: Mapping[str, Any], token: str, method: str, target: str,
                    headers: list[tuple[str, str]], body: bytes) -> tuple[str, _Response]:
        """EC2's ClientToken contract for RunInstances, keyed by (region, token).

        A token that already succeeded with the same parameters gets the first answer back
        and moto is not called; with other parameters, IdempotentParameterMismatch. Requests
        with one token are serialised, so concurrent retries cannot create two instances.
        Failed attempts are not remembered: the token stays free for a retry.
        """
        params = _comparable(call)
        with self.lock:
            entry = self._tokens.setdefault((call["region"], token), _TokenEntry(params))
        with entry.lock:
            if entry.response is not None:
                if entry.params != params:
                    return "mismatch", _error_response(
                        call, "IdempotentParameterMismatch",
                        "Arguments on this idempotent request are inconsistent with arguments "
                        "used in previous request(s).", 400)
                return "replayed", _with_new_request_id(entry.response)
            response = self._forward(method, target, headers, body)
            if 200 <= response[0] < 300:
                entry.params, entry.response = params, response
            return "forwarded", response

    def _forward(self, method: str, target: str, headers: list[tuple[str, str]],
                 body: bytes) -> _Response:
        """Relay a request to moto unchanged, bar hop-by-hop headers."""
        relayed = [(k, v) for k, v in headers if k.lower() not in _hop_by_hop(headers)]
        return _http(self.moto_url, method, target, body, relayed, self._upstream_timeout_s)

    def _finish(self, call: dict[str, Any], outcome: str, response: _Response) -> _Response:
        """Note in the recorded call how it was answered."""
        with self.lock:
            call["status"], call["outcome"] = response[0], outcome
        return response

    def _control(self, name: str, body: bytes) -> _Response:
        """``POST /_fake/<method>``: steer a fake that runs in another process."""
        allowed = {"reset", "clear_faults", "inject", "inject_after", "delay", "calls",
                   "publish_public_parameter", "set_console_output", "set_service_quota",
                   "info"}
        if name not in allowed:
            return _json_response(404, {"error": f"no control method {name!r}"})
        try:
            kwargs = json.loads(body or b"{}")
            result = getattr(self, name)(**kwargs)
        except Exception as exc:  # report to the caller, keep serving
            return _json_response(400, {"error": f"{type(exc).__name__}: {exc}"})
        return _json_response(200, {"result": result})


# ---------------------------------------------------------------------- request decoding


def _decode_call(method: str, target: str, headers: list[tuple[str, str]],
                 body: bytes) -> dict[str, Any]:
    """What a request asks for: Action, region, service and parameters.

    EC2 speaks the query protocol (form-encoded ``Action=...&...``, body or query string);
    SSM speaks JSON 1.1 (``X-Amz-Target: AmazonSSM.GetParameter`` and a JSON body).
    """
    lower = {k.lower(): v for k, v in headers}
    service, region = _scope(lower)
    flat: dict[str, Any] = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
    amz_target = lower.get("x-amz-target", "")
    if amz_target:
        action = amz_target.rsplit(".", 1)[-1]
        params: Any = _json_or_empty(body)
        flat.update(params if isinstance(params, dict) else {})
        protocol = "json"
    else:
        if "x-www-form-urlencoded" in lower.get("content-type", ""):
            flat.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = str(flat.get("Action", ""))
        params = _nest(flat.items())
        protocol = "query"
    call = dict(flat)
    call.update(action=action, region=region, service=service, params=params,
                protocol=protocol, status=None, outcome="pending")
    return call


def _scope(headers: Mapping[str, str]) -> tuple[str, str]:
    """(service, region) from the SigV4 credential scope, else from an AWS host name."""
    match = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    if match:
        return match.group(2), match.group(1)
    host = _HOST_REGION.match(headers.get("host", ""))
    if host:
        return headers.get("host", "").split(".")[0], host.group(1)
    return "", "us-east-1"


def _json_or_empty(body: bytes) -> Any:
    """A JSON body, or {} when there is none or it is not JSON."""
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return {}


def _nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Undo the query protocol's flattening: ``A.1.B=x`` -> ``{"A": [{"B": "x"}]}``."""
    root: dict[Any, Any] = {}
    for key, value in pairs:
        parts = [int(p) if p.isdigit() else p for p in str(key).split(".")]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    """Dicts keyed only by 1-based member numbers become lists, in member order."""
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_listify(node[k]) for k in sorted(node)]
    return {str(k): _listify(v) for k, v in node.items()}


def _comparable(call: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The Action-specific parameters of a query request, for ClientToken comparison."""
    skip = _NOT_COMPARED | {"action", "region", "service", "params", "protocol", "status",
                            "outcome"}
    return tuple(sorted((k, str(v)) for k, v in call.items() if k not in skip))


def _where(action: str, region: str | None, instance_type: str | None) -> dict[str, Any]:
    """What a rule matches a request by: its Action, then the optional filters."""
    return {"action": action, "region": region, "InstanceType": instance_type}


# ---------------------------------------------------------------------- responses


def _error_response(call: Mapping[str, Any], code: str, message: str, status: int) -> _Response:
    """EC2's error document (query protocol), or the JSON 1.1 shape for SSM and friends."""
    template = message or _DEFAULT_MESSAGES.get(code, f"{code} (injected)")
    message = template.replace("{instance_type}", str(call.get("InstanceType", "")))
    request_id = str(uuid.uuid4())
    if call.get("protocol") == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1"),
                             ("x-amzn-RequestId", request_id)], body
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f"<Response><Errors><Error><Code>{escape(code)}</Code>"
           f"<Message>{escape(message)}</Message></Error></Errors>"
           f"<RequestID>{request_id}</RequestID></Response>")
    return status, [("Content-Type", "text/xml;charset=UTF-8"),
                         ("Server", "AmazonEC2")], xml.encode()


def _ec2_ok(action: str) -> _Response:
    """EC2's plain success document for ``action``."""
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns='
           f'"http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{uuid.uuid4()}</requestId>'
           f"<return>true</return></{action}Response>")
    return 200, [("Content-Type", "text/xml;charset=UTF-8"), ("Server", "AmazonEC2")], \
        xml.encode()


def _console_response(call: Mapping[str, Any], text: str) -> _Response:
    """EC2's GetConsoleOutput answer: the console text base64-encoded in ``<output>``."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
           f"<requestId>{uuid.uuid4()}</requestId>"
           f"<instanceId>{escape(str(call.get('InstanceId', '')))}</instanceId>"
           f"<timestamp>{now}</timestamp>"
           f"<output>{base64.b64encode(text.encode()).decode('ascii')}</output>"
           "</GetConsoleOutputResponse>")
    return 200, [("Content-Type", "text/xml;charset=UTF-8"), ("Server", "AmazonEC2")], \
        xml.encode()


def _with_new_request_id(response: _Response) -> _Response:
    """The remembered answer, as EC2 replays it: same body, a request id of its own."""
    status, headers, body = response
    fresh = f"<requestId>{uuid.uuid4()}</requestId>".encode()
    return status, headers, _REQUEST_ID.sub(fresh, body, count=1)


def _json_response(status: int, payload: Any) -> _Response:
    """A control-endpoint answer."""
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


def _hop_by_hop(headers: list[tuple[str, str]]) -> frozenset[str]:
    """The fixed hop-by-hop set plus any header the Connection header names."""
    named = {token.strip().lower() for k, v in headers if k.lower() == "connection"
             for token in v.split(",")}
    return _HOP_BY_HOP | named


def _http(base_url: str, method: str, target: str, body: bytes,
          headers: list[tuple[str, str]] | Mapping[str, str], timeout: float) -> _Response:
    """One stdlib HTTP exchange with moto: a fresh connection, the whole body read."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        items = headers.items() if isinstance(headers, Mapping) else headers
        names = {k.lower() for k, _ in items}
        conn.putrequest(method, target, skip_host="host" in names,
                        skip_accept_encoding="accept-encoding" in names)
        for key, value in items:
            conn.putheader(key, value)
        if body or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        reply = conn.getresponse()
        return reply.status, reply.getheaders(), reply.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------- boto3 helpers


def _client(service: str, endpoint_url: str, region: str, config: Any = None) -> Any:
    """A boto3 client with dummy credentials, pinned to a local endpoint."""
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=config)


def ec2_client(fake: FakeEC2, region: str, config: Any = None) -> Any:
    """An EC2 client talking to the front (injections and tokens apply, calls are recorded).

    ``config`` is an optional ``botocore.config.Config``, e.g. to set retries.
    """
    return _client("ec2", fake.endpoint_url, region, config)


def ssm_client(fake: FakeEC2, region: str, config: Any = None) -> Any:
    """An SSM client talking to the front."""
    return _client("ssm", fake.endpoint_url, region, config)


def _moto_url(fake: FakeEC2 | str) -> str:
    """moto's own URL, behind the front, for a FakeEC2 or a front URL of another process."""
    if isinstance(fake, FakeEC2):
        return fake.moto_url
    return str(_steer(fake, "info")["moto_url"])


def _steer(endpoint_url: str, name: str, /, **kwargs: Any) -> Any:
    """Call a control method of a FakeEC2 served by another process."""
    status, _, body = _http(endpoint_url, "POST", f"{_CONTROL_PREFIX}{name}",
                            json.dumps(kwargs).encode(),
                            {"Content-Type": "application/json"}, 30.0)
    if status != 200:
        raise RuntimeError(f"aws_fake control {name} failed: {status} {body[:300]!r}")
    return json.loads(body)["result"]


#: Name patterns of moto's built-in images to prefer, per architecture: an Ubuntu Deep
#: Learning AMI for x86_64, Amazon Linux 2022 for arm64 (moto ships both in every region).
_PREFERRED_IMAGES: dict[str, str] = {
    "x86_64": "Deep Learning AMI Ubuntu*",
    "arm64": "al2022-ami-*-arm64",
}
_ami_cache: dict[tuple[str, str, str], str] = {}
_ami_lock = threading.Lock()


def default_ami(fake: FakeEC2 | str, region: str, architecture: str = "x86_64") -> str:
    """An image id moto knows in ``region`` for ``architecture``, found with DescribeImages.

    Asked of moto directly (not through the front), so it neither shows in ``calls()`` nor
    trips an injected error. moto's images never change, so answers are cached.
    """
    moto_url = _moto_url(fake)
    key = (moto_url, region, architecture)
    with _ami_lock:
        if key in _ami_cache:
            return _ami_cache[key]
    ec2 = _client("ec2", moto_url, region)
    arch = {"Name": "architecture", "Values": [architecture]}
    images = []
    if architecture in _PREFERRED_IMAGES:
        images = ec2.describe_images(Filters=[arch, {
            "Name": "name", "Values": [_PREFERRED_IMAGES[architecture]]}])["Images"]
    if not images:
        images = ec2.describe_images(Filters=[arch])["Images"]
    if not images:
        raise LookupError(f"moto knows no {architecture} image in {region}")
    image_id = sorted(i["ImageId"] for i in images)[0]
    with _ami_lock:
        _ami_cache[key] = image_id
    return image_id


def publish_dlami_parameters(fake: FakeEC2 | str, regions: Iterable[str]) -> dict[str, str]:
    """Publish the Deep Learning AMI SSM parameters (``DLAMI_PARAMETERS``) in each region.

    Each names an image moto knows in that region with the right architecture, so code that
    resolves the DLAMI through SSM and boots it works against moto. ``fake`` is a FakeEC2
    or the endpoint URL of one served by another process. Returns {name: value} of the last
    region. Needed again after every ``reset()``.
    """
    published: dict[str, str] = {}
    for region in regions:
        published = {}
        for name, arch in DLAMI_PARAMETERS.items():
            value = default_ami(fake, region, arch)
            if isinstance(fake, FakeEC2):
                fake.publish_public_parameter(region, name, value)
            else:
                _steer(fake, "publish_public_parameter", region=region, name=name, value=value)
            published[name] = value
    return published


# ---------------------------------------------------------------------- script


def main() -> None:
    """Serve a FakeEC2 until SIGTERM/SIGINT; announce the URLs as one JSON line."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fake = FakeEC2().start()
    try:
        sys.stdout.write(json.dumps(fake.info()) + "\n")
        sys.stdout.flush()
        while not stop.wait(3600):
            pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
