"""The value types of provisioning: what to create, what exists, what was tried, how it failed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import field, frozen

from greenml.model import Option
from greenml.validators import one_of, required_text, text

#: What a provider's failure blocks: one zone, one region, one offer (instance type in a region),
#: the whole provider, or nothing (the failure is not about capacity at all).
SCOPES = ("zone", "region", "offer", "provider", "none")

#: Tag keys greenml puts on every resource it creates, so that it can be found after a crash.
TAG_LAUNCH_ID = "greenml-launch-id"
TAG_NAME = "greenml-name"
TAG_CO2E = "greenml-planned-co2e-kg"
TAG_INDEX = "greenml-index"


@frozen
class Failure:
    """A provider's reading of an error: what it blocks, and whether trying again can help.

    ``retry``: throttling; the same call may succeed later. ``stop``: bad credentials or a bad
    request; no other option will fare better, so the launch stops with ``reason``. A failure
    of scope "provider" (credentials, a permission, no answer), ``stop`` or not, passes over
    every option of that provider at once and is named once in the LaunchError; other
    providers' options are still tried.
    """

    scope: str = field(validator=one_of(SCOPES))
    reason: str
    code: str = ""
    retry: bool = False
    stop: bool = False
    retry_after_s: float | None = None


def _dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return dict(mapping)


@frozen
class InstanceRequest:
    """One instance of a launch, as handed to a provider's ``create_instance``.

    ``token`` is stable across retries of the same instance, for the provider's idempotency
    mechanism (EC2 ClientToken, GCE requestId, ...). ``keep``: the instance stays when its
    command exits; ``max_hours``: the time limit after which it ends all the same (None:
    none). Both go into the boot script (``greenml.provider.boot``).
    """

    launch_id: str
    name: str
    index: int
    option: Option
    zone: str | None
    run: str
    token: str
    tags: Mapping[str, str] = field(factory=dict, converter=_dict)
    settings: Mapping[str, Any] = field(factory=dict, converter=_dict)
    keep: bool = False
    max_hours: float | None = None

    @property
    def instance_name(self) -> str:
        return f"{self.name}-{self.index}"


class Journal:
    """The ledger's hand in a provider's ``create_instance``: record each sub-resource.

    A provider that creates several things for one instance (a NIC, a disk, then the VM)
    calls ``intent`` before each cloud call and ``created`` after, so that a crash between
    them leaves a record ``greenml down`` follows up. The instance itself is recorded by
    greenml around the ``create_instance`` call.
    """

    def __init__(self, request: InstanceRequest, ledger: Any, provider: str) -> None:
        self._request, self._ledger, self._provider = request, ledger, provider

    def intent(self, kind: str, name: str, resource_id: str = "") -> str:
        """Before creating ``kind`` called ``name`` (whose id will be ``resource_id``, where
        the provider can tell: ``down`` then needs no tag search to find it); returns the
        token to report back with."""
        r = self._request
        token = f"{r.token}/{kind}/{name}"  # gang.of_gang relies on the "/"
        if self._ledger is not None:
            self._ledger.intent(token, r.launch_id, self._provider, r.option.region.name,
                                r.zone or "", name, kind, resource_id)
        return token

    def created(self, token: str, resource_id: str) -> None:
        """After the cloud call: the sub-resource exists under ``resource_id``."""
        if self._ledger is not None:
            self._ledger.result(token, "created", resource_id)


@frozen
class Resource:
    """Something greenml created (an instance, a NIC, a disk, a scheduler job) and where."""

    provider: str = attrs.field(validator=required_text)
    region: str = attrs.field(validator=text)
    resource_id: str = attrs.field(validator=text)  # "" until the provider answered
    kind: str = "instance"
    zone: str = ""
    name: str = ""
    launch_id: str = ""
    state: str = ""
    #: What the provider said when asked (``greenml status --refresh``); "" when not asked.
    live_state: str = ""

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@frozen
class Attempt:
    """One try at one option (one zone of it), and how it ended."""

    provider: str
    region: str
    instance_type: str
    zone: str = ""
    ok: bool = False
    reason: str = ""
    scope: str = "none"
    code: str = ""

    def __str__(self) -> str:
        where = f"{self.provider}/{self.region}" + (f"/{self.zone}" if self.zone else "")
        return f"{where} {self.instance_type}: {'launched' if self.ok else self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class Launch:
    """The outcome of ``greenml.launch``: the option chosen, what exists, what was tried."""

    launch_id: str
    name: str
    option: Option | None
    instances: list[Resource] = attrs.Factory(list)
    attempts: list[Attempt] = attrs.Factory(list)
    dry_run: bool = False
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "launch_id": self.launch_id,
            "name": self.name,
            "dry_run": self.dry_run,
            "option": self.option.to_dict() if self.option else None,
            "instances": [r.to_dict() for r in self.instances],
            "attempts": [a.to_dict() for a in self.attempts],
            "description": self.description,
        }

