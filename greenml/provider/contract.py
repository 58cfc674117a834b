"""The two contracts a provider fulfils: what planning needs, and what launching needs.

Both are ``typing.Protocol`` classes, so any object with these members is a provider (no base
class required); ``greenml.provider.Provider`` and ``CatalogProvider`` are convenient bases
that implement both with safe defaults. Planning is offline: no credentials, no network, no
SDK import. Launching creates, finds and removes what a launch made, each call safe to repeat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from greenml.launch.types import Failure, InstanceRequest, Journal, Resource
    from greenml.model import Offer, Option, Region

#: A provider's name: lower-case ASCII letters, digits and '-', starting with a letter or
#: digit. The registry refuses any other, and the conformance kit checks it.
PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


@runtime_checkable
class PlanningProvider(Protocol):
    """What a plan needs from a provider: its name, what it can do, its regions and offers."""

    @property
    def name(self) -> str:
        """A unique lower-case name (``aws``), used in plans and ``provider.key`` settings."""

    @property
    def display_name(self) -> str:
        """The name people know it by."""

    @property
    def capabilities(self) -> frozenset[str]:
        """``Capability`` members (or their plain names) this provider implements."""

    def regions(self) -> Sequence[Region]:
        """Every region this provider can plan in (offline: no credentials, no network)."""

    def offers(self) -> Sequence[Offer]:
        """Every accelerator offer, each in one of ``regions()``."""

    def check_credentials(self) -> tuple[bool, str]:
        """``(ok, reason)``: whether launching could work here, never revealing a secret."""


@runtime_checkable
class LaunchingProvider(PlanningProvider, Protocol):
    """What greenml's launch loop, ``status`` and ``down`` call on a provider that declares
    ``launch``. Errors are the SDK's own; ``classify`` reads them."""

    @property
    def settings_type(self) -> type[Any] | None:
        """The attrs class of this provider's ``-o key=value`` settings (None: none)."""

    def settings_help(self) -> dict[str, str]:
        """Each setting's name and help line."""

    def typed_settings(self, values: Mapping[str, Any],
                       names: Mapping[str, str] | None = None) -> Any:
        """``values`` parsed into ``settings_type``, once per distinct set of values."""

    def can_launch(self, option: Option) -> tuple[bool, str]:
        """Whether ``option`` can be launched at all, checked before anything is created."""

    def gang_size(self, option: Option) -> int:
        """How many ``create_instance`` calls one launch of ``option`` takes."""

    def create_instance(self, request: InstanceRequest, journal: Journal) -> Resource:
        """Create one instance, tagged with ``request.tags``; idempotent by ``request.token``."""

    def rendezvous(self, resources: Sequence[Resource], option: Option) -> None:
        """Once every member is up: deliver each its rank, the node count and the head's
        address through the platform's metadata (``resources`` in rank order)."""

    def planned_id(self, request: InstanceRequest) -> str:
        """The id ``create_instance(request)`` will return, or "" where the cloud assigns it."""

    def terminate(self, resources: Sequence[Resource]) -> None:
        """Delete these resources and what was created for them; gone already is fine."""

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        """Every live resource tagged with ``launch_id`` in ``regions`` (crash recovery)."""

    def states(self, resources: Sequence[Resource]) -> dict[str, str]:
        """The live state of each resource, by resource id; read-only."""

    def ended(self, state: str) -> bool:
        """Whether a state from ``states`` means nothing runs and nothing is billed."""

    def classify(self, error: BaseException) -> Failure:
        """Read a launch error: which scope it blocks, and whether to retry or stop."""

    def describe(self, request: InstanceRequest) -> str:
        """One line saying exactly what ``create_instance`` would create (dry runs)."""

    def console_output(self, resource: Resource) -> str:
        """What ``resource`` has printed so far (serial console, job output), for providers
        that declare ``logs``; read-only, never the user's secrets added by greenml."""
