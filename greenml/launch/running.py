"""What greenml launched, and taking it down: ``status`` reads the ledger (and asks the clouds
what still runs); ``down`` terminates a launch's resources, recording each step, so it can be
run again after any crash until nothing is left.

A provider that fails here (no credentials, no answer, its plugin missing, any exception of
its SDK) is that provider's failure, said in one line with what to do: the others still
answer, and nothing of the failing one is recorded as gone, so a later ``down`` finds it all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from greenml import registry
from greenml.errors import (
    DownIncomplete,
    InputError,
    LedgerWarning,
    closest,
)
from greenml.launch.gang import terminate, try_record
from greenml.launch.ledger import LaunchRecord, Ledger
from greenml.launch.problems import provider_problem
from greenml.launch.types import (
    Resource,
)
from greenml.retry import RetryPolicy

if TYPE_CHECKING:
    from greenml.provider.contract import LaunchingProvider as Provider


def status(name: str | None = None, *, ledger: Ledger | str | os.PathLike[str] | None = None,
           all_launches: bool = False, refresh: bool = False,
           providers: Mapping[str, Provider] | None = None) -> list[LaunchRecord]:
    """Launches in the ledger, newest first: live ones, or every one with ``all_launches``.

    The ledger says what greenml created; only the provider knows what became of it (a
    SLURM job that finished, an instance someone terminated). With ``refresh`` each
    resource greenml still holds carries the provider's ``live_state``; a provider that
    cannot answer gives ``"unknown: <why>"`` instead of failing the whole listing. A running
    launch whose every resource has ended (``Provider.ended``) is marked "ended" in the
    ledger, which frees its name; ``down`` still removes what is left of it.
    """
    _check_lookup(name, optional=True, providers=providers, all_launches=all_launches,
                  refresh=refresh)
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    records = book.launches(name=name, live_only=not all_launches and name is None)
    if not refresh:
        return records
    if providers is None:
        from greenml.registry import installed_providers

        providers = installed_providers()  # not the whole catalog: nothing else is needed
    refreshed = []
    for record in records:
        record = _refreshed(record, providers)
        if record.live and _all_ended(record, providers):
            # a read-only ledger keeps it live: the next writable refresh marks it
            try_record(book.set_launch, record.launch_id, "ended",
                        reason="its providers said every resource had ended")
            record = attrs.evolve(record, state="ended")
        refreshed.append(record)
    return refreshed


def _check_lookup(name: object, *, optional: bool, providers: object, **flags: object) -> None:
    """status/down arguments of the documented types, else InputError naming the argument."""
    if not (isinstance(name, str) and name.strip() or optional and name is None):
        raise InputError("name", f"must be a launch name{' or None' if optional else ''}, "
                         f"got {name!r}")
    if providers is not None and not isinstance(providers, Mapping):
        raise InputError("providers", f"must map provider names to providers, got {providers!r}")
    for flag, value in flags.items():
        if not isinstance(value, bool):
            raise InputError(flag, f"must be true or false, got {value!r}")


def _held(record: LaunchRecord) -> list[Resource]:
    """The resources a launch may still hold in a cloud, as far as its ledger knows."""
    return [r for r in record.resources
            if r.resource_id and r.state in ("created", "failed", "terminating")]


def _all_ended(record: LaunchRecord, providers: Mapping[str, Provider]) -> bool:
    held = _held(record)
    return bool(held) and all(
        r.provider in providers and providers[r.provider].ended(r.live_state) for r in held)


def _refreshed(record: LaunchRecord, providers: Mapping[str, Provider]) -> LaunchRecord:
    """``record`` with the live state of each resource it still holds, asked per provider."""
    held = _held(record)
    live: dict[tuple[str, str], str] = {}
    for provider_name in sorted({r.provider for r in held}):
        mine = [attrs.evolve(r, launch_id=r.launch_id or record.launch_id)
                for r in held if r.provider == provider_name]
        provider = providers.get(provider_name)
        if provider is None:
            why = (f"unknown: GreenmlError: the {provider_name!r} plugin is not installed, was "
                   "disabled, or failed to load (see greenml plugins)")
            answer = {r.resource_id: why for r in mine}
        else:
            try:
                answer = provider.states(mine)
            except Exception as exc:  # one provider failing must not hide the others' answers
                answer = {r.resource_id: f"unknown: {provider_problem(provider, exc)}"[:300]
                          for r in mine}
        live.update({(provider_name, i): str(s) for i, s in answer.items()})
    resources = tuple(attrs.evolve(r, live_state=live.get((r.provider, r.resource_id), ""))
                      for r in record.resources)
    from greenml.launch.logs import run_exit_code  # the consoles' greenml-exit=N lines

    return attrs.evolve(record, resources=resources,
                        exit_code=run_exit_code(attrs.evolve(record, resources=tuple(held)),
                                                providers))


def down(name: str, *, ledger: Ledger | str | os.PathLike[str] | None = None,
         providers: Mapping[str, Provider] | None = None) -> list[Resource]:
    """Terminate everything of the launches called ``name``; safe to repeat.

    Resources come from the ledger and, for anything created but never recorded (a crash
    between call and record), from the providers' tag searches. Returns what was terminated.
    Raises ``DownIncomplete`` (a GreenmlError) when a provider failed (credentials, no
    answer, its plugin missing): the others' resources are terminated all the same, and the
    failing provider's rows stay in the ledger for the next ``down``.
    """
    _check_lookup(name, optional=False, providers=providers)
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    records = book.launches(name=name)
    if not records:
        raise InputError("name", f"no launch named {name!r}", closest(name, book.names()))
    if providers is None:
        from greenml.registry import installed_providers

        providers = installed_providers()  # not the whole catalog: nothing else is needed
    removed: list[Resource] = []
    unrecorded: list[str] = []  # why the ledger could not record what was done
    failures: dict[str, str] = {}  # provider -> why it could not take its part away
    for record in records:
        if record.state == "down" and not book.open_resources(record.launch_id):
            continue
        failed = _down_one(record, book, providers, unrecorded, removed)
        for provider_name, why in failed.items():
            failures.setdefault(provider_name, why)
        if failed:
            continue  # not down yet: the next down finds what is left
        _note_unrecorded(unrecorded, try_record(book.set_launch, record.launch_id, "down"))
        registry.default().notify("greenml_terminated", launch=book.launch(record.launch_id))
    if unrecorded:
        import warnings

        why = (f"the ledger {book.path} is read-only ({book.why_read_only})" if book.read_only
               else unrecorded[0])
        warnings.warn(LedgerWarning(
            f"terminated {len(removed)} resource(s) of {name!r} but could not record it: "
            f"{why}; the ledger still lists them, and the next 'greenml down {name}' on a "
            "writable ledger records them (already gone is fine)"), stacklevel=2)
    if failures:
        raise DownIncomplete(name, removed, failures)
    return removed


def _note_unrecorded(unrecorded: list[str], why: str) -> None:
    if why:
        unrecorded.append(why)


def _down_one(record: LaunchRecord, book: Ledger, providers: Mapping[str, Provider],
              unrecorded: list[str], removed: list[Resource]) -> dict[str, str]:
    """Take away what ``record`` holds, provider by provider, adding it to ``removed``;
    returns, per provider that failed, one line saying why (its rows stay open)."""
    failures: dict[str, str] = {}
    open_rows = book.open_resources(record.launch_id)
    for provider_name, regions in book.regions_of(record.launch_id).items():
        held = [r for _, r in open_rows if r.provider == provider_name]
        again = f"run 'greenml down {record.name}' again"
        provider = providers.get(provider_name)
        if provider is None:
            failures[provider_name] = (
                f"{provider_name}: the plugin is not installed, was disabled, or failed to "
                f"load (see greenml plugins); the ledger still lists the {len(held)} "
                f"resource(s) of {record.name!r} there: {again} once it loads")
            continue
        known = {(r.region, r.resource_id): (t, r) for t, r in open_rows
                 if r.provider == provider_name and r.resource_id}
        try:
            found = provider.find_resources(record.launch_id, sorted(regions))
        except Exception as exc:  # the provider's SDK: its failure, not greenml's
            failures[provider_name] = (
                f"{provider_name}: could not look for what {record.name!r} left there "
                f"({provider_problem(provider, exc)}); nothing there was terminated and the "
                f"ledger still lists its {len(held)} resource(s): {again} once that is fixed")
            continue
        for resource in found:
            if (resource.region, resource.resource_id) not in known:
                _note_unrecorded(unrecorded, try_record(book.adopt, record.launch_id,
                                                         resource, "terminating"))
        targets = {(r.region, r.resource_id): r for r in found}
        targets.update({k: r for k, (_, r) in known.items()})
        if targets:
            why, tries = terminate(provider, list(targets.values()), RetryPolicy())
            if why:  # nothing is recorded as gone: a later down tries all of it again
                failures[provider_name] = (
                    f"could not terminate {len(targets)} resource(s) of {record.name!r} on "
                    f"{provider_name} after {tries} {'try' if tries == 1 else 'tries'} "
                    f"({why}); the ledger still lists them: {again}")
                continue
            removed += targets.values()
        for token, resource in book.open_resources(record.launch_id):
            if resource.provider == provider_name:
                _note_unrecorded(unrecorded, try_record(book.result, token, "terminated"))
    return failures
