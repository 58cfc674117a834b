"""One retry policy for everything greenml retries: the launch loop's create and terminate
calls, a provider's own per-resource loop inside them, and the carbon sources' requests.

Why one: three loops had three ideas of backoff, and the cloud SDKs' own retries stacked
under greenml's (4 botocore tries under each of 5 greenml tries: 20 calls on AWS throttling).
Here a failed try waits ``base_delay_s`` x 2^n (with jitter unless turned off), at most
``max_delay_s``; a server's ``Retry-After`` replaces the backoff; nothing waits past a
deadline; at most ``attempts`` tries in all. The cloud plugins have their SDKs make one try
per call that greenml retries, so a throttled call costs at most ``attempts`` requests
(docs/configuration.md, "Retries"), and a provider's own loop inside greenml's draws on the
same count (``shared_tries``) instead of multiplying it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import attrs

from greenml import environment
from greenml.validators import flag, optional, seconds, whole_at_least_1

#: ``GREENML_RETRY_BASE_DELAY_S``: the launch loop's first backoff, in seconds.
BASE_DELAY_VARIABLE = "GREENML_RETRY_BASE_DELAY_S"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` header, given in seconds or as an HTTP
    date (RFC 9110), for ``Failure.retry_after_s``; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _base_delay_s() -> float:
    return environment.number(BASE_DELAY_VARIABLE, 1.0, unit="seconds")


@attrs.frozen
class Verdict:
    """What follows a failed try: wait ``wait_s`` and try again, or stop.

    ``stop`` says why not: "attempts" (all made), "retry_after" (the server asked for a wait
    longer than the policy allows) or "deadline" (the wait would pass it); ``note`` is the
    words for a message ("" when the attempts are spent)."""

    wait_s: float | None
    stop: str = ""
    note: str = ""

    @property
    def again(self) -> bool:
        return self.wait_s is not None


@attrs.frozen
class RetryPolicy:
    """Backoff for throttled calls: ``base_delay_s`` x 2^n with jitter, at most ``attempts``.

    ``max_delay_s`` caps each wait, a ``Retry-After`` included, unless
    ``longest_retry_after_s`` is set: then a ``Retry-After`` up to it is waited in full and a
    longer one ends the retries (a source that asks for an hour is given up on). ``jitter``
    spreads the waits of concurrent callers (a gang's members) over 50-100 % of the backoff.
    """

    attempts: int = attrs.field(default=5, validator=whole_at_least_1)
    base_delay_s: float = attrs.field(factory=_base_delay_s, validator=seconds)
    max_delay_s: float = attrs.field(default=30.0, validator=seconds)
    jitter: bool = attrs.field(default=True, validator=flag)
    longest_retry_after_s: float | None = attrs.field(default=None,
                                                      validator=optional(seconds))

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait after failed try number ``attempt`` (0 for the first)."""
        if retry_after_s is not None:
            if self.longest_retry_after_s is not None:
                return retry_after_s
            return min(retry_after_s, self.max_delay_s)
        factor = 1.0
        if self.jitter:
            import random

            factor = 0.5 + random.random() / 2
        return float(min(self.base_delay_s * 2**attempt * factor, self.max_delay_s))

    def after(self, tries: int, retry_after_s: float | None = None, *,
              left_s: float | None = None) -> Verdict:
        """The verdict after ``tries`` tries have failed; ``left_s``: time to a deadline."""
        if tries >= self.attempts:
            return Verdict(None, "attempts")
        if (retry_after_s is not None and self.longest_retry_after_s is not None
                and retry_after_s > self.longest_retry_after_s):
            return Verdict(None, "retry_after", f"asked to retry after {retry_after_s:.0f} s")
        wait = self.delay_s(tries - 1, retry_after_s)
        if left_s is not None and wait >= left_s:
            return Verdict(None, "deadline", f"a retry in {wait:.1f} s would pass the deadline")
        return Verdict(wait)


class Tries:
    """The tries of one logical call, counted against one policy.

    ``failed()`` records a failed try and returns the verdict; ``left_s`` (a callable) is the
    time to a deadline, if the call has one."""

    def __init__(self, policy: RetryPolicy, left_s: Callable[[], float] | None = None) -> None:
        self.policy = policy
        self.left_s = left_s
        self.failures = 0

    def failed(self, retry_after_s: float | None = None) -> Verdict:
        self.failures += 1
        left = self.left_s() if self.left_s is not None else None
        return self.policy.after(self.failures, retry_after_s, left_s=left)

    @property
    def made(self) -> int:
        """Tries made so far, at most ``attempts`` (a nested loop may count one twice)."""
        return min(self.failures, self.policy.attempts)


_current: contextvars.ContextVar[Tries | None] = contextvars.ContextVar(
    "greenml_retry_tries", default=None)


@contextlib.contextmanager
def shared_tries(policy: RetryPolicy) -> Iterator[Tries]:
    """The tries of the call now running: the enclosing loop's where there is one (so a
    provider that retries each resource inside greenml's terminate loop spends the same
    ``attempts``, never attempts x attempts), else new ones for ``policy``."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    tries = Tries(policy)
    token = _current.set(tries)
    try:
        yield tries
    finally:
        _current.reset(token)
