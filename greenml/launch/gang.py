"""Creating one option's instances, all of them or none: the gang, its retries and its
rollback, and terminating with the same bounded retries (``down`` uses it too).

Split from the launch loop, which decides what to try; this module only tries it, reporting
each member as it is asked for and comes up (``greenml.launch.progress``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import LedgerError
from greenml.launch.ledger import Ledger
from greenml.launch.progress import Reporter, minutes
from greenml.launch.types import Failure, InstanceRequest, Journal, Resource
from greenml.retry import RetryPolicy, shared_tries

if TYPE_CHECKING:
    from greenml.provider.contract import LaunchingProvider as Provider

SEVERITY = {"zone": 0, "offer": 1, "region": 2, "provider": 3, "none": 4}


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


class Watch:
    """Who hears about a gang being created, and where it is: each member as it is asked
    for and comes up, the throttled waits, and how long the gang has been waited on."""

    def __init__(self, reporter: Reporter, rank: int, total: int, interval_s: float) -> None:
        self.reporter, self.rank, self.total, self.interval_s = (reporter, rank, total,
                                                                 interval_s)
        self._up = 0
        self._lock = threading.Lock()

    def emit(self, kind: str, message: str, request: InstanceRequest, **extra: Any) -> None:
        o = request.option
        self.reporter.emit(kind, message, rank=self.rank, provider=o.provider,
                           region=o.region.name, zone=request.zone or "", total=self.total,
                           **extra)

    def member(self, request: InstanceRequest) -> str:
        if self.total == 1:
            return repr(request.instance_name)
        return f"member {request.index + 1} of {self.total} ({request.instance_name})"

    def creating(self, request: InstanceRequest) -> None:
        o = request.option
        self.emit("creating", f"creating {self.member(request)}: {o.offer.instance_type} on "
                  f"{where(request)}", request, index=request.index + 1)

    def retrying(self, request: InstanceRequest, failure: Failure, wait_s: float) -> None:
        self.emit("retrying", f"{self.member(request)}: {failure.reason}; trying again in "
                  f"{wait_s:,.1f} s", request, index=request.index + 1, wait_s=wait_s)

    def up(self, request: InstanceRequest, resource: Resource) -> None:
        with self._lock:
            self._up += 1
            count = self._up
        text = (f"{resource.resource_id} is up" if self.total == 1 else
                f"members up: {count} of {self.total} ({resource.resource_id})")
        self.emit("up", text, request, index=request.index + 1)

    def waiting(self, request: InstanceRequest, pending: int, waited_s: float) -> None:
        self.emit("waiting", f"waiting for {pending} of {self.total} member(s) on "
                  f"{where(request)} ({minutes(waited_s)} so far)", request,
                  elapsed_s=round(waited_s, 1))


def where(request: InstanceRequest) -> str:
    o = request.option
    return f"{o.provider}/{o.region.name}" + (f"/{request.zone}" if request.zone else "")


def _launch_gang(provider: Provider, requests: Sequence[InstanceRequest], book: Ledger,
                 retry: RetryPolicy, watch: Watch) -> list[Resource]:
    """Create every instance in parallel; if any fails for good, remove the rest and raise
    GangFailed, or RollbackIncomplete when the rest could not be removed. While members are
    outstanding, ``watch`` hears every ``interval_s`` how many and for how long."""
    from concurrent.futures import ThreadPoolExecutor, wait

    workers = min(len(requests), 16)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_create_one, provider, r, book, retry, watch) for r in requests]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=watch.interval_s)
            if pending:
                watch.waiting(requests[0], len(pending), time.monotonic() - began)
        outcomes = [f.exception() or f.result() for f in futures]
    created = [o for o in outcomes if isinstance(o, Resource)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if not errors:
        try:  # every member is up: tell each its rank, the count and the head's address
            # a provider not built on greenml.provider.Provider may lack it
            meet = getattr(provider, "rendezvous", None)
            if meet is not None and len(created) > 1:
                meet(created, requests[0].option)
                watch.emit("rendezvous", f"rendezvous written: {len(created)} members know "
                           "their rank and the head's address", requests[0],
                           elapsed_s=time.monotonic() - began)
        except Exception as exc:  # a gang that cannot meet is rolled back like one that
            errors = [exc]        # could not be created
        else:
            return created
    made = [r for e in errors if isinstance(e, GangFailed) for r in e.made]
    failures = [e.failure if isinstance(e, GangFailed) else provider.classify(e) for e in errors]
    worst = max(failures, key=lambda f: (f.stop, SEVERITY[f.scope]))
    left, why, tries = _cleanup(provider, requests, [*created, *made], book, retry)
    if left:
        raise RollbackIncomplete(worst, left, why, tries)
    came_up = len({(r.region, r.resource_id) for r in [*created, *made]})
    if came_up:
        watch.emit("rolled-back", f"rolled back: removed the {came_up} member(s) created on "
                   f"{where(requests[0])}", requests[0])
    if len(requests) > 1:  # members that came up, recorded or not (a ledger that was locked)
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
                retry: RetryPolicy, watch: Watch) -> Resource:
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
    watch.creating(request)
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
                    watch.retrying(request, failure, verdict.wait_s)
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
    watch.up(request, resource)
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

