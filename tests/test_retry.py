"""The one retry policy (greenml.retry): backoff, jitter, Retry-After, deadline, shared tries.

Every loop that retries uses it: the launch loop (create, terminate), a provider's own loop
inside it (drawing on the same tries), and the carbon sources' HTTP client. The end-to-end
counts against the cloud doubles are in each plugin's test_*_retries.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

import greenml
from greenml.retry import RetryPolicy, Tries, parse_retry_after, shared_tries
from greenml.testing import MemoryProvider


def test_the_public_name_is_the_one_policy() -> None:
    from greenml import retry
    from greenml.launch import loop as provision

    assert greenml.RetryPolicy is retry.RetryPolicy is provision.RetryPolicy


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=3.0, jitter=False)
    assert [policy.delay_s(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_spreads_each_wait_over_half_to_all_of_the_backoff() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=100.0)
    waits = [policy.delay_s(2) for _ in range(200)]
    assert all(2.0 <= w <= 4.0 for w in waits)
    assert len(set(waits)) > 100, "jittered, not one fixed value"


def test_retry_after_replaces_the_backoff_capped_unless_a_longest_is_set() -> None:
    capped = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0)
    assert capped.delay_s(0, retry_after_s=7.0) == 7.0
    assert capped.delay_s(0, retry_after_s=120.0) == 30.0
    honoured = RetryPolicy(base_delay_s=0.5, max_delay_s=8.0, jitter=False,
                           longest_retry_after_s=30.0)
    assert honoured.delay_s(0, retry_after_s=20.0) == 20.0
    assert honoured.after(1, 31.0).stop == "retry_after"
    assert honoured.after(1, 31.0).note == "asked to retry after 31 s"


def test_the_verdict_stops_after_attempts_and_before_passing_a_deadline() -> None:
    policy = RetryPolicy(attempts=3, base_delay_s=1.0, jitter=False)
    assert policy.after(1).wait_s == 1.0 and policy.after(2).wait_s == 2.0
    assert policy.after(3).stop == "attempts" and not policy.after(3).again
    late = policy.after(2, left_s=1.5)
    assert (late.stop, late.note) == ("deadline", "a retry in 2.0 s would pass the deadline")
    assert policy.after(2, retry_after_s=1.0, left_s=1.5).wait_s == 1.0


def test_tries_count_failures_and_read_the_time_left() -> None:
    left = [10.0]
    tries = Tries(RetryPolicy(attempts=3, base_delay_s=1.0, jitter=False), lambda: left[0])
    assert tries.failed().wait_s == 1.0
    left[0] = 1.5
    assert tries.failed().stop == "deadline"
    assert tries.failed().stop == "attempts" and tries.made == 3


def test_a_nested_loop_shares_the_outer_tries_instead_of_multiplying_them() -> None:
    outer_policy = RetryPolicy(attempts=4, base_delay_s=0.0)
    with shared_tries(outer_policy) as outer:
        with shared_tries(RetryPolicy(attempts=9)) as inner:
            assert inner is outer
            verdicts = [inner.failed() for _ in range(4)]
        assert [v.again for v in verdicts] == [True, True, True, False]
    with shared_tries(RetryPolicy(attempts=2)) as fresh:
        assert fresh is not outer and fresh.failures == 0


@pytest.mark.parametrize(("field", "value"), [
    ("attempts", 0), ("attempts", 2.5), ("attempts", True), ("base_delay_s", -1),
    ("max_delay_s", float("nan")), ("jitter", "yes"), ("longest_retry_after_s", float("inf"))])
def test_bad_fields_are_refused_naming_them(field, value) -> None:
    with pytest.raises(greenml.InputError) as error:
        RetryPolicy(**{field: value})
    assert error.value.field == field


def test_the_base_delay_comes_from_the_environment_when_not_given(monkeypatch) -> None:
    monkeypatch.setenv("GREENML_RETRY_BASE_DELAY_S", "0.25")
    assert RetryPolicy().base_delay_s == 0.25
    monkeypatch.setenv("GREENML_RETRY_BASE_DELAY_S", "soon")
    with pytest.raises(greenml.InputError) as error:
        RetryPolicy()
    assert error.value.field == "GREENML_RETRY_BASE_DELAY_S"


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0 and parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25.0 <= (parse_retry_after(later) or 0.0) <= 30.0
    from greenml.provider import parse_retry_after as re_exported  # where plugins take it

    assert re_exported is parse_retry_after


class TerminateRetryingItself(MemoryProvider):
    """Deletes each resource with its own retry loop, as the GCP plugin does, and is
    throttled for good: every try is counted."""

    def __init__(self) -> None:
        super().__init__()
        self.deletes = 0

    def terminate(self, resources: Sequence[greenml.Resource]) -> None:
        with shared_tries(RetryPolicy(attempts=5, base_delay_s=0.0)) as tries:
            while True:
                self.deletes += 1
                if tries.failed().wait_s is None:
                    raise RuntimeError("throttled")

    def classify(self, error: BaseException) -> greenml.provider.Failure:
        return greenml.provider.Failure("none", str(error), "Throttled", retry=True)


def test_the_terminate_loop_and_a_providers_own_loop_share_the_attempts() -> None:
    from greenml.launch.gang import terminate

    provider = TerminateRetryingItself()
    resource = greenml.Resource("memory", "memory-north-1", "i-1")
    why, tries = terminate(provider, [resource], RetryPolicy(attempts=3, base_delay_s=0.0))
    assert why == "throttled" and tries == 3
    assert provider.deletes == 3, "3 tries in all, not 5 x 3"


def test_importing_the_policy_stays_light() -> None:
    code = ("import sys, greenml.retry; print(sorted(m for m in ('random', 'urllib3', "
            "'email.utils') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
