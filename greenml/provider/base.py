"""The convenient base classes: ``Provider`` implements both contracts with safe defaults,
``CatalogProvider`` serves its catalog from two package-data files.

Constructing a provider must be cheap and do no I/O; data is read on first use, and SDK
clients are created only inside launch code, kept on the provider object.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from greenml import compiled
from greenml.datafiles import offer_from_row, parse, region_from_row
from greenml.errors import GreenmlError
from greenml.model import Offer, Option, Region
from greenml.provider.settings import parse_settings, settings_help

if TYPE_CHECKING:  # what launching hands a provider: loaded to launch, not to plan
    from greenml.launch.types import Failure, InstanceRequest, Journal, Resource
    from greenml.provider.quota import Quota

_PARSE_LOCK = threading.Lock()


class Provider:
    """Base class for providers; subclasses set ``name`` and implement ``regions``/``offers``."""

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset({"plan"})
    #: The attrs class of the ``-o key=value`` settings (``greenml.provider.setting`` fields);
    #: None: the provider takes none, or declares them in its own ``settings_help``.
    settings_type: ClassVar[type[Any] | None] = None

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

    def rendezvous(self, resources: Sequence[Resource], option: Option) -> None:
        """Once every member of a launch is up (``resources``, in rank order), deliver each
        its rank, the node count and the head's private address where its boot script reads
        them (instance tags, metadata). The default does nothing: a single instance needs
        nothing, and a scheduler's job learns them from the scheduler. Raising rolls the
        gang back like a member that failed (``classify`` reads the error)."""

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
        from greenml.launch.types import Failure

        return Failure("none", f"{type(error).__name__}: {error}", stop=True)

    def describe(self, request: InstanceRequest) -> str:
        """One line saying exactly what ``create_instance`` would create (for dry runs)."""
        o = request.option
        return (f"{self.name}: create {o.offer.instance_type} {request.instance_name!r} in "
                f"{request.zone or o.region.name}")

    def console_output(self, resource: Resource) -> str:
        """What ``resource`` has printed so far: its serial console, or a scheduler job's
        output file (``greenml logs``). Providers that declare ``Capability.LOGS`` override
        it; the text is the whole console as the platform keeps it, greenml shows the new
        part. A kind of instance whose platform serves no console (a TPU slice) raises
        GreenmlError saying so. Read-only: it changes nothing."""
        raise GreenmlError(f"provider {self.name!r} cannot show logs: it does not read its "
                           "instances' console output (no 'logs' capability)")

    def quotas(self, regions: Sequence[str] | None = None) -> list[Quota]:
        """The account's GPU quotas in ``regions`` (None: every region with offers), in
        accelerators (``greenml quotas``). Providers that declare ``Capability.QUOTAS``
        override it, reading the platform through its SDK. Read-only: it changes nothing."""
        raise GreenmlError(f"provider {self.name!r} cannot read quotas: it does not read its "
                           "platform's GPU quotas (no 'quotas' capability)")

    def settings_help(self) -> dict[str, str]:
        """Provider settings a user may pass (``-o key=value``), each with a short help.

        Derived from ``settings_type``'s fields. greenml refuses, before anything is
        created, a key that no provider declares (``check_settings``), so a typo never
        launches without the setting it meant.
        """
        return settings_help(self.settings_type)

    def typed_settings(self, values: Mapping[str, Any],
                       names: Mapping[str, str] | None = None) -> Any:
        """``values`` (this provider's keys, as text) parsed into ``settings_type``.

        Parsed once per distinct set of values and kept on this provider: greenml parses
        them when it checks a launch's settings, and ``create_instance`` gets the same
        object back. Keys the class does not declare are dropped (a plain ``-o key=value``
        reaches every provider; ``check_settings`` refused any no provider declares).
        """
        if self.settings_type is None:
            return dict(values)
        declared = {f.name for f in attrs.fields(self.settings_type)}
        mine = {k: v for k, v in values.items() if k in declared}
        key = frozenset(mine.items())
        with _PARSE_LOCK:
            cache: dict[frozenset[tuple[str, Any]], Any] = self.__dict__.setdefault(
                "_greenml_settings", {})
            if key not in cache:
                cache[key] = parse_settings(self.settings_type, mine, provider=self.name,
                                            names=names)
            return cache[key]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


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
