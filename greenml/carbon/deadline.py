"""Each live source's time budget in one plan: the deadline its HTTP client works against.

While a source works, ``current_deadline()`` says when its time runs out, so its client can
bound connecting, every read, retries and their waits; once spent, the source counts as
unavailable for the rest of the plan (``GREENML_CARBON_DEADLINE_S``, default 30 s).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Iterator
from typing import Any

import attrs

from greenml.errors import InputError


@attrs.frozen
class Deadline:
    """The monotonic instant (``time.monotonic()``) a source must have answered by, and the
    whole deadline it is part of (for messages)."""

    at_s: float
    budget_s: float

    def left_s(self) -> float:
        return self.at_s - time.monotonic()


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "greenml_carbon_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the source now answering for a plan (None outside a plan)."""
    return _deadline.get()


def checked_deadline_s(value: Any, field: str = "carbon_deadline_s") -> float | None:
    """A deadline in seconds as given (None: not given), refused unless a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise InputError(field, f"must be a number of seconds above 0, got {value!r}")
    return float(value)


class Budgets:
    """Per plan: the time each source has spent answering, against its deadline.

    ``deadline_s`` None reads ``GREENML_CARBON_DEADLINE_S`` (default 30 s) when first needed.
    """

    def __init__(self, deadline_s: float | None = None) -> None:
        self._deadline_s = checked_deadline_s(deadline_s)
        self.spent_s: dict[str, float] = {}

    @property
    def deadline_s(self) -> float:
        if self._deadline_s is None:
            from greenml.carbon import settings

            self._deadline_s = settings.deadline_s()
        return self._deadline_s

    def left_s(self, name: str) -> float:
        return self.deadline_s - self.spent_s.get(name, 0.0)

    def spent_note(self) -> str:
        return (f"failed (no answer within its {self.deadline_s:g} s deadline "
                "(GREENML_CARBON_DEADLINE_S); not asked again in this plan)")

    @contextlib.contextmanager
    def running(self, name: str) -> Iterator[Deadline]:
        """While ``name`` answers: its deadline, visible to its HTTP client; time is counted."""
        started = time.monotonic()
        deadline = Deadline(started + self.left_s(name), self.deadline_s)
        token = _deadline.set(deadline)
        try:
            yield deadline
        finally:
            _deadline.reset(token)
            self.spent_s[name] = self.spent_s.get(name, 0.0) + time.monotonic() - started
