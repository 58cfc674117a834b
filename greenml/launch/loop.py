"""Launch a plan: walk its options greenest first, fail over on capacity, leave nothing behind.

Provider-neutral: providers create, terminate, find and classify; this module decides what
to try next (``gang`` tries it: all of a gang or none). A provider that cannot be used at all
(its credentials, a permission, no answer) is passed over at once and named once in the
error, never once per option; each step is reported as it happens (``progress``).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NamedTuple

from greenml import registry
from greenml.errors import (
    InputError,
    LaunchError,
    LedgerReadOnly,
    RollbackFailed,
)
from greenml.launch.gang import (
    GangFailed,
    RollbackIncomplete,
    Watch,
    _launch_gang,
)
from greenml.launch.gang import try_record as try_record
from greenml.launch.ledger import Ledger
from greenml.launch.progress import ProgressCallback, Reporter, wait_report_s
from greenml.launch.types import (
    TAG_CO2E,
    TAG_INDEX,
    TAG_LAUNCH_ID,
    TAG_NAME,
    Attempt,
    Failure,
    InstanceRequest,
    Launch,
)
from greenml.retry import RetryPolicy

if TYPE_CHECKING:
    from greenml.model import Option
    from greenml.plan.result import Plan
    from greenml.provider.contract import LaunchingProvider as Provider

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
#: How many options a dry run that skips better ones names (the rest are counted).
DRY_RUN_SKIPS_SHOWN = 5
#: How many distinct failures (besides the providers passed over) a LaunchError names.
FAILURES_SHOWN = 5
#: A planned start this close to now is a start now: planning and launching take a moment.
START_SLACK = timedelta(minutes=5)


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
    progress: ProgressCallback | None = None,
    keep: bool = False,
    max_hours: float | None = None,
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
    if not isinstance(keep, bool):
        raise InputError("keep", f"must be true or false, got {keep!r}")
    if max_hours is not None and (isinstance(max_hours, bool) or not isinstance(
            max_hours, (int, float)) or not 0 < max_hours < float("inf")):
        raise InputError("max_hours", f"must be a positive number of hours, got {max_hours!r}")
    ending = _Ending(keep, None if max_hours is None else float(max_hours))
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InputError("retry", f"expected a greenml.RetryPolicy, got {retry!r}")
    retry = retry or RetryPolicy()
    reporter, interval_s = Reporter(progress), wait_report_s()
    providers = plan.launch_providers()  # a saved plan's: the installed ones, if current
    settings = check_settings(settings, providers)  # before anything is created, dry run too
    options = list(_launchable(plan, providers))
    if not options:
        raise InputError("providers", "no option in this plan is on a provider that can launch "
                         f"(launchable: {', '.join(_launchers(providers)) or 'none installed'})")
    launch_id = uuid.uuid4().hex[:16]
    if dry_run:
        return _dry_run(launch_id, name, run, options, providers, settings, ending)

    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    try:
        book.begin_launch(launch_id, name, options[0].to_dict(), kept=keep)
    except LedgerReadOnly as exc:  # every resource is recorded before it is created
        raise LedgerReadOnly(exc.path, exc.why, f"launch {name!r} not started") from None
    launch = Launch(launch_id, name, None)
    blocked: set[tuple[str, ...]] = set()
    passed_over: dict[str, str] = {}  # provider -> why none of its options can be tried
    credentials: dict[str, tuple[bool, str]] = {}
    for rank, option in enumerate(options):
        provider = providers[option.provider]
        if option.provider in passed_over:
            continue  # said once, for its best option
        if option.provider not in credentials:
            credentials[option.provider] = provider.check_credentials()
        ok, why = credentials[option.provider]
        if not ok:
            _note(book, launch, _attempt(option, None, Failure("provider", why)))
            _pass_over(reporter, passed_over, blocked, option, why)
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
            requests = _requests(launch_id, name, run, rank, option, zone, provider, settings,
                                 ending)
            watch = Watch(reporter, option.rank, len(requests), interval_s)
            reporter.emit("trying", _trying(option, zone, len(requests)), rank=option.rank,
                          provider=option.provider, region=option.region.name,
                          zone=zone or "", total=len(requests))
            try:
                created = _launch_gang(provider, requests, book, retry, watch)
            except RollbackIncomplete as stuck:
                _note(book, launch, _attempt(option, zone, stuck.failure))
                error = _rollback_failed(name, option, zone, stuck, launch.attempts)
                watch.emit("rollback-failed", str(error), requests[0])
                try_record(book.set_launch, launch_id, "needs-down", reason=str(error))
                raise error from None
            except GangFailed as failed:
                failure = failed.failure
                _note(book, launch, _attempt(option, zone, failure))
                if failure.scope == "provider":  # credentials, a permission, no answer
                    _pass_over(reporter, passed_over, blocked, option, failure.reason)
                    break
                if failure.stop:
                    watch.emit("failed", f"{_where(option, zone)}: {failure.reason}; "
                               "stopping", requests[0])
                    try_record(book.set_launch, launch_id, "failed", reason=failure.reason)
                    raise _launch_error(f"launch {name!r} stopped", launch.attempts,
                                        passed_over) from None
                watch.emit("failed", f"{_where(option, zone)} {option.offer.instance_type}: "
                           f"{failure.reason}; failing over", requests[0])
                blocked.add(_scope_key(failure.scope, option, zone))
                if failure.scope != "zone":
                    break
                continue
            _note(book, launch, Attempt(option.provider, option.region.name,
                                        option.offer.instance_type, zone or "", ok=True))
            book.set_launch(launch_id, "running", option_json=option.to_dict())
            launch.option, launch.instances = option, created
            reporter.emit("launched", f"launched {name!r}: {len(created)} x "
                          f"{option.offer.instance_type} on {_where(option, zone)}",
                          rank=option.rank, provider=option.provider,
                          region=option.region.name, zone=zone or "", total=len(created))
            registry.default().notify("greenml_launched", launch=launch)
            return launch
    try_record(book.set_launch, launch_id, "failed", reason="every option failed")
    tried = {a.provider for a in launch.attempts}
    head = (f"launch {name!r} stopped" if tried and tried <= set(passed_over)
            else f"could not launch {name!r}: every option failed")
    raise _launch_error(head, launch.attempts, passed_over)


def _where(option: Option, zone: str | None) -> str:
    return f"{option.provider}/{option.region.name}" + (f"/{zone}" if zone else "")


def _trying(option: Option, zone: str | None, members: int) -> str:
    e = option.estimate
    return (f"trying option {option.rank}: {members} x {option.offer.instance_type} on "
            f"{_where(option, zone)} ({e.co2e_kg:,.1f} kg CO2e planned)")


def _pass_over(reporter: Reporter, passed_over: dict[str, str], blocked: set[tuple[str, ...]],
               option: Option, why: str) -> None:
    """No option of this provider is tried again: said once, here and in the error."""
    passed_over[option.provider] = why
    blocked.add(_scope_key("provider", option, None))
    reporter.emit("skipped", f"{option.provider}: {why}; none of its options will be tried",
                  rank=option.rank, provider=option.provider)


def _launch_error(head: str, attempts: Sequence[Attempt], passed_over: Mapping[str, str]
                  ) -> LaunchError:
    """One line: each provider passed over once (what to do), then the distinct other
    failures, the first few; ``attempts`` keeps every one."""
    said = [f"{provider}: {why}" for provider, why in passed_over.items()]
    others: dict[str, list[Attempt]] = {}
    for a in attempts:
        if not a.ok and not (a.scope == "provider" and a.provider in passed_over):
            others.setdefault(a.reason, []).append(a)
    for same in list(others.values())[:FAILURES_SHOWN]:
        more = len(same) - 1
        said.append(str(same[0]) + (f" (and {more} more with the same reason)" if more
                                    else ""))
    if len(others) > FAILURES_SHOWN:
        said.append(f"and {len(others) - FAILURES_SHOWN} other failure(s) (LaunchError."
                    "attempts lists every one)")
    error = LaunchError(f"{head}: {'; '.join(said)}" if said else head)
    error.attempts = tuple(attempts)
    return error


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


class _Ending(NamedTuple):
    """How the launch's instances end: ``keep`` them, and the time limit asked for."""

    keep: bool = False
    max_hours: float | None = None


def _requests(launch_id: str, name: str, run: str, rank: int, option: Option, zone: str | None,
              provider: Provider, settings: Mapping[str, str], ending: _Ending
              ) -> list[InstanceRequest]:
    from greenml.provider.boot import limit_hours

    tags = {TAG_LAUNCH_ID: launch_id, TAG_NAME: name,
            TAG_CO2E: f"{option.estimate.co2e_kg:.1f}"}
    mine = provider_settings(provider.name, settings)
    zone_part = f"-{option.region.zones.index(zone)}" if zone else ""
    limit = limit_hours(option.estimate.hours, keep=ending.keep, max_hours=ending.max_hours)
    return [
        InstanceRequest(
            launch_id=launch_id, name=name, index=i, option=option, zone=zone, run=run,
            token=f"gm-{launch_id}-{rank}{zone_part}-{i}",
            tags={**tags, TAG_INDEX: str(i)}, settings=mine, keep=ending.keep,
            max_hours=limit,
        )
        for i in range(provider.gang_size(option))
    ]


def provider_settings(provider: str, settings: Mapping[str, str]) -> dict[str, str]:
    """Plain keys apply to every provider; ``aws.key_name`` style keys to one only."""
    out = {k: v for k, v in settings.items() if "." not in k}
    prefix = f"{provider}."
    out.update({k[len(prefix):]: v for k, v in settings.items() if k.startswith(prefix)})
    return out


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


def _ending_line(request: InstanceRequest) -> str:
    limit = ("" if request.max_hours is None
             else f"at the latest after {request.max_hours:,.2f} h")
    if request.keep:
        return "kept running after the command exits" + (f"; ended {limit}" if limit else "")
    return f"ends when the command exits, {limit}" if limit else "ends when the command exits"


def _dry_run(launch_id: str, name: str, run: str, options: Sequence[Option],
             providers: Mapping[str, Provider], settings: Mapping[str, str],
             ending: _Ending) -> Launch:
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
    requests = _requests(launch_id, name, run, 0, option, zone, provider, settings, ending)
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
        "  " + _ending_line(requests[0]),
    ]
    return Launch(launch_id, name, option, dry_run=True, description="\n".join(lines))

