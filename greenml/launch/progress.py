"""What a launch is doing, as it does it: small events for a person or a program.

A cloud can take minutes to create a VM, and a launch that fails over tries several options;
silence for that long reads as a hang. Every step of the launch loop is one ``LaunchEvent``,
logged on the ``greenml.launch`` logger and handed to the caller's ``progress`` callback;
the ``greenml launch`` command prints them on a terminal's stderr. Reporting never changes
what the loop does: a callback that raises is logged once and not called again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
from attrs import frozen

from greenml.validators import one_of

LOGGER = logging.getLogger("greenml.launch")
#: A library's logger prints nothing until the application configures logging (without a
#: handler, Python would print its warnings on stderr: the CLI's one error line is enough).
LOGGER.addHandler(logging.NullHandler())

#: Every kind of event, in the order a launch meets them:
#: ``trying``: an option (rank, provider, region, zone) is about to be created;
#: ``skipped``: a provider or an option is passed over, with why (credentials, schedule);
#: ``creating``: member ``index`` of ``total`` is asked for;
#: ``waiting``: members are still being created, ``elapsed_s`` since the option began;
#: ``retrying``: a throttled call waits ``wait_s`` before its next try;
#: ``up``: member ``index`` of ``total`` exists (``message`` says how many are up);
#: ``failed``: the option failed, with the provider's reason; the loop fails over;
#: ``rolled-back``: a failed gang's members were removed again;
#: ``rollback-failed``: they could not be, and the launch stops;
#: ``rendezvous``: every gang member was told its rank, the node count and the head's
#: address; ``launched``: the launch is up.
KINDS = ("trying", "skipped", "creating", "waiting", "retrying", "up", "failed",
         "rolled-back", "rollback-failed", "rendezvous", "launched")

#: How often a launch that waits on its members says so, in seconds
#: (``GREENML_PROGRESS_INTERVAL_S`` overrides it).
WAIT_REPORT_S = 15.0


@frozen
class LaunchEvent:
    """One step of a launch. ``rank`` is the plan's 1-based option rank; ``index`` and
    ``total`` count gang members (``index`` 1-based); ``elapsed_s`` is the time since the
    launch began (for ``waiting``: since the option's members were first asked for)."""

    kind: str = attrs.field(validator=one_of(KINDS))
    message: str
    rank: int | None = None
    provider: str = ""
    region: str = ""
    zone: str = ""
    index: int | None = None
    total: int | None = None
    elapsed_s: float = 0.0
    wait_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


ProgressCallback = Callable[[LaunchEvent], object]


def wait_report_s() -> float:
    """The interval between ``waiting`` events (``GREENML_PROGRESS_INTERVAL_S``, default 15)."""
    from greenml.environment import number

    return number("GREENML_PROGRESS_INTERVAL_S", WAIT_REPORT_S, least=0.01, unit="seconds")


class Reporter:
    """Sends a launch's events to the log and to the caller's callback, one at a time
    (members report from worker threads)."""

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        if callback is not None and not callable(callback):
            from greenml.errors import InputError

            raise InputError("progress", f"must be a function of one LaunchEvent, got "
                             f"{callback!r}")
        self._callback = callback
        self._lock = threading.Lock()
        self._began = time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self._began

    def emit(self, kind: str, message: str, **where: Any) -> None:
        where.setdefault("elapsed_s", round(self.elapsed_s(), 1))
        event = LaunchEvent(kind, message, **where)
        level = logging.WARNING if kind in ("failed", "rollback-failed") else logging.INFO
        with self._lock:
            LOGGER.log(level, "%s", message, extra={"greenml_event": event})
            if self._callback is None:
                return
            try:
                self._callback(event)
            except Exception as exc:  # reporting must never change what the launch does
                LOGGER.warning("the progress callback raised %s: %s; it is not called again",
                               type(exc).__name__, exc)
                self._callback = None


def minutes(seconds: float) -> str:
    """``42 s`` or ``3m 05s``: an elapsed time as a person reads it."""
    whole = int(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60}m {whole % 60:02d}s"


def terminal_printer(stream: Any) -> ProgressCallback:
    """A callback printing each event as one ``greenml: ...`` line on ``stream``."""

    def show(event: LaunchEvent) -> None:
        print(f"greenml: {event.message}", file=stream, flush=True)

    return show
