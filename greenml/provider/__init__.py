"""The provider contract: what a plugin hands greenml so that its regions can compete in a plan.

Constructing a provider must be cheap and do no I/O; data is read on first use, and SDK
clients are created only inside launch code. Capabilities are declared as data.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from greenml import compiled
from greenml.datafiles import offer_from_row, parse, region_from_row
from greenml.errors import ConfigError, InputError, closest
from greenml.launch.types import (
    TAG_CO2E,
    TAG_INDEX,
    TAG_LAUNCH_ID,
    TAG_NAME,
    Failure,
    InstanceRequest,
    Journal,
    Resource,
    boot_script,
    parse_retry_after,
)
from greenml.model import Offer, Option, Region

#: What a provider author imports: the contract, what a launch hands it and what it hands
#: back, the tags and boot script every cloud uses, and the helpers for its errors.
__all__ = [
    "TAG_CO2E", "TAG_INDEX", "TAG_LAUNCH_ID", "TAG_NAME", "Capability", "CatalogProvider",
    "ConfigError",
    "Failure", "InstanceRequest", "Journal", "Provider", "Resource", "boot_script",
    "check_settings", "closest", "parse_retry_after",
]

class Capability(str, enum.Enum):
    """What a provider may declare in ``capabilities``.

    A ``str`` enum, so a provider may list members or their plain names alike
    (``Capability.LAUNCH == "launch"``); the conformance kit refuses any other name.
    """

    PLAN = "plan"  #: regions and offers greenml can plan on
    LAUNCH = "launch"  #: create_instance / terminate / find_resources
    SPOT = "spot"  #: spot or preemptible instances
    DOWN = "down"  #: terminate and find what a launch left
    GANG = "gang"  #: several instances for one job
    #: ``create_instance`` keeps a later start the plan chose
    #: (``request.option.schedule.start``), as a scheduler's begin time does; greenml
    #: launches such options only on providers that declare it.
    DEFER = "defer"


CAPABILITIES = frozenset(c.value for c in Capability)


class Provider:
    """Base class for providers; subclasses set ``name`` and implement ``regions``/``offers``."""

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset({"plan"})

    def regions(self) -> Sequence[Region]:
        """Every region this provider can plan in (offline: no credentials, no network)."""
        raise NotImplementedError

    def offers(self) -> Sequence[Offer]:
        """Every accelerator offer, each in one of ``regions()``."""
        raise NotImplementedError

    def check_credentials(self) -> tuple[bool, str]:
        """``(ok, reason)``: whether launching could work here, never revealing a secret."""
        return False, f"provider {self.name!r} does not launch"

    # Launching: providers that declare "launch" implement the methods below. Each call
    # creates or removes one thing and is safe to repeat (idempotent through request.token).

    def can_launch(self, option: Option) -> tuple[bool, str]:
        """Whether this provider can launch ``option`` at all, checked before anything is
        created (e.g. an offer type whose API the plugin does not drive); ``(ok, reason)``."""
        return True, ""

    def gang_size(self, option: Option) -> int:
        """How many ``create_instance`` calls one launch of ``option`` takes: one per instance
        for clouds; a scheduler that places a multi-node job in one submission says 1."""
        return option.instances

    def create_instance(self, request: InstanceRequest, journal: Journal) -> Resource:
        """Create one instance of ``request.option`` in ``request.zone`` (or the region).

        Tag it with ``request.tags`` so that ``find_resources`` can find it after a crash;
        record anything created on the way (a NIC, a disk) through ``journal`` first.
        Raise the SDK's own exception on failure; ``classify`` reads it.
        """
        raise NotImplementedError(f"provider {self.name!r} does not launch")

    def planned_id(self, request: InstanceRequest) -> str:
        """The id ``create_instance(request)`` will return, where the provider can tell
        before creating anything (names it chooses itself); "" where the cloud assigns ids.

        greenml records it with the intent, so that after a crash between the call and its
        record ``down`` removes the instance from the ledger alone, without relying on a tag
        search that may lag or not see where the instance is.
        """
        return ""

    def terminate(self, resources: Sequence[Resource]) -> None:
        """Delete these resources and everything created for them; gone already is fine."""
        raise NotImplementedError(f"provider {self.name!r} does not launch")

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        """Every live resource tagged with ``launch_id`` in ``regions`` (crash recovery)."""
        return []

    def states(self, resources: Sequence[Resource]) -> dict[str, str]:
        """The live state of each resource, by resource id (``greenml status --refresh``).

        The default asks ``find_resources``, the tag search crash recovery uses, and reports
        the state each found resource carries (``"exists"`` where it carries none); what it
        does not find is ``"gone"``. Override it where the provider can say more, such as a
        scheduler that remembers its finished jobs. Read-only: it changes nothing.
        """
        wanted: dict[str, dict[str, set[str]]] = {}
        for r in resources:
            if r.resource_id and r.launch_id:
                wanted.setdefault(r.launch_id, {}).setdefault(r.region, set()).add(
                    r.resource_id)
        out: dict[str, str] = {}
        for launch_id, by_region in wanted.items():
            found = {f.resource_id: f.state or "exists"
                     for f in self.find_resources(launch_id, sorted(by_region))}
            for ids in by_region.values():
                out.update({i: found.get(i, "gone") for i in ids})
        return out

    def ended(self, state: str) -> bool:
        """Whether a state from ``states`` means the resource has stopped for good: nothing
        runs and nothing is billed (a scheduler's finished job; gone). A stopped VM whose
        disk still costs has not ended: it still needs ``greenml down``."""
        return state == "gone"

    def classify(self, error: BaseException) -> Failure:
        """Read a launch error: which scope it blocks, and whether to retry or stop."""
        return Failure("none", f"{type(error).__name__}: {error}", stop=True)

    def describe(self, request: InstanceRequest) -> str:
        """One line saying exactly what ``create_instance`` would create (for dry runs)."""
        o = request.option
        return (f"{self.name}: create {o.offer.instance_type} {request.instance_name!r} in "
                f"{request.zone or o.region.name}")

    def settings_help(self) -> dict[str, str]:
        """Provider settings a user may pass (``-o key=value``), each with a short help.

        The one place a provider declares its settings: greenml refuses, before anything is
        created, a key that no provider declares (``check_settings``), so a typo never
        launches without the setting it meant.
        """
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def check_settings(settings: Any, providers: Mapping[str, Provider]) -> dict[str, str]:
    """The launch settings, checked before anything is created.

    ``settings`` maps keys to text: a plain ``key`` must be declared by some provider's
    ``settings_help()``, ``provider.key`` by that provider's. An unknown key (or provider)
    is an InputError naming the setting and the closest known one.
    """
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise InputError("settings", "must map setting names to text, e.g. "
                         f"{{'aws.subnet_id': 'subnet-1'}}, got {type(settings).__name__} "
                         f"{settings!r}"[:200])
    declared = {name: _declared(p) for name, p in providers.items()}
    every = sorted({key for keys in declared.values() for key in keys})
    for key, value in settings.items():
        if not isinstance(key, str) or not key.strip():
            raise InputError("settings", f"a setting's name must be non-empty text, got {key!r}")
        if not isinstance(value, str):
            raise InputError("settings", f"{key}: the value must be text, got {value!r}")
        provider, dot, name = key.partition(".")
        if not dot:
            if key not in every:
                raise InputError("settings", f"unknown setting {key!r}: no installed provider "
                                 "takes it", closest(key, every, n=1))
        elif provider not in declared:
            hints = [f"{p}.{name}" for p in closest(provider, declared, n=1)]
            raise InputError("settings", f"{key}: unknown provider {provider!r}; installed: "
                             f"{', '.join(sorted(declared)) or 'none'}", hints)
        elif name not in declared[provider]:
            known = declared[provider]
            takes = f"{provider} takes {', '.join(sorted(known))}" if known else (
                f"{provider} takes no settings")
            raise InputError("settings", f"unknown setting {key!r}: {takes}",
                             [f"{provider}.{k}" for k in closest(name, known, n=1)])
    return dict(settings)


def _declared(provider: Provider) -> frozenset[str]:
    """The setting names ``provider`` declares; none when its ``settings_help`` is broken."""
    try:
        return frozenset(str(k) for k in provider.settings_help())
    except Exception:  # a plugin's bug must not make every launch fail; its keys are refused
        return frozenset()


class CatalogProvider(Provider):
    """A provider whose catalog is two package-data files, ``regions.csv`` and ``offers.csv``.

    ``data_package`` names the package holding them. Both are read once, on first use. The
    offers come from ``offers.columns.json`` where the package ships one that matches its
    CSV (``greenml.compiled``: columns, with an ``Offer`` built only for a row that is read),
    and from the CSV otherwise.
    """

    data_package: ClassVar[str] = ""

    def regions(self) -> Sequence[Region]:
        return _read_regions(self.data_package, self.name)

    def offers(self) -> Sequence[Offer]:
        return _read_offers(self.data_package, self.name)


@functools.cache
def _read_regions(package: str, provider: str) -> tuple[Region, ...]:
    return parse(package, "regions.csv", region_from_row(provider))


@functools.cache
def _read_offers(package: str, provider: str) -> Sequence[Offer]:
    table = compiled.load(package, provider)
    return table if table is not None else parse(package, "offers.csv", offer_from_row(provider))
