"""The provider conformance kit: check a provider plugin against greenml's contract.

``check_provider`` (exported by ``greenml.testing`` too) runs every check and raises one
AssertionError listing each violation; ``provider_problems`` returns them as a list. The
contract is the one ``greenml.provider.contract`` states: a unique lower-case name, cheap
construction with no I/O, regions and offers served offline with a source for every figure,
capabilities that match what is implemented, failure classification into valid scopes and,
given a test double, launch and down through greenml's own loop that are idempotent and
leave nothing behind.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from greenml.launch.types import SCOPES, Failure
from greenml.model import Offer, Region
from greenml.provider import CAPABILITIES, Provider
from greenml.provider.contract import PROVIDER_NAME
from greenml.testing.conformance_io import by_kind, new_modules, record_io
from greenml.testing.conformance_launch import _check_describe, _check_launch, _offline_plan

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
    ``classify`` giving a ``greenml.provider.Failure`` for generic errors and for ``errors``, the
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
        problems.append(f"the factory returned {built!r}, not a greenml.provider.Provider")
        return None
    for kind, details in by_kind(events):
        problems.append(f"construction must do no I/O, but it did ({kind}): {details}; read "
                        "data on first use and create clients inside launch methods")
    own = {type(built).__module__.split(".")[0], "greenml"}
    for module in new_modules(before, own)[:3]:
        problems.append(f"construction imported {module!r}; import SDKs inside the methods "
                        "that need them, so planning stays cheap")
    return provider if isinstance(provider, Provider) else built


def _overrides(p: Provider, method: str) -> bool:
    return getattr(type(p), method, None) is not getattr(Provider, method)


def _check_name(p: Provider, problems: list[str]) -> None:
    name = p.name
    if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
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
        for needs_launch in sorted(caps & {"spot", "gang", "down", "defer", "logs"}):
            problems.append(f"declares {needs_launch!r} without 'launch'")
    logs = _overrides(p, "console_output")
    if "logs" in caps and not logs:
        problems.append("declares 'logs' but does not implement console_output")
    if logs and "logs" not in caps:
        problems.append("implements console_output but does not declare 'logs', so greenml "
                        "logs never asks it")


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
        for kind, details in by_kind(e for e in events if e[0] not in allowed):
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
            problems.append(f"{what} returned {failure!r}, not a greenml.provider.Failure")
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
    if p.settings_type is not None:
        _check_settings_type(p, problems)
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


def _check_settings_type(p: Provider, problems: list[str]) -> None:
    """A declared ``settings_type``: an attrs class whose every field has a default (a launch
    without ``-o`` must parse) and a help line (``greenml.provider.setting``)."""
    import attrs

    from greenml.provider.settings import HELP

    kind = p.settings_type
    if not (isinstance(kind, type) and attrs.has(kind)):
        problems.append(f"settings_type must be an attrs class, got {kind!r}")
        return
    for f in attrs.fields(kind):
        if f.default is attrs.NOTHING:
            problems.append(f"setting {f.name!r} needs a default: a launch may omit it")
        if not str(f.metadata.get(HELP, "")).strip():
            problems.append(f"setting {f.name!r} needs a help line: declare it with "
                            "greenml.provider.setting(help=...)")
    try:
        p.typed_settings({})
    except Exception as exc:
        problems.append(f"the settings with no key given do not parse: "
                        f"{type(exc).__name__}: {exc}")
