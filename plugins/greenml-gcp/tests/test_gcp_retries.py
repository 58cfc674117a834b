"""How many requests a throttled call costs on Compute Engine: one retry policy.

insert and delete have no google-api-core retry; the reads inside a create are made with
none either, as greenml's launch loop retries the whole create. The plugin's own per-VM
retry of a throttled delete draws on the tries of greenml's terminate loop around it
(``greenml.retry.shared_tries``), where it used to multiply them (5 x 5 = 25 deletes).
"""

from __future__ import annotations

import pytest

import greenml

ZONE = "northamerica-northeast1-c"  # where the 2 x T4 plan lands (a and b have no T4)


def t4_plan() -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="T4", count=2, hours=10, providers="gcp"))


@pytest.mark.parametrize("attempts", [1, 4])
def test_an_insert_throttled_for_good_is_sent_exactly_attempts_times(gcp, attempts) -> None:
    gcp.inject("insert", "rateLimitExceeded", times=None, zone=ZONE)
    launch = t4_plan().launch(name="throttled", run="true", retry=greenml.RetryPolicy(
        attempts=attempts, base_delay_s=0.01))
    per_vm: dict[str, list[dict]] = {}
    for call in gcp.calls("insert"):
        if call["zone"] == ZONE:
            per_vm.setdefault(call["name"], []).append(call)
    print(f"\ninsert throttled for good, RetryPolicy(attempts={attempts}): "
          f"{[len(c) for c in per_vm.values()]} request(s) per VM in {ZONE}")
    assert per_vm, "the zone was tried"
    for inserts in per_vm.values():  # one VM of one option: one logical create each
        assert [c["status"] for c in inserts] == [429] * attempts
        assert len({c["query"]["requestId"] for c in inserts}) == 1
    assert any(a.code == "rateLimitExceeded" for a in launch.attempts)
    assert launch.attempts[-1].ok, "then the next option"


def test_a_zone_lookup_the_service_cannot_answer_is_retried_once_over(gcp) -> None:
    gcp.inject("machineTypes.get", "backendError", times=None, zone=ZONE)
    t4_plan().launch(name="lookup", run="true",
                        retry=greenml.RetryPolicy(attempts=3, base_delay_s=0.01))
    first = t4_plan().best.offer.instance_type
    lookups = [c for c in gcp.calls("machineTypes.get") if c["zone"] == ZONE
               and c["name"] == first]
    assert [c["status"] for c in lookups] == [503] * 3, "greenml's 3, no SDK retry under them"
    assert not [c for c in gcp.calls("insert") if c["zone"] == ZONE]


def test_a_delete_throttled_for_good_is_sent_exactly_attempts_times(gcp) -> None:
    t4_plan().launch(name="stuck", run="true",
                        retry=greenml.RetryPolicy(attempts=2, base_delay_s=0.01))
    gcp.inject("delete", "rateLimitExceeded", times=None)
    with pytest.raises(greenml.GreenmlError, match=r"after 5 tries"):
        greenml.down("stuck")  # the default policy: 5 attempts, shared with the plugin's loop
    deletes = gcp.calls("delete")
    print(f"\ndelete throttled for good, greenml down: {len(deletes)} request(s)")
    assert [c["status"] for c in deletes] == [429] * 5
