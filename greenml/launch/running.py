"""What greenml launched, and taking it down: ``status`` reads the ledger (and asks the clouds
what still runs); ``down`` terminates a launch's resources, recording each step, so it can be
run again after any crash until nothing is left."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from greenml import plugins
from greenml.errors import (
    GreenmlError,
    InputError,
    LedgerWarning,
    closest,
)
from greenml.launch.ledger import LaunchRecord, Ledger
from greenml.launch.loop import terminate, try_record
from greenml.launch.types import (
    Resource,
)
from greenml.retry import RetryPolicy

if TYPE_CHECKING:
    from greenml.provider import Provider


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
        try:
            if provider is None:
                raise GreenmlError(f"the {provider_name!r} plugin is not installed, was "
                                   "disabled, or failed to load (see greenml plugins)")
            answer = provider.states(mine)
        except Exception as exc:  # one provider failing must not hide the others' answers
            why = f"unknown: {type(exc).__name__}: {exc}"[:300]
            answer = {r.resource_id: why for r in mine}
        live.update({(provider_name, i): str(s) for i, s in answer.items()})
    resources = tuple(attrs.evolve(r, live_state=live.get((r.provider, r.resource_id), ""))
                      for r in record.resources)
    return attrs.evolve(record, resources=resources)


def down(name: str, *, ledger: Ledger | str | os.PathLike[str] | None = None,
         providers: Mapping[str, Provider] | None = None) -> list[Resource]:
    """Terminate everything of the launches called ``name``; safe to repeat.

    Resources come from the ledger and, for anything created but never recorded (a crash
    between call and record), from the providers' tag searches. Returns what was terminated.
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
    for record in records:
        if record.state == "down" and not book.open_resources(record.launch_id):
            continue
        removed += _down_one(record, book, providers, unrecorded)
        _note_unrecorded(unrecorded, try_record(book.set_launch, record.launch_id, "down"))
        plugins.notify("greenml_terminated", launch=book.launch(record.launch_id))
    if unrecorded:
        import warnings

        why = (f"the ledger {book.path} is read-only ({book.why_read_only})" if book.read_only
               else unrecorded[0])
        warnings.warn(LedgerWarning(
            f"terminated {len(removed)} resource(s) of {name!r} but could not record it: "
            f"{why}; the ledger still lists them, and the next 'greenml down {name}' on a "
            "writable ledger records them (already gone is fine)"), stacklevel=2)
    return removed


def _note_unrecorded(unrecorded: list[str], why: str) -> None:
    if why:
        unrecorded.append(why)


def _down_one(record: LaunchRecord, book: Ledger, providers: Mapping[str, Provider],
              unrecorded: list[str]) -> list[Resource]:
    removed: list[Resource] = []
    open_rows = book.open_resources(record.launch_id)
    for provider_name, regions in book.regions_of(record.launch_id).items():
        provider = providers.get(provider_name)
        if provider is None:
            raise GreenmlError(f"launch {record.name!r} has resources on {provider_name!r}, "
                               "whose plugin is not installed, was disabled, or failed to "
                               "load (see greenml plugins)")
        known = {(r.region, r.resource_id): (t, r) for t, r in open_rows
                 if r.provider == provider_name and r.resource_id}
        found = provider.find_resources(record.launch_id, sorted(regions))
        for resource in found:
            if (resource.region, resource.resource_id) not in known:
                _note_unrecorded(unrecorded, try_record(book.adopt, record.launch_id,
                                                         resource, "terminating"))
        targets = {(r.region, r.resource_id): r for r in found}
        targets.update({k: r for k, (_, r) in known.items()})
        if targets:
            why, tries = terminate(provider, list(targets.values()), RetryPolicy())
            if why:  # nothing is recorded as gone: a later down tries all of it again
                raise GreenmlError(
                    f"could not terminate {len(targets)} resource(s) of {record.name!r} on "
                    f"{provider_name} after {tries} {'try' if tries == 1 else 'tries'} "
                    f"({why}); the ledger still lists them: run 'greenml down "
                    f"{record.name}' again")
            removed += targets.values()
        for token, resource in book.open_resources(record.launch_id):
            if resource.provider == provider_name:
                _note_unrecorded(unrecorded, try_record(book.result, token, "terminated"))
    return removed
