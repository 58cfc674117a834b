"""The SDK clients one ``Azure`` provider makes on first use and keeps, with what they looked
up: one credential and one client per kind and subscription for each connection (the
environment may move it), each location's VM sizes, and the subscriptions to search.

Nothing here is module-global: a new provider object starts with nothing made, and
``forget`` drops all of it (the credentials or the endpoint changed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from greenml_azure import arm
from greenml_azure.cleanup import DISK, IP, NIC, VM, ArmId
from greenml_azure.config import default_subscription

#: How long a location's resource-SKU list is trusted (it is large and changes rarely).
SKU_CACHE_S = 600.0
#: api-version of the subscription list (GET /subscriptions), a stable ARM API.
SUBSCRIPTIONS_API = "2022-12-01"
#: Where to list subscriptions from when no default one is known (the list ignores it).
ANY_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


class ArmClients:
    """Credential and clients for ARM, made once per connection and shared by threads (a
    gang's members create at once; azure-core clients are safe to share)."""

    def __init__(self) -> None:
        self._made: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.RLock()  # a client's maker asks for the credential
        self._sku_lock = threading.Lock()  # a gang's members share one listing
        self._ground_locks: dict[tuple[str, ...], threading.Lock] = {}

    def forget(self) -> None:
        """Drop every credential, client and look-up made so far."""
        with self._lock:
            self._made.clear()

    def _once(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]

    def credential(self, conn: arm.Connection | None = None) -> Any:
        """One ``DefaultAzureCredential`` per connection (it caches its tokens)."""
        conn = conn or arm.connection()
        return self._once(("credential", conn), lambda: arm.credential(conn))

    def compute(self, subscription_id: str) -> Any:
        conn = arm.connection()
        return self._once(("compute", conn, subscription_id.lower()), lambda: arm.compute(
            subscription_id, self.credential(conn), conn))

    def network(self, subscription_id: str) -> Any:
        conn = arm.connection()
        return self._once(("network", conn, subscription_id.lower()), lambda: arm.network(
            subscription_id, self.credential(conn), conn))

    def resources(self, subscription_id: str) -> Any:
        conn = arm.connection()
        return self._once(("resources", conn, subscription_id.lower()), lambda: arm.resources(
            subscription_id, self.credential(conn), conn))

    def ground_lock(self, *key: str) -> threading.Lock:
        """One lock per shared thing (a resource group, a VNet), so that a gang's members
        create it once, not in a race."""
        with self._lock:
            return self._ground_locks.setdefault(tuple(k.lower() for k in key),
                                                 threading.Lock())

    def skus(self, subscription_id: str, location: str) -> dict[str, list[dict[str, Any]]]:
        """Size (lower-case) -> restrictions, for the VM SKUs of one location; listed at most
        every ``SKU_CACHE_S``."""
        with self._sku_lock:
            key = ("skus", arm.connection(), subscription_id.lower(), location.lower())
            with self._lock:
                cached = self._made.get(key)
            if cached is not None and time.monotonic() - cached[0] < SKU_CACHE_S:
                listed: dict[str, list[dict[str, Any]]] = cached[1]
                return listed
            listed = {}
            for sku in self.compute(subscription_id).resource_skus.list(
                    filter=f"location eq '{location}'"):
                if str(sku.resource_type).lower() != "virtualmachines":
                    continue
                restrictions = [r.as_dict() if hasattr(r, "as_dict") else dict(r)
                                for r in sku.restrictions or []]
                for restriction in restrictions:  # SDK versions differ in key case
                    for camel, snake in (("reasonCode", "reason_code"),
                                         ("restrictionInfo", "restriction_info")):
                        if snake in restriction:
                            restriction[camel] = restriction.pop(snake)
                listed[str(sku.name).lower()] = restrictions
            with self._lock:
                self._made[key] = (time.monotonic(), listed)
            return listed

    def read_subscription(self, subscription_id: str) -> None:
        """GET the subscription: raises the SDK's error when it cannot be read."""
        from azure.core.rest import HttpRequest

        response = self.resources(subscription_id).send_request(HttpRequest(
            "GET", f"/subscriptions/{subscription_id}?api-version={SUBSCRIPTIONS_API}"),
            retry_total=arm.read_retries())
        response.raise_for_status()

    def visible_subscriptions(self) -> list[str]:
        """Every enabled subscription the credential can see, the default one first.

        greenml searches them all by tag, because a launch may have used a subscription given
        as a setting that ``greenml down`` does not have.
        """
        from azure.core.rest import HttpRequest

        default = default_subscription()
        found = [default] if default else []
        client = self.resources(default or ANY_SUBSCRIPTION)
        url: str | None = f"/subscriptions?api-version={SUBSCRIPTIONS_API}"
        while url:
            response = client.send_request(HttpRequest("GET", url),
                                           retry_total=arm.read_retries())
            response.raise_for_status()
            page = response.json()
            for entry in page.get("value") or []:
                sub = str(entry.get("subscriptionId", ""))
                if sub and entry.get("state", "Enabled") in ("Enabled", "Warned", "PastDue") \
                        and sub.lower() not in {f.lower() for f in found}:
                    found.append(sub)
            url = page.get("nextLink")
        return found

    def get(self, aid: ArmId) -> Any:
        """The VM, NIC, public IP or disk ``aid`` names, or None if it is gone."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._operations(aid).get(aid.group, aid.name)
        except ResourceNotFoundError:
            return None

    def begin_delete(self, aid: ArmId) -> Any:
        """Start deleting ``aid``: its poller (ResourceNotFoundError if it is gone)."""
        return self._operations(aid).begin_delete(aid.group, aid.name)

    def _operations(self, aid: ArmId) -> Any:
        if aid.rtype == VM:
            return self.compute(aid.subscription).virtual_machines
        if aid.rtype == NIC:
            return self.network(aid.subscription).network_interfaces
        if aid.rtype == IP:
            return self.network(aid.subscription).public_ip_addresses
        if aid.rtype == DISK:
            return self.compute(aid.subscription).disks
        raise ValueError(f"not a VM, NIC, public IP or disk: {aid.text}")
