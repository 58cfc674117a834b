"""The connection to Azure Resource Manager: where it is, how its SDK clients are built, and
bounded waits on its long-running operations.

The Azure SDKs are imported here, inside functions, never when greenml or the plugin is
imported. The functions below build a new credential or client on each call; the ``Azure``
provider keeps the ones it builds (``greenml_azure.clients``). Credentials always come from
``DefaultAzureCredential`` (environment service principal, workload or managed identity,
Azure CLI, ...). Four environment variables move the connection without changing that code
path (Azure Stack Hub, a sovereign cloud, or a local stand-in such as the tests' fake):

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
``GREENML_AZURE_SDK_RETRIES`` multiplies that bound by one more. The subscription reads,
which greenml does not retry, keep ``READ_RETRIES`` SDK retries.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from greenml import InputError
from greenml.environment import number
from greenml_azure.failures import OperationTimedOut

ENV_ENDPOINT = "GREENML_AZURE_ENDPOINT"
ENV_CA_BUNDLE = "GREENML_AZURE_CA_BUNDLE"
ENV_POLL_INTERVAL_S = "GREENML_AZURE_POLL_INTERVAL_S"
ENV_SDK_RETRIES = "GREENML_AZURE_SDK_RETRIES"
DEFAULT_POLL_INTERVAL_S = 5.0
DEFAULT_SDK_RETRIES = 0
#: SDK retries (at least) for the reads greenml itself does not retry (the subscriptions).
READ_RETRIES = 3
PUBLIC_SCOPE = "https://management.azure.com/.default"

T = TypeVar("T")


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


def credential(conn: Connection | None = None) -> Any:
    """A new ``DefaultAzureCredential`` for ``conn`` (keep it: it caches its tokens)."""
    from azure.identity import DefaultAzureCredential

    # greenml reports credential problems itself, in one line; without a handler of the
    # user's, Python would print azure-identity's multi-line warnings to stderr as well.
    quiet = logging.getLogger("azure")
    if not any(isinstance(h, logging.NullHandler) for h in quiet.handlers):
        quiet.addHandler(logging.NullHandler())
    return DefaultAzureCredential(**(conn or connection()).credential_options())


def compute(subscription_id: str, token_source: Any = None,
            conn: Connection | None = None) -> Any:
    """A new ``ComputeManagementClient`` (a new credential unless ``token_source`` is one)."""
    from azure.mgmt.compute import ComputeManagementClient

    conn = conn or connection()
    return ComputeManagementClient(token_source or credential(conn), subscription_id,
                                   **conn.client_options())


def network(subscription_id: str, token_source: Any = None,
            conn: Connection | None = None) -> Any:
    """A new ``NetworkManagementClient`` (a new credential unless ``token_source`` is one)."""
    from azure.mgmt.network import NetworkManagementClient

    conn = conn or connection()
    return NetworkManagementClient(token_source or credential(conn), subscription_id,
                                   **conn.client_options())


def resources(subscription_id: str, token_source: Any = None,
              conn: Connection | None = None) -> Any:
    """A new ``ResourceManagementClient`` (a new credential unless ``token_source`` is one)."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    conn = conn or connection()
    return ResourceManagementClient(token_source or credential(conn), subscription_id,
                                    **conn.client_options())


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
    value: T = box["value"]
    return value
