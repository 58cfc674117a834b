"""What went wrong reaching Azure, in one line a user can act on, and never a secret.

Each function reads an error (or the environment) and says which it was: no answer from the
Microsoft Entra token endpoint or from ARM (the network), a refusal (which variable to
check), a missing role (a permission), or no credential at all. SDK-free: errors are read by
their names and attributes (``greenml_azure.failures``).
"""

from __future__ import annotations

import os
import re

from greenml import InputError
from greenml.scrub import register, scrub
from greenml_azure.arm import ENV_ENDPOINT, Connection, connection
from greenml_azure.failures import UNREACHABLE, read_error

#: How long ``check_credentials`` waits for a token (the Azure CLI alone may take 10 s).
CREDENTIAL_TIMEOUT_S = 30.0
#: Environment variables whose values are secrets: never shown, even inside an SDK message.
SECRET_VARIABLES = ("AZURE_CLIENT_SECRET", "AZURE_PASSWORD",
                    "AZURE_CLIENT_CERTIFICATE_PASSWORD")
#: The service principal's three variables (EnvironmentCredential with a secret).
SERVICE_PRINCIPAL = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str) -> str:
    """``text`` without the values of secret environment variables (registered with
    ``greenml.scrub``, which also finds their encoded forms) or bearer tokens (which the
    scrubber cannot know in advance)."""
    secrets = (os.environ.get(variable, "") for variable in SECRET_VARIABLES)
    register(*(secret for secret in secrets if len(secret) >= 4))
    return _BEARER.sub(r"\1***", scrub(text))


def subscription_problem(subscription: str, error: BaseException,
                         conn: Connection | None = None) -> str:
    """Why the subscription could not be read, in one line: ARM unreachable, the credential
    refused, no access to it, or no such subscription."""
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


def _credential_hint() -> str:
    present = [v for v in SERVICE_PRINCIPAL if os.environ.get(v)]
    if present and len(present) < len(SERVICE_PRINCIPAL):
        missing = [v for v in SERVICE_PRINCIPAL if v not in present]
        if not (missing == ["AZURE_CLIENT_SECRET"]
                and os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH")):
            return (f"{' and '.join(missing)} not set (a service principal needs "
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)")
    return ("set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service "
            "principal), use a managed identity on Azure, or run 'az login'")


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


def no_token_in_time() -> str:
    """The line for a token that did not come within ``CREDENTIAL_TIMEOUT_S``."""
    if _service_principal():
        return (f"no answer from the Microsoft Entra token endpoint at {authority()} within "
                f"{CREDENTIAL_TIMEOUT_S:g} s: check the network, a proxy, and "
                "AZURE_AUTHORITY_HOST")
    return f"no Azure token within {CREDENTIAL_TIMEOUT_S:g} s: {_credential_hint()}"


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
