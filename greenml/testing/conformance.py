"""The provider conformance kit: check a provider plugin against greenml's contract.

``check_provider`` (exported by ``greenml.testing`` too) runs every check and raises one
AssertionError listing each violation; ``provider_problems`` returns them as a list. The
contract is the one ``greenml.provider.Provider`` documents: a unique lower-case name, cheap
construction with no I/O, regions and offers served offline with a source for every figure,
capabilities that match what is implemented, failure classification into valid scopes and,
given a test double, launch and down through greenml's own loop that are idempotent and
leave nothing behind.
"""

from __future__ import annotations

import contextlib
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenml.launch.types import (
    SCOPES,
    TAG_CO2E,
    TAG_INDEX,
    TAG_LAUNCH_ID,
    TAG_NAME,
    Failure,
    InstanceRequest,
    Journal,
    Resource,
)
from greenml.model import Offer, Region
from greenml.provider import CAPABILITIES, Provider

if TYPE_CHECKING:
    from greenml.model import Option
    from greenml.plan.result import Plan

#: A provider name: lower-case letters, digits and '-' (the catalog refuses anything else).
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
#: What a provider that declares "launch" must implement itself.
LAUNCH_METHODS = ("check_credentials", "create_instance", "terminate", "find_resources",
                  "classify")
#: Errors any provider's ``classify`` must read without raising.
GENERIC_ERRORS: tuple[BaseException, ...] = (
    RuntimeError("conformance kit: a generic failure"),
    TimeoutError("conformance kit: timed out"),
    ConnectionError("conformance kit: connection reset"),
    ValueError("conformance kit: a bad value"),
    KeyError("conformance-kit"),
    OSError(5, "conformance kit: input/output error"),
)
#: Audit events and the kind of I/O each one is.
IO_EVENTS = {
    "open": "open",
    "socket.connect": "socket", "socket.getaddrinfo": "socket", "socket.sendto": "socket",
    "socket.gethostbyname": "socket", "socket.gethostbyaddr": "socket",
    "subprocess.Popen": "subprocess", "os.system": "subprocess", "os.posix_spawn": "subprocess",
    "os.exec": "subprocess", "os.spawn": "subprocess", "os.fork": "subprocess",
}
#: What the import machinery opens; imports are judged on their own (see ``_new_modules``).
IMPORT_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".pth")

_recording = threading.local()
_audit_installed = False
_audit_lock = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    events = getattr(_recording, "events", None)
    if events is None or event not in IO_EVENTS:
        return
    try:
        if event == "open":
            path = str(args[0])
            if path.endswith(IMPORT_SUFFIXES) or isinstance(args[0], int):
                return
            detail = path
        elif event == "socket.connect":
            detail = str(args[1])
        elif event == "subprocess.Popen":
            detail = " ".join(str(a) for a in (args[1] or [args[0]]))[:120]
        else:
            detail = " ".join(str(a) for a in args[:2])[:120]
        events.append((IO_EVENTS[event], f"{event} {detail}"))
    except Exception:  # an audit hook must never raise into the code it watches
        pass


@contextlib.contextmanager
def record_io() -> Iterator[list[tuple[str, str]]]:
    """Record ``(kind, detail)`` for each file open, network call and process start in this
    thread; kind is "open", "socket" or "subprocess". Imports are not recorded.

    Audit hooks cannot be removed, so one is installed once and records only inside this block.
    """
    global _audit_installed
    with _audit_lock:
        if not _audit_installed:
            sys.addaudithook(_audit)
            _audit_installed = True
    outer = getattr(_recording, "events", None)
    events: list[tuple[str, str]] = []
    _recording.events = events
    try:
        yield events
    finally:
        _recording.events = outer
        if outer is not None:
            outer.extend(events)


def check_provider(
    provider: Provider | Callable[[], Provider],
    *,
    double: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    offline_io: Collection[str] = ("open",),
    errors: Iterable[BaseException | tuple[BaseException, str | Mapping[str, Any]]] = (),
    run: str = "echo greenml conformance kit",
    settings: Mapping[str, str] | None = None,
) -> None:
    """Check a provider against greenml's provider contract; one AssertionError lists every
    violation. See ``provider_problems`` for the arguments and what is checked."""
    problems = provider_problems(provider, double=double, offline_io=offline_io, errors=errors,
                                 run=run, settings=settings)
    if problems:
        name = getattr(provider, "name", "") or getattr(provider, "__name__", repr(provider))
        raise AssertionError(f"provider {name!r} breaks the greenml provider contract "
                             f"({len(problems)} problem(s)):\n"
                             + "\n".join(f"  - {p}" for p in problems))


def provider_problems(
    provider: Provider | Callable[[], Provider],
    *,
    double: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    offline_io: Collection[str] = ("open",),
    errors: Iterable[BaseException | tuple[BaseException, str | Mapping[str, Any]]] = (),
    run: str = "echo greenml conformance kit",
    settings: Mapping[str, str] | None = None,
) -> list[str]:
    """Every way ``provider`` breaks the contract, as sentences (empty: it conforms).

    ``provider`` is the provider class or a factory (construction is checked: no file, network
    or process I/O, no import of a third-party package) or an instance (its class is built too
    when it takes no arguments). Checked offline: the name (lower-case ``[a-z0-9-]``, not
    taken by another installed provider); capabilities as data consistent with the methods
    overridden; ``regions()``/``offers()`` with I/O only of the kinds in ``offline_io``
    ("open", "subprocess"; never the network), every figure with a source and year, every
    offer in a known region on a known accelerator; ``describe`` calling nothing;
    ``classify`` giving a ``greenml.Failure`` for generic errors and for ``errors``, the
    provider's own samples, each alone or with its expected scope (or a dict of expected
    ``Failure`` fields).

    ``double``, for a provider that declares "launch": a callable returning a context manager
    that points the provider at its test double and yields what to launch (None: the kit
    picks a job; a ``greenml.Job``; or a ``greenml.Option``). Inside it the kit launches
    through greenml's own loop and checks that credentials pass, a gang has
    ``gang_size(option)`` members, a create repeated with the same token returns the same
    resource, ``find_resources`` finds what was created (also an instance never recorded in
    the ledger), ``greenml.down`` removes all of it and is a no-op the second time, and
    ``terminate`` of what is gone is fine. Nothing is left running, even when a check fails.
    ``run`` is the command launched: a scheduler's tests pass one that outlasts the checks
    (``sleep 300``), so that its job is still there to be found; ``settings`` are the
    launch's settings, as ``-o key=value`` gives them.
    """
    problems: list[str] = []
    allowed = set(offline_io)
    if allowed - {"open", "subprocess"}:
        raise ValueError(f"offline_io may allow 'open' and 'subprocess', not "
                         f"{sorted(allowed - {'open', 'subprocess'})} (planning is offline)")
    p = _construct(provider, problems)
    if p is None:
        return problems
    _check_name(p, problems)
    _check_capabilities(p, problems)
    regions, offers = _check_catalog(p, allowed, problems)
    _check_classify(p, errors, problems)
    _check_settings_help(p, problems)
    plan = _offline_plan(p, regions, offers, problems)
    if plan is not None and "launch" in p.capabilities:
        _check_describe(p, plan.best, problems)
    if double is not None:
        if "launch" not in p.capabilities:
            problems.append("a double was given, but the provider does not declare 'launch'")
        else:
            _check_launch(p, double, regions, offers, run, dict(settings or {}), problems)
    return problems


def _construct(provider: Provider | Callable[[], Provider], problems: list[str]
               ) -> Provider | None:
    """Build the provider while recording I/O and imports; an instance is rebuilt if it can be."""
    import inspect

    factory: Callable[[], Provider] | None
    if isinstance(provider, Provider):
        cls = type(provider)
        try:
            inspect.signature(cls).bind()
            factory = cls
        except (TypeError, ValueError):
            factory = None  # needs arguments: only the instance can be checked
    else:
        factory = provider
    if factory is None:
        assert isinstance(provider, Provider)
        return provider
    before = set(sys.modules)
    try:
        with record_io() as events:
            built = factory()
    except Exception as exc:
        problems.append(f"construction raised {type(exc).__name__}: {exc}")
        return None
    if not isinstance(built, Provider):
        problems.append(f"the factory returned {built!r}, not a greenml.Provider")
        return None
    for kind, details in _by_kind(events):
        problems.append(f"construction must do no I/O, but it did ({kind}): {details}; read "
                        "data on first use and create clients inside launch methods")
    own = {type(built).__module__.split(".")[0], "greenml"}
    for module in _new_modules(before, own)[:3]:
        problems.append(f"construction imported {module!r}; import SDKs inside the methods "
                        "that need them, so planning stays cheap")
    return provider if isinstance(provider, Provider) else built


def _by_kind(events: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """One entry per kind of I/O: the kind and its first two events."""
    out: dict[str, list[str]] = {}
    for kind, detail in events:
        out.setdefault(kind, []).append(detail)
    return [(kind, "; ".join(details[:2]) + (f" (+{len(details) - 2} more)"
                                             if len(details) > 2 else ""))
            for kind, details in out.items()]


def _new_modules(before: set[str], own: set[str]) -> list[str]:
    """Top-level third-party packages imported since ``before`` (stdlib and ``own`` aside)."""
    tops = {m.split(".")[0] for m in set(sys.modules) - before}
    return sorted(t for t in tops if t not in sys.stdlib_module_names and t not in own
                  and not t.startswith("_"))


def _overrides(p: Provider, method: str) -> bool:
    return getattr(type(p), method, None) is not getattr(Provider, method)


def _check_name(p: Provider, problems: list[str]) -> None:
    name = p.name
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append(f"name {name!r} must be lower-case letters, digits and '-'")
        return
    from greenml import default_catalog
    from greenml.errors import PluginError

    try:
        installed = default_catalog().providers.get(name)
        owner = default_catalog().owners.get(name, "?")
    except PluginError as exc:
        problems.append(f"the installed plugins clash: {exc}")
        return
    mine = (type(p).__module__, type(p).__qualname__)
    if installed is not None and (type(installed).__module__,
                                  type(installed).__qualname__) != mine:
        problems.append(f"name {name!r} is taken by installed provider "
                        f"{type(installed).__module__}.{type(installed).__qualname__} "
                        f"(plugin {owner}); provider names must be unique")


def _check_capabilities(p: Provider, problems: list[str]) -> None:
    caps = p.capabilities
    if not isinstance(caps, frozenset):
        problems.append(f"capabilities must be a frozenset, got {type(caps).__name__}")
        caps = frozenset(caps)
    if caps - CAPABILITIES:
        problems.append(f"unknown capabilities {sorted(caps - CAPABILITIES)}; known: "
                        f"{', '.join(sorted(CAPABILITIES))}")
    plans = _overrides(p, "regions") and _overrides(p, "offers")
    if "plan" in caps and not plans:
        problems.append("declares 'plan' but does not implement regions() and offers()")
    if plans and "plan" not in caps:
        problems.append("implements regions() and offers() but does not declare 'plan'")
    missing = [m for m in LAUNCH_METHODS if not _overrides(p, m)]
    if "launch" in caps and missing:
        problems.append(f"declares 'launch' but does not implement {', '.join(missing)}")
    if "launch" not in caps:
        extra = [m for m in ("create_instance", "terminate") if _overrides(p, m)]
        if extra:
            problems.append(f"implements {', '.join(extra)} but does not declare 'launch', "
                            "so greenml never launches on it")
        for needs_launch in sorted(caps & {"spot", "gang", "down", "defer"}):
            problems.append(f"declares {needs_launch!r} without 'launch'")


def _check_catalog(p: Provider, allowed: set[str], problems: list[str]
                   ) -> tuple[tuple[Region, ...], tuple[Offer, ...]]:
    """regions() and offers(): offline, every figure sourced, every offer placeable."""
    if not _overrides(p, "regions") or not _overrides(p, "offers"):
        return (), ()
    results: dict[str, tuple[Any, ...]] = {}
    for method in ("regions", "offers"):
        try:
            with record_io() as events:
                results[method] = tuple(getattr(p, method)())
        except Exception as exc:
            problems.append(f"{method}() raised {type(exc).__name__}: {exc}")
            return (), ()
        for kind, details in _by_kind(e for e in events if e[0] not in allowed):
            problems.append(f"{method}() must be served offline, but it did {kind} I/O: "
                            f"{details}" + ("" if kind == "socket" else
                                           f" (declare offline_io={{'{kind}'}} if meant)"))
    regions = [r for r in results["regions"] if _is(r, Region, "regions()", problems)]
    from greenml import datasets
    from greenml.errors import closest

    zones = datasets.zone_names()
    offers = [o for o in results["offers"] if _is(o, Offer, "offers()", problems)]
    names: dict[str, int] = {}
    for r in regions:
        names[r.name] = names.get(r.name, 0) + 1
        where = f"region {r.name!r}"
        if r.provider != p.name:
            problems.append(f"{where} has provider {r.provider!r}, not {p.name!r}")
        if not r.pue.year:
            problems.append(f"{where}: pue {r.pue.value} has a source but no year")
        if r.grid_zone not in zones:
            hint = closest(r.grid_zone, zones) if r.grid_zone else []
            problems.append(f"{where}: grid_zone {r.grid_zone!r} is not a zone of "
                            f"{datasets.default_name()}, so the region has no comparable grid "
                            "intensity" + (f" (did you mean {', '.join(hint)}?)" if hint else ""))
    problems += [f"region {n!r} is listed {k} times" for n, k in names.items() if k > 1]
    from greenml import default_catalog

    known = {a.name for a in default_catalog().accelerators}
    for o in offers:
        where = f"offer {o.instance_type!r} in {o.region!r}"
        if o.provider != p.name:
            problems.append(f"{where} has provider {o.provider!r}, not {p.name!r}")
        if o.region not in names:
            problems.append(f"{where}: region {o.region!r} is not in regions()")
        if o.accelerator not in known:
            problems.append(f"{where}: accelerator {o.accelerator!r} is unknown to greenml "
                            "(add it through greenml_accelerators)")
        priced = o.ondemand_usd_per_hour is not None or o.spot_usd_per_hour is not None
        if priced and not o.price_source.strip():
            problems.append(f"{where}: a price needs a price_source (or leave the price empty)")
    placeable = [o for o in offers if o.region in names and o.accelerator in known]
    return tuple(regions), tuple(placeable)


def _is(item: Any, kind: type, where: str, problems: list[str]) -> bool:
    if isinstance(item, kind):
        return True
    problems.append(f"{where} returned {item!r}, not a greenml.{kind.__name__}")
    return False


def _check_classify(p: Provider, errors: Iterable[BaseException | tuple[BaseException, Any]],
                    problems: list[str]) -> None:
    samples: list[tuple[BaseException, Any]] = [(e, None) for e in GENERIC_ERRORS]
    samples += [e if isinstance(e, tuple) else (e, None) for e in errors]
    for error, expected in samples:
        what = f"classify({type(error).__name__}({str(error)[:60]!r}))"
        try:
            failure = p.classify(error)
        except Exception as exc:
            problems.append(f"{what} raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(failure, Failure):
            problems.append(f"{what} returned {failure!r}, not a greenml.Failure")
            continue
        if failure.scope not in SCOPES:
            problems.append(f"{what}: scope {failure.scope!r} is not one of {SCOPES}")
        if not isinstance(failure.reason, str) or not failure.reason.strip():
            problems.append(f"{what}: the Failure needs a reason a user can read")
        if failure.retry and failure.stop:
            problems.append(f"{what}: a Failure cannot both retry and stop")
        if failure.retry_after_s is not None and failure.retry_after_s < 0:
            problems.append(f"{what}: retry_after_s must not be negative")
        wanted = {"scope": expected} if isinstance(expected, str) else dict(expected or {})
        for field, value in wanted.items():
            if getattr(failure, field) != value:
                problems.append(f"{what}: {field} is {getattr(failure, field)!r}, "
                                f"expected {value!r}")


def _check_settings_help(p: Provider, problems: list[str]) -> None:
    try:
        settings = p.settings_help()
    except Exception as exc:
        problems.append(f"settings_help() raised {type(exc).__name__}: {exc}")
        return
    if not isinstance(settings, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip()
            for k, v in settings.items()):
        problems.append(f"settings_help() must map each setting to a short help text, got "
                        f"{settings!r}")


def _kit_catalog(p: Provider, regions: Sequence[Region], offers: Sequence[Offer]) -> Any:
    """A catalog of just this provider instance, with every installed accelerator, its regions
    measured with the default dataset as in any plan."""
    from greenml import default_catalog
    from greenml.catalog import Catalog

    return Catalog(regions, offers, default_catalog().accelerators, providers={p.name: p},
                   owners={p.name: "greenml.testing"}).with_dataset(None)


def _offline_plan(p: Provider, regions: Sequence[Region], offers: Sequence[Offer],
                  problems: list[str]) -> Plan | None:
    """A plan of one instance of the provider's first offer that greenml can estimate."""
    from greenml import default_catalog
    from greenml.job import Job
    from greenml.plan import plan

    powered = {a.name for a in default_catalog().accelerators if a.power() is not None}
    first = next((o for o in offers if o.accelerator in powered), None)
    if first is None:
        return None
    job = Job(accelerator=first.accelerator, count=first.accelerators_per_instance, hours=1,
              providers=p.name, regions=first.region)
    try:
        return plan(job, catalog=_kit_catalog(p, regions, offers), notify=False)
    except Exception as exc:
        problems.append(f"greenml cannot plan {first.accelerator} on the provider's own "
                        f"offers: {type(exc).__name__}: {exc}")
        return None


def _request(option: Option, launch_id: str, name: str, index: int, token: str,
             zone: str | None, run: str = "echo greenml conformance kit",
             settings: Mapping[str, str] | None = None) -> InstanceRequest:
    """An instance request as greenml's launch loop builds one."""
    tags = {TAG_LAUNCH_ID: launch_id, TAG_NAME: name,
            TAG_CO2E: f"{option.estimate.co2e_kg:.1f}", TAG_INDEX: str(index)}
    return InstanceRequest(launch_id=launch_id, name=name, index=index, option=option,
                           zone=zone, run=run, token=token, tags=tags,
                           settings=settings or {})


def _check_describe(p: Provider, option: Option, problems: list[str]) -> None:
    zone = option.region.zones[0] if option.region.zones else None
    request = _request(option, "0123456789abcdef", "kit-check", 0,
                       "gm-0123456789abcdef-0-0", zone)
    try:
        with record_io() as events:
            line = p.describe(request)
    except Exception as exc:
        problems.append(f"describe() raised {type(exc).__name__}: {exc}")
        return
    for kind, details in _by_kind(e for e in events if e[0] != "open"):
        problems.append(f"describe() must call nothing (a dry run), but it did {kind} I/O: "
                        f"{details}")
    if not isinstance(line, str) or option.offer.instance_type not in line:
        problems.append(f"describe() must say what would be created, naming the instance type "
                        f"{option.offer.instance_type!r}; got {line!r}")


KIT_LAUNCH_NAME = "kit-check"


def _check_launch(p: Provider, double: Callable[[], contextlib.AbstractContextManager[Any]],
                  regions: Sequence[Region], offers: Sequence[Offer], run: str,
                  settings: dict[str, str], problems: list[str]) -> None:
    from greenml.launch.ledger import Ledger

    context = double() if callable(double) else double
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(context)
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="greenml-kit-"))
        ledger = Ledger(Path(folder) / "ledger.sqlite3")
        stack.callback(ledger.close)
        try:
            ok, why = p.check_credentials()
        except Exception as exc:
            problems.append(f"check_credentials() raised {type(exc).__name__}: {exc}")
            return
        if ok is not True or not isinstance(why, str):
            problems.append(f"check_credentials() must pass inside the double and return "
                            f"(True, reason); got ({ok!r}, {why!r})")
            return
        plan = _launch_plan(p, target, regions, offers, problems)
        if plan is None:
            return
        created: list[Resource] = []
        stack.callback(_leave_nothing, p, ledger, created)
        _launch_and_down(p, plan, ledger, run, settings, created, problems)


def _launch_plan(p: Provider, target: Any, regions: Sequence[Region], offers: Sequence[Offer],
                 problems: list[str]) -> Plan | None:
    """The plan to launch: the double's Job or Option, else a gang of the first offer."""
    import attrs

    from greenml.job import Job
    from greenml.model import Option
    from greenml.plan import plan

    if isinstance(target, Option):
        target = Job(accelerator=target.accelerator.name, regions=target.region.name,
                     count=target.instances * target.offer.accelerators_per_instance,
                     hours=target.estimate.hours, spot=target.spot)
    if target is None:
        first = offers[0] if offers else None
        if first is None:
            problems.append("the provider has no offers to launch: yield a greenml.Job or "
                            "Option from the double")
            return None
        gang = 2 if "gang" in p.capabilities else 1
        target = Job(accelerator=first.accelerator, regions=first.region, hours=1,
                     count=gang * first.accelerators_per_instance)
    if not isinstance(target, Job):
        problems.append(f"the double yielded {target!r}; yield None, a greenml.Job or an "
                        "Option")
        return None
    try:
        return plan(attrs.evolve(target, providers=p.name),
                    catalog=_kit_catalog(p, regions, offers), notify=False)
    except Exception as exc:
        problems.append(f"cannot plan the launch: {type(exc).__name__}: {exc}")
        return None


def _launch_and_down(p: Provider, plan: Plan, ledger: Any, run: str, settings: dict[str, str],
                     created: list[Resource], problems: list[str]) -> None:
    from greenml.errors import GreenmlError
    from greenml.launch.loop import RetryPolicy, provider_settings
    from greenml.launch.running import down

    try:
        launch = plan.launch(name=KIT_LAUNCH_NAME, run=run, ledger=ledger, settings=settings,
                                retry=RetryPolicy(attempts=3, base_delay_s=0.01))
    except GreenmlError as exc:
        problems.append(f"launching through greenml failed on the double: {exc}")
        return
    option = launch.option
    assert option is not None
    created += launch.instances
    region_name = option.region.name
    gang = p.gang_size(option)
    made = {r.resource_id for r in launch.instances}
    if len(launch.instances) != gang or len(made) != gang:
        problems.append(f"a launch of gang_size {gang} created {len(launch.instances)} "
                        f"resource(s) with {len(made)} distinct id(s)")
    for r in launch.instances:
        if (r.provider, r.region) != (p.name, region_name) or not r.resource_id:
            problems.append(f"create_instance returned {r!r}: it needs provider {p.name!r}, "
                            f"region {region_name!r} and a resource_id")
    rows = [(t, r) for t, r in ledger.open_resources(launch.launch_id)
            if r.kind == "instance" and r.state == "created"]
    if rows:
        token, row = rows[0]
        index = int(row.name.rsplit("-", 1)[-1]) if row.name[-1:].isdigit() else 0
        mine = provider_settings(p.name, settings)
        request = _request(option, launch.launch_id, KIT_LAUNCH_NAME, index, token,
                           row.zone or None, run, mine)
        try:
            planned = p.planned_id(request)
        except Exception as exc:
            planned = ""
            problems.append(f"planned_id() raised {type(exc).__name__}: {exc}")
        if planned and planned != row.resource_id:
            problems.append(f"planned_id() said {planned!r}, but create_instance made "
                            f"{row.resource_id!r}: after a crash, down would miss it")
        try:
            again = p.create_instance(request, Journal(request, None, p.name))
            created.append(again)
            if again.resource_id != row.resource_id:
                problems.append(f"create_instance with a used token created {again.resource_id!r}"
                                f" instead of returning {row.resource_id!r}: a retry would "
                                "duplicate an instance")
                made.add(again.resource_id)
        except Exception as exc:
            problems.append(f"create_instance with a used token raised "
                            f"{type(exc).__name__}: {exc}; it must return the same instance")
        orphan_request = _request(option, launch.launch_id, KIT_LAUNCH_NAME, gang + index,
                                  f"gm-{launch.launch_id}-kit-{gang + index}", row.zone or None,
                                  run, mine)
        try:
            orphan = p.create_instance(orphan_request, Journal(orphan_request, None, p.name))
            created.append(orphan)
            made.add(orphan.resource_id)
        except Exception as exc:
            problems.append(f"create_instance raised {type(exc).__name__}: {exc}")
    _check_states(p, launch.instances, problems)
    found = _ids(p.find_resources(launch.launch_id, [region_name]))
    if found != made:
        problems.append(f"find_resources found {sorted(found)}, but the launch (with one "
                        f"instance never recorded in the ledger) created {sorted(made)}")
    removed = _ids(down(KIT_LAUNCH_NAME, ledger=ledger, providers={p.name: p}))
    if not made <= removed:
        problems.append(f"greenml.down terminated {sorted(removed)}, not all of "
                        f"{sorted(made)}")
    left = _eventually_empty(lambda: p.find_resources(launch.launch_id, [region_name]))
    if left:
        problems.append(f"after greenml.down, find_resources still finds {sorted(left)}")
    again_removed = down(KIT_LAUNCH_NAME, ledger=ledger, providers={p.name: p})
    if again_removed:
        problems.append(f"a second greenml.down terminated {again_removed!r}; it must be a "
                        "no-op")
    try:
        p.terminate(list(launch.instances))
    except Exception as exc:
        problems.append(f"terminate of resources already gone raised "
                        f"{type(exc).__name__}: {exc}; gone already is fine")


def _check_states(p: Provider, launched: Sequence[Resource], problems: list[str]) -> None:
    """Right after a launch, ``states`` knows every instance and none of them is gone."""
    try:
        said = p.states(list(launched))
    except Exception as exc:
        problems.append(f"states() raised {type(exc).__name__}: {exc}")
        return
    if not isinstance(said, dict):
        problems.append(f"states() must return a dict of resource id -> state, got {said!r}")
        return
    for r in sorted(launched, key=lambda r: r.resource_id):
        state = said.get(r.resource_id)
        if not isinstance(state, str) or not state or state == "gone":
            problems.append(f"states() says {state!r} for {r.resource_id!r}, which the launch "
                            "has just created")


def _ids(resources: Iterable[Resource]) -> set[str]:
    return {r.resource_id for r in resources}


def _eventually_empty(find: Callable[[], Sequence[Resource]], timeout_s: float = 10.0
                      ) -> set[str]:
    """What ``find`` still lists once it is empty or ``timeout_s`` has passed (schedulers
    show a cancelled job for a moment)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = _ids(find())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _leave_nothing(p: Provider, ledger: Any, created: Sequence[Resource]) -> None:
    """Whatever happened, remove what the kit created on the double."""
    from greenml.launch.running import down

    with contextlib.suppress(Exception):
        down(KIT_LAUNCH_NAME, ledger=ledger, providers={p.name: p})
    with contextlib.suppress(Exception):
        p.terminate(list({r.resource_id: r for r in created}.values()))
