"""The connection to Azure Resource Manager: credential, SDK clients, bounded waits.

The Azure SDKs are imported here, inside functions, never when greenml or the plugin is
imported. Credentials always come from ``DefaultAzureCredential`` (environment service
principal, workload or managed identity, Azure CLI, ...). Three environment variables move the
connection without changing that code path (Azure Stack Hub, a sovereign cloud, or a local
stand-in such as the tests' fake):

* ``GREENML_AZURE_ENDPOINT``: the ARM endpoint (token scope ``<endpoint>/.default``; Entra
  instance discovery is then off, as a private cloud needs; point ``AZURE_AUTHORITY_HOST`` at
  its authority);
* ``GREENML_AZURE_CA_BUNDLE``: a CA file to trust for ARM and for the token endpoint;
* ``GREENML_AZURE_POLL_INTERVAL_S`` (default 5): seconds between operation-status reads
  when ARM sends no ``Retry-After``; ``GREENML_AZURE_SDK_RETRIES`` (default 0): how often
  the SDK itself retries a call (azure-core's ``retry_total``).

Retries: greenml's launch loop retries create and terminate itself (``greenml.RetryPolicy``,
honouring ``Retry-After``, with the same resource names), so the SDK makes one try per call:
a throttled PUT is sent at most ``RetryPolicy.attempts`` times (default 5), where 3 SDK
retries under each of greenml's 5 tries sent it 20 times. Each SDK retry set in
``GREENML_AZURE_SDK_RETRIES`` multiplies that bound by one more. The subscription reads
here, which greenml does not retry, keep ``READ_RETRIES`` SDK retries.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from greenml import InputError
from greenml.environment import number

from . import config
from .failures import OperationTimedOut

ENV_ENDPOINT = "GREENML_AZURE_ENDPOINT"
ENV_CA_BUNDLE = "GREENML_AZURE_CA_BUNDLE"
ENV_POLL_INTERVAL_S = "GREENML_AZURE_POLL_INTERVAL_S"
ENV_SDK_RETRIES = "GREENML_AZURE_SDK_RETRIES"
DEFAULT_POLL_INTERVAL_S = 5.0
DEFAULT_SDK_RETRIES = 0
#: SDK retries (at least) for the reads greenml itself does not retry (the subscriptions).
READ_RETRIES = 3
#: How long ``check_credentials`` waits for a token (the Azure CLI alone may take 10 s).
CREDENTIAL_TIMEOUT_S = 30.0
PUBLIC_SCOPE = "https://management.azure.com/.default"
#: api-version of the subscription list (GET /subscriptions), a stable ARM API.
SUBSCRIPTIONS_API = "2022-12-01"
#: Environment variables whose values are secrets: never shown, even inside an SDK message.
SECRET_VARIABLES = ("AZURE_CLIENT_SECRET", "AZURE_PASSWORD",
                    "AZURE_CLIENT_CERTIFICATE_PASSWORD")

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


@attrs.frozen
class Connection:
    """Where ARM is and how to talk to it, from the environment."""

    endpoint: str | None
    ca_bundle: str | None
    poll_interval_s: float
    sdk_retries: int

    @property
    def scope(self) -> str:
        return f"{self.endpoint.rstrip('/')}/.default" if self.endpoint else PUBLIC_SCOPE

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"polling_interval": self.poll_interval_s,
                                   "retry_total": self.sdk_retries,
                                   "connection_timeout": 10, "read_timeout": 120}
        if self.endpoint:
            options.update(base_url=self.endpoint.rstrip("/"), credential_scopes=[self.scope])
        if self.ca_bundle:
            options["connection_verify"] = self.ca_bundle
        return options

    def credential_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.endpoint:
            options["disable_instance_discovery"] = True
        if self.ca_bundle:
            options["connection_verify"] = self.ca_bundle
        return options


def connection() -> Connection:
    """Read and check the connection settings; a bad one names its variable."""
    endpoint = os.environ.get(ENV_ENDPOINT, "").strip() or None
    if endpoint is not None and not endpoint.startswith(("https://", "http://")):
        raise InputError(ENV_ENDPOINT, f"{endpoint!r} is not an http(s) URL")
    if endpoint is not None and endpoint.startswith("http://"):
        raise InputError(ENV_ENDPOINT, "Azure sends bearer tokens over https only; serve the "
                         f"endpoint over https (with {ENV_CA_BUNDLE} for a private CA)")
    ca_bundle = os.environ.get(ENV_CA_BUNDLE, "").strip() or None
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise InputError(ENV_CA_BUNDLE, f"{ca_bundle!r} is not a file")
    return Connection(endpoint, ca_bundle,
                      number(ENV_POLL_INTERVAL_S, DEFAULT_POLL_INTERVAL_S, unit="seconds"),
                      int(number(ENV_SDK_RETRIES, DEFAULT_SDK_RETRIES)))


def read_retries() -> int:
    """azure-core's ``retry_total`` for a read greenml does not retry itself."""
    return max(READ_RETRIES, connection().sdk_retries)


_lock = threading.RLock()  # _cached makers may call _cached (resources -> credential)
_cache: dict[tuple[Any, ...], Any] = {}


def forget_clients() -> None:
    """Drop cached credentials and clients (the environment changed)."""
    with _lock:
        _cache.clear()


def lookup(key: tuple[Any, ...]) -> Any:
    """A cached value (None if absent), for module-level caches that forget with the clients."""
    with _lock:
        return _cache.get(key)


def store(key: tuple[Any, ...], value: Any) -> None:
    with _lock:
        _cache[key] = value


def _cached(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    with _lock:
        if key not in _cache:
            _cache[key] = make()
        return _cache[key]


def credential(conn: Connection | None = None) -> Any:
    """One ``DefaultAzureCredential`` per connection, shared (it caches its tokens)."""
    conn = conn or connection()

    def make() -> Any:
        import logging

        from azure.identity import DefaultAzureCredential

        # greenml reports credential problems itself, in one line; without a handler of the
        # user's, Python would print azure-identity's multi-line warnings to stderr as well.
        logging.getLogger("azure").addHandler(logging.NullHandler())

        return DefaultAzureCredential(**conn.credential_options())

    return _cached(("credential", conn), make)


def compute(subscription_id: str) -> Any:
    conn = connection()

    def make() -> Any:
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient(credential(conn), subscription_id,
                                       **conn.client_options())

    return _cached(("compute", conn, subscription_id.lower()), make)


def network(subscription_id: str) -> Any:
    conn = connection()

    def make() -> Any:
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient(credential(conn), subscription_id,
                                       **conn.client_options())

    return _cached(("network", conn, subscription_id.lower()), make)


def resources(subscription_id: str) -> Any:
    conn = connection()

    def make() -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(credential(conn), subscription_id,
                                        **conn.client_options())

    return _cached(("resources", conn, subscription_id.lower()), make)


T = TypeVar("T")


def wait(poller: Any, what: str, deadline_s: float) -> Any:
    """The result of a long-running operation, or ``OperationTimedOut`` after ``deadline_s``.

    ARM operations have no deadline of their own: a VM stuck in "Creating" would hold the
    launch forever. The operation itself goes on in Azure; what it made carries greenml's tags.
    """
    poller.wait(timeout=deadline_s)
    if not poller.done():
        raise OperationTimedOut(what, deadline_s)
    return poller.result()


def bounded(call: Callable[[], T], timeout_s: float) -> T:
    """``call()`` in a daemon thread, abandoned after ``timeout_s`` (raises TimeoutError)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="greenml-azure-bounded")
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def redact(text: str) -> str:
    """``text`` without the values of secret environment variables or bearer tokens."""
    for variable in SECRET_VARIABLES:
        secret = os.environ.get(variable, "")
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text)


def check_credentials() -> tuple[bool, str]:
    """Whether a token can be had and the default subscription (if any) is visible.

    The subscription may also come from a launch setting, which this check cannot see; a
    launch with none at all stops with a message naming ``AZURE_SUBSCRIPTION_ID``.
    """
    try:
        conn = connection()
        subscription = config.default_subscription()
    except InputError as exc:
        return False, str(exc)
    try:
        bounded(lambda: credential(conn).get_token(conn.scope), CREDENTIAL_TIMEOUT_S)
    except TimeoutError:
        if _service_principal():
            return False, (f"no answer from the Microsoft Entra token endpoint at "
                           f"{authority()} within {CREDENTIAL_TIMEOUT_S:g} s: check the "
                           "network, a proxy, and AZURE_AUTHORITY_HOST")
        return False, (f"no Azure token within {CREDENTIAL_TIMEOUT_S:g} s: "
                       f"{_credential_hint()}")
    except Exception as exc:
        return False, credential_problem(exc)
    if subscription:
        try:
            _get_subscription(subscription)
        except Exception as exc:
            return False, subscription_problem(subscription, exc, conn)
    return True, ""


def subscription_problem(subscription: str, error: BaseException,
                         conn: Connection | None = None) -> str:
    """Why the subscription could not be read, in one line: ARM unreachable, the credential
    refused, no access to it, or no such subscription."""
    from .failures import UNREACHABLE, read_error

    code, message, status, _ = read_error(error)
    name = type(error).__name__
    if name in UNREACHABLE and not status:
        return arm_unreachable(name, conn)
    if status == 403 or code in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
        return redact(f"the credential has no access to subscription {subscription} "
                      f"({code or status}): give its identity a role on the subscription "
                      "(Reader or more), or use another subscription")
    if status == 401:
        return redact(f"Azure Resource Manager rejected the credential's token "
                      f"({code or status}): {message}")
    return redact(f"subscription {subscription} is not usable with this credential: "
                  f"{code or status or name}: {message}")


def arm_unreachable(name: str, conn: Connection | None = None) -> str:
    """The line for "no answer from ARM": where, and what to check."""
    try:
        conn = conn or connection()
    except InputError:
        conn = None
    endpoint = _origin(conn.endpoint) if conn and conn.endpoint else \
        "https://management.azure.com"
    check = f"the network, a proxy{f', and {ENV_ENDPOINT}' if conn and conn.endpoint else ''}"
    return f"cannot reach Azure Resource Manager at {endpoint} ({name}): check {check}"


def _get_subscription(subscription_id: str) -> None:
    from azure.core.rest import HttpRequest

    client = resources(subscription_id)
    response = client.send_request(HttpRequest(
        "GET", f"/subscriptions/{subscription_id}?api-version={SUBSCRIPTIONS_API}"),
        retry_total=read_retries())
    response.raise_for_status()


def visible_subscriptions() -> list[str]:
    """Every enabled subscription the credential can see, the default one first.

    greenml searches them all by tag, because a launch may have used a subscription given as
    a setting that ``greenml down`` does not have.
    """
    from azure.core.rest import HttpRequest

    default = config.default_subscription()
    found = [default] if default else []
    client = resources(default or "00000000-0000-0000-0000-000000000000")
    url: str | None = f"/subscriptions?api-version={SUBSCRIPTIONS_API}"
    while url:
        response = client.send_request(HttpRequest("GET", url), retry_total=read_retries())
        response.raise_for_status()
        page = response.json()
        for entry in page.get("value") or []:
            sub = str(entry.get("subscriptionId", ""))
            if sub and entry.get("state", "Enabled") in ("Enabled", "Warned", "PastDue") \
                    and sub.lower() not in {f.lower() for f in found}:
                found.append(sub)
        url = page.get("nextLink")
    return found


def _credential_hint() -> str:
    present = [v for v in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
               if os.environ.get(v)]
    if present and len(present) < 3:
        missing = [v for v in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
                   if v not in present]
        if not (missing == ["AZURE_CLIENT_SECRET"]
                and os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH")):
            return (f"{' and '.join(missing)} not set (a service principal needs "
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)")
    return ("set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service "
            "principal), use a managed identity on Azure, or run 'az login'")


#: The service principal's three variables (EnvironmentCredential with a secret).
SERVICE_PRINCIPAL = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
#: Microsoft Entra error codes (AADSTS...) and which variable each points at.
AADSTS_HINTS = {
    "90002": "AZURE_TENANT_ID (no such tenant)",
    "900023": "AZURE_TENANT_ID (not a valid tenant)",
    "90072": "AZURE_TENANT_ID (the application is not in this tenant)",
    "700016": "AZURE_CLIENT_ID (no such application in this tenant)",
    "7000215": "AZURE_CLIENT_SECRET (and AZURE_CLIENT_ID: the secret must be a secret of "
               "that application, its value and not its id)",
    "7000222": "AZURE_CLIENT_SECRET (it has expired: create a new one)",
    "7000112": "AZURE_CLIENT_ID (the application is disabled)",
}
#: Text in an azure-identity error that says the request got no answer.
_NO_ANSWER = re.compile(r"Failed to establish a new connection|Connection refused|"
                        r"Name or service not known|Temporary failure in name resolution|"
                        r"nodename nor servname|No route to host|Network is unreachable|"
                        r"timed out|Connection reset|Connection aborted|RemoteDisconnected",
                        re.I)
_TLS = re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError|certificate verify failed", re.I)


def _service_principal() -> bool:
    return all(os.environ.get(v) for v in SERVICE_PRINCIPAL)


def authority() -> str:
    """Where tokens come from: ``AZURE_AUTHORITY_HOST`` or the public Entra host."""
    return _origin(os.environ.get("AZURE_AUTHORITY_HOST", "").strip() or DEFAULT_AUTHORITY)


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, never a user:password part."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "//" in url else f"https://{url}")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def credential_problem(error: BaseException) -> str:
    """What went wrong getting a token, in one line, without a secret: no answer from the
    token endpoint (the network), a refusal (which variable to check), or no credential."""
    name = type(error).__name__
    text = str(error)
    from .failures import UNREACHABLE

    codes = re.findall(r"AADSTS(\d+):[^.\n]*", text)
    if not codes and (name in UNREACHABLE or _NO_ANSWER.search(text)):
        why = _NO_ANSWER.search(text)
        return (f"cannot reach the Microsoft Entra token endpoint at {authority()} "
                f"({why.group(0) if why else name}): no answer, so nothing about the "
                "credential is known; check the network, a proxy, and AZURE_AUTHORITY_HOST")
    if not codes and _TLS.search(text):
        return (f"the TLS certificate of {authority()} could not be verified: check "
                "REQUESTS_CA_BUNDLE or GREENML_AZURE_CA_BUNDLE (a private CA) and the clock")
    if codes:
        [full] = re.findall(r"AADSTS\d+:[^.\n]*", text)[:1]
        hint = AADSTS_HINTS.get(codes[0])
        return redact(f"Azure refused the credential ({full.strip()})"
                      + (f": check {hint}" if hint else ""))
    if "Invalid tenant ID" in text:
        return ("AZURE_TENANT_ID is not a valid tenant id: give the directory's GUID or a "
                "domain such as contoso.onmicrosoft.com")
    if _service_principal():
        lines = [ln.strip() for ln in text.splitlines() if "Credential:" in ln]
        detail = (lines[0] if lines else (text.strip().splitlines() or [name])[0])[:200]
        return redact(f"the service principal in AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                      f"AZURE_CLIENT_SECRET got no token ({name}): {detail}")
    if name == "CredentialUnavailableError" or \
            "failed to retrieve a token from the included credentials" in text:
        return f"no Azure credential found: {_credential_hint()}"
    detail = (text.strip().splitlines() or [name])[0][:200]
    return redact(f"Azure refused the credential ({name}): {detail}")
