"""Launch a plan: walk its options greenest first, fail over on capacity, leave nothing behind.

Provider-neutral: providers create, terminate, find and classify; this module decides what
to try next. A job larger than one instance is a gang: all of it or none of it.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import attrs

from greenml import plugins
from greenml.errors import (
    InputError,
    LaunchError,
    LedgerError,
    LedgerReadOnly,
    RollbackFailed,
)
from greenml.launch.ledger import Ledger
from greenml.launch.types import (
    TAG_CO2E,
    TAG_INDEX,
    TAG_LAUNCH_ID,
    TAG_NAME,
    Attempt,
    Failure,
    InstanceRequest,
    Journal,
    Launch,
    Resource,
)
from greenml.retry import RetryPolicy, shared_tries

if TYPE_CHECKING:
    from greenml.model import Option
    from greenml.plan.result import Plan
    from greenml.provider import Provider

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
SEVERITY = {"zone": 0, "offer": 1, "region": 2, "provider": 3, "none": 4}
#: How many options a dry run that skips better ones names (the rest are counted).
DRY_RUN_SKIPS_SHOWN = 5
#: A planned start this close to now is a start now: planning and launching take a moment.
START_SLACK = timedelta(minutes=5)


class GangFailed(Exception):
    """One member of a gang failed for good; carries the provider's reading of why, and
    ``made``: what exists in the cloud all the same (created, but not recorded)."""

    def __init__(self, failure: Failure, made: Sequence[Resource] = ()) -> None:
        self.failure, self.made = failure, tuple(made)
        super().__init__(failure.reason)


class RollbackIncomplete(Exception):
    """A failed gang's rollback gave up: ``left`` may still run; ``why`` the last error."""

    def __init__(self, failure: Failure, left: Sequence[Resource], why: str,
                 tries: int) -> None:
        self.failure, self.left, self.why, self.tries = failure, tuple(left), why, tries
        super().__init__(why)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InputError("name", f"{name!r} is not a valid launch name: use 2-40 lower-case "
                         "letters, digits and '-', starting with a letter")
    return name


def launch_plan(
    plan: Plan,
    *,
    name: str,
    run: str,
    dry_run: bool = False,
    settings: Mapping[str, str] | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    retry: RetryPolicy | None = None,
) -> Launch:
    """The work behind ``greenml.launch`` (which documents it)."""
    from greenml.provider import check_settings

    # Read through its attributes, not its class: launching follows planning and never
    # imports it (``Plan.launch`` calls this one).
    if not all(hasattr(plan, a) for a in ("ranking", "catalog", "job", "option")):
        raise InputError("plan", f"expected a greenml.Plan, got {type(plan).__name__}")
    check_name(name)
    if not isinstance(run, str) or not run.strip():
        raise InputError("run", "give the command to run on the instances")
    if not isinstance(dry_run, bool):
        raise InputError("dry_run", f"must be true or false, got {dry_run!r}")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InputError("retry", f"expected a greenml.RetryPolicy, got {retry!r}")
    retry = retry or RetryPolicy()
    providers = plan.launch_providers()  # a saved plan's: the installed ones, if current
    settings = check_settings(settings, providers)  # before anything is created, dry run too
    options = list(_launchable(plan, providers))
    if not options:
        raise InputError("providers", "no option in this plan is on a provider that can launch "
                         f"(launchable: {', '.join(_launchers(providers)) or 'none installed'})")
    launch_id = uuid.uuid4().hex[:16]
    if dry_run:
        return _dry_run(launch_id, name, run, options, providers, settings)

    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    try:
        book.begin_launch(launch_id, name, options[0].to_dict())
    except LedgerReadOnly as exc:  # every resource is recorded before it is created
        raise LedgerReadOnly(exc.path, exc.why, f"launch {name!r} not started") from None
    launch = Launch(launch_id, name, None)
    blocked: set[tuple[str, ...]] = set()
    credentials: dict[str, tuple[bool, str]] = {}
    for rank, option in enumerate(options):
        provider = providers[option.provider]
        if _scope_key("provider", option, None) in blocked:
            continue  # said once, for its best option
        if option.provider not in credentials:
            credentials[option.provider] = provider.check_credentials()
        ok, why = credentials[option.provider]
        if not ok:
            _note(book, launch, _attempt(option, None, Failure("provider", why)))
            blocked.add(_scope_key("provider", option, None))
            continue
        why = _cannot_launch(option, provider)
        if why:
            if _scope_key("offer", option, None) not in blocked:
                _note(book, launch, _attempt(option, None, Failure("offer", why)))
                blocked.add(_scope_key("offer", option, None))
            continue
        for zone in option.region.zones or (None,):
            if any(k in blocked for k in _keys(option, zone)):
                continue
            requests = _requests(launch_id, name, run, rank, option, zone, provider, settings)
            try:
                created = _launch_gang(provider, requests, book, retry)
            except RollbackIncomplete as stuck:
                _note(book, launch, _attempt(option, zone, stuck.failure))
                error = _rollback_failed(name, option, zone, stuck, launch.attempts)
                try_record(book.set_launch, launch_id, "needs-down", reason=str(error))
                raise error from None
            except GangFailed as failed:
                failure = failed.failure
                _note(book, launch, _attempt(option, zone, failure))
                if failure.stop:
                    try_record(book.set_launch, launch_id, "failed", reason=failure.reason)
                    raise LaunchError(f"launch {name!r} stopped", launch.attempts) from None
                blocked.add(_scope_key(failure.scope, option, zone))
                if failure.scope != "zone":
                    break
                continue
            _note(book, launch, Attempt(option.provider, option.region.name,
                                        option.offer.instance_type, zone or "", ok=True))
            book.set_launch(launch_id, "running", option_json=option.to_dict())
            launch.option, launch.instances = option, created
            plugins.notify("greenml_launched", launch=launch)
            return launch
    try_record(book.set_launch, launch_id, "failed", reason="every option failed")
    raise LaunchError(f"could not launch {name!r}: every option failed", launch.attempts)


def _launchers(providers: Mapping[str, Provider]) -> list[str]:
    return sorted(n for n, p in providers.items() if "launch" in p.capabilities)


def _launchable(plan: Plan, providers: Mapping[str, Provider]) -> Iterator[Option]:
    """The plan's options, best first, on providers that can launch (built one at a time)."""
    launchers = set(_launchers(providers))
    for rank in range(1, len(plan) + 1):
        option = plan.option(rank)
        if option.provider in launchers:
            yield option


def _cannot_launch(option: Option, provider: Provider) -> str:
    """Why ``provider`` cannot launch ``option`` as planned, checked before anything is
    created; "" if it can.

    Besides the provider's own ``can_launch``, the option's schedule must be one the
    provider can keep: launching now what the plan starts later would spend the emissions
    the plan promised to save, so a later start needs a provider that declares "defer" (a
    scheduler's begin time), and a schedule that pauses the job is kept by no provider.
    """
    ok, why = provider.can_launch(option)
    if not ok:
        return why
    schedule = option.schedule
    if schedule is None:
        return ""
    if len(schedule.slots) > 1:
        return (f"the plan runs this option in {len(schedule.slots)} separate slots "
                "(interruptible), and greenml does not pause and resume a job: plan it "
                "without interruptible")
    if (schedule.start > datetime.now(timezone.utc) + START_SLACK
            and "defer" not in provider.capabilities):
        return (f"the plan starts this option at {schedule.start:%Y-%m-%dT%H:%MZ} "
                f"(saving {schedule.saving_co2e_kg:,.1f} kg CO2e against starting now) and "
                f"{provider.name} cannot defer a start: provision it then, or plan with an "
                "earliest start of now")
    return ""


def _keys(option: Option, zone: str | None) -> list[tuple[str, ...]]:
    return [_scope_key(scope, option, zone) for scope in ("provider", "region", "offer", "zone")]


def _scope_key(scope: str, option: Option, zone: str | None) -> tuple[str, ...]:
    """The key a failure of ``scope`` blocks; options sharing the key are skipped."""
    p, r, t = option.provider, option.region.name, option.offer.instance_type
    return {
        "provider": ("provider", p),
        "region": ("region", p, r),
        "offer": ("offer", p, r, t, option.accelerator.name),
        "zone": ("zone", p, r, zone or "", t),  # a stockout is of one machine type
        "none": ("none", p, r, t, zone or ""),
    }[scope]


def _requests(launch_id: str, name: str, run: str, rank: int, option: Option, zone: str | None,
              provider: Provider, settings: Mapping[str, str]) -> list[InstanceRequest]:
    tags = {TAG_LAUNCH_ID: launch_id, TAG_NAME: name,
            TAG_CO2E: f"{option.estimate.co2e_kg:.1f}"}
    mine = provider_settings(provider.name, settings)
    zone_part = f"-{option.region.zones.index(zone)}" if zone else ""
    return [
        InstanceRequest(
            launch_id=launch_id, name=name, index=i, option=option, zone=zone, run=run,
            token=f"gm-{launch_id}-{rank}{zone_part}-{i}",
            tags={**tags, TAG_INDEX: str(i)}, settings=mine,
        )
        for i in range(provider.gang_size(option))
    ]


def provider_settings(provider: str, settings: Mapping[str, str]) -> dict[str, str]:
    """Plain keys apply to every provider; ``aws.key_name`` style keys to one only."""
    out = {k: v for k, v in settings.items() if "." not in k}
    prefix = f"{provider}."
    out.update({k[len(prefix):]: v for k, v in settings.items() if k.startswith(prefix)})
    return out


def _launch_gang(provider: Provider, requests: Sequence[InstanceRequest], book: Ledger,
                 retry: RetryPolicy) -> list[Resource]:
    """Create every instance in parallel; if any fails for good, remove the rest and raise
    GangFailed, or RollbackIncomplete when the rest could not be removed."""
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(requests), 16)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_create_one, provider, r, book, retry) for r in requests]
        outcomes = [f.exception() or f.result() for f in futures]
    created = [o for o in outcomes if isinstance(o, Resource)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if not errors:
        return created
    made = [r for e in errors if isinstance(e, GangFailed) for r in e.made]
    failures = [e.failure if isinstance(e, GangFailed) else provider.classify(e) for e in errors]
    worst = max(failures, key=lambda f: (f.stop, SEVERITY[f.scope]))
    left, why, tries = _cleanup(provider, requests, [*created, *made], book, retry)
    if left:
        raise RollbackIncomplete(worst, left, why, tries)
    if len(requests) > 1:  # members that came up, recorded or not (a ledger that was locked)
        came_up = len({(r.region, r.resource_id) for r in [*created, *made]})
        worst = attrs.evolve(worst, reason=f"{worst.reason} (gang of {len(requests)}: "
                             f"{came_up} created and removed again)")
    raise GangFailed(worst)


def _ledger_failure(exc: LedgerError, what: str = "") -> Failure:
    """A ledger that cannot record is no cloud's failure: the launch stops, saying so."""
    return Failure("none", f"{what}{exc}", type(exc).__name__, stop=True)


def try_record(write: Callable[..., object], *args: object, **kwargs: object) -> str:
    """A ledger write that must not hide the error being reported; "" or why it failed."""
    try:
        write(*args, **kwargs)
    except LedgerError as exc:
        return str(exc)
    return ""


def _create_one(provider: Provider, request: InstanceRequest, book: Ledger,
                retry: RetryPolicy) -> Resource:
    """Intent, call, result; throttling is retried with the same idempotency token, at most
    ``retry.attempts`` calls in all (the provider's SDK makes one try per call)."""
    option = request.option
    try:
        planned = provider.planned_id(request)
    except Exception:  # create_instance will meet the same problem and classify it
        planned = ""
    try:
        book.intent(request.token, request.launch_id, provider.name, option.region.name,
                    request.zone or "", request.instance_name, resource_id=planned)
    except LedgerError as exc:  # nothing created: no intent, no call
        raise GangFailed(_ledger_failure(exc)) from exc
    with shared_tries(retry) as tries:
        while True:
            try:
                resource = provider.create_instance(request,
                                                    Journal(request, book, provider.name))
            except LedgerError as exc:  # the journal could not record a sub-resource
                raise GangFailed(_ledger_failure(exc)) from exc
            except Exception as exc:
                failure = provider.classify(exc)
                verdict = tries.failed(failure.retry_after_s) if failure.retry else None
                if verdict is not None and verdict.wait_s is not None:
                    time.sleep(verdict.wait_s)
                    continue
                try_record(book.result, request.token, "failed", reason=failure.reason)
                raise GangFailed(failure) from exc
            break
    try:
        book.result(request.token, "created", resource.resource_id)
    except LedgerError as exc:  # it exists all the same: the rollback must remove it
        failure = _ledger_failure(exc, f"{resource.resource_id} was created but not "
                                  "recorded: ")
        raise GangFailed(failure, made=[resource]) from exc
    return resource


def terminate(provider: Provider, resources: Sequence[Resource], retry: RetryPolicy
               ) -> tuple[str, int]:
    """Terminate ``resources``, retrying within ``retry``'s bound: ("", tries) when done,
    else (the last error, tries). Terminating is idempotent, so each try asks for all; a
    provider retrying each resource itself draws on the same tries (``shared_tries``)."""
    with shared_tries(retry) as tries:
        while True:
            try:
                provider.terminate(list(resources))
                return "", tries.made + 1
            except Exception as exc:
                try:
                    failure = provider.classify(exc)
                except Exception:  # a classifier that fails must not stop the retries
                    failure = Failure("none", f"{type(exc).__name__}: {exc}")
                if failure.stop and failure.scope == "provider":  # credentials: no use
                    return failure.reason, tries.made + 1
                verdict = tries.failed(failure.retry_after_s)
                if verdict.wait_s is None:
                    return failure.reason, tries.made
                time.sleep(verdict.wait_s)


def _cleanup(provider: Provider, requests: Sequence[InstanceRequest],
             created: Sequence[Resource], book: Ledger, retry: RetryPolicy
             ) -> tuple[list[Resource], str, int]:
    """Remove what a failed gang created, including anything created before a lost reply.

    Returns (left, why, tries): ``left`` is what could not be removed within the retry
    bound (kept open in the ledger, adopted where it had no row), ``why`` the last error.
    """
    launch_id = requests[0].launch_id
    region = requests[0].option.region.name
    try:
        found: list[Resource] | None = provider.find_resources(launch_id, [region])
    except Exception:  # a failing tag search must not hide why the gang failed: rows not
        found = None  # known to be gone stay open, for `greenml down` to follow up
    tokens = {r.token for r in requests}

    def of_gang(token: str) -> bool:  # the gang's instances and what the journal recorded
        return token.split("/", 1)[0] in tokens

    mine = [(t, r) for t, r in book.open_resources(launch_id) if of_gang(t)]
    # Ids the ledger holds: sub-resources the journal recorded, and ids planned before a
    # create that has not answered. A create that answered with a failure made nothing
    # greenml knows of; what it made all the same (a lost reply) the tag search finds.
    recorded = [r for _, r in mine if r.resource_id and r.state != "failed"]
    doomed = {(r.region, r.resource_id): r for r in [*created, *recorded, *(found or [])]}
    why, tries = terminate(provider, list(doomed.values()), retry) if doomed else ("", 0)
    if why:
        held = {(r.region, r.resource_id) for _, r in book.open_resources(launch_id)}
        for resource in doomed.values():  # still alive, as far as greenml knows
            if (resource.region, resource.resource_id) not in held:
                try_record(book.adopt, launch_id, resource, "created")
        return list(doomed.values()), why, tries
    for token, resource in book.open_resources(launch_id):
        gone = (resource.region, resource.resource_id) in doomed
        if gone or (found is not None and of_gang(token)):
            try_record(book.result, token, "terminated")  # else down records it later
    return [], "", tries


def _rollback_failed(name: str, option: Option, zone: str | None, stuck: RollbackIncomplete,
                     attempts: Sequence[Attempt]) -> RollbackFailed:
    """The one line a user reads when a rollback gave up: what failed, what is left (by
    provider, region and kind), and the exact command that removes it."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in stuck.left:
        groups.setdefault((r.provider, r.region, r.kind), []).append(r.resource_id)
    left = "; ".join(f"{len(ids)} {kind}(s) in {p}/{region}: {', '.join(sorted(ids))}"
                     for (p, region, kind), ids in sorted(groups.items()))
    where = f"{option.provider}/{option.region.name}" + (f"/{zone}" if zone else "")
    tries = f"{stuck.tries} {'try' if stuck.tries == 1 else 'tries'}"
    message = (f"launch {name!r} stopped: a gang member failed on {where} "
               f"{option.offer.instance_type} ({stuck.failure.reason}) and the rollback could "
               f"not remove what the gang made after {tries} ({stuck.why}); still running: "
               f"{left}; run 'greenml down {name}' to remove them")
    return RollbackFailed(name, message, stuck.left, attempts)


def _attempt(option: Option, zone: str | None, failure: Failure) -> Attempt:
    return Attempt(option.provider, option.region.name, option.offer.instance_type, zone or "",
                   ok=False, reason=failure.reason, scope=failure.scope, code=failure.code)


def _note(book: Ledger, launch: Launch, attempt: Attempt) -> None:
    launch.attempts.append(attempt)
    try_record(book.attempt, launch.launch_id, attempt)  # a diagnostic: never hides an error


def _dry_run(launch_id: str, name: str, run: str, options: Sequence[Option],
             providers: Mapping[str, Provider], settings: Mapping[str, str]) -> Launch:
    """What would be created, where, for how much CO2e and money; nothing is called.

    Like a launch, it skips the options no provider can launch as planned and says why;
    what only the cloud can tell (capacity, quota, credentials) it cannot foresee.
    """
    skipped: dict[str, None] = {}  # an ordered set: one line per option and reason, best first
    best_why = ""
    for option in options:
        provider = providers[option.provider]
        why = _cannot_launch(option, provider)
        if not why:
            break
        best_why = best_why or why
        line = (f"  skips {option.provider}/{option.region.name} "
                f"{option.offer.instance_type}: {why}")
        skipped.setdefault(line)
    else:
        best = options[0]
        others = f"; nor any of the {len(options) - 1} others" if len(options) > 1 else ""
        raise InputError("providers", f"{best.provider} cannot launch the best option "
                         f"({best.offer.instance_type}): {best_why}{others}")
    zone = option.region.zones[0] if option.region.zones else None
    requests = _requests(launch_id, name, run, 0, option, zone, provider, settings)
    e = option.estimate
    cost = "unknown cost" if e.cost_usd is None else f"${e.cost_usd:,.0f}"
    lines = [
        f"dry run: launch {name!r} would create {len(requests)} x {option.offer.instance_type} "
        f"on {option.provider} in {option.region.name} ({option.region.location}): "
        f"{e.accelerators} x {option.accelerator.name}, {e.hours:,.1f} h, "
        f"{e.co2e_kg:,.1f} kg CO2e, {cost}",
        *(f"  {provider.describe(r)}" for r in requests),
        *list(skipped)[:DRY_RUN_SKIPS_SHOWN],
        *([f"  ... and {len(skipped) - DRY_RUN_SKIPS_SHOWN} more skipped"]
          if len(skipped) > DRY_RUN_SKIPS_SHOWN else []),
        "  if capacity runs out, greenml falls over to the next-greenest option",
    ]
    return Launch(launch_id, name, option, dry_run=True, description="\n".join(lines))


# status and down
















