"""How many requests a throttled call costs on Azure: one retry policy, never two multiplied.

greenml's launch loop retries create and terminate itself, so azure-core makes one try per
call by default (``GREENML_AZURE_SDK_RETRIES`` 0): a PUT throttled for good is sent exactly
``attempts`` times. Each SDK retry a user sets multiplies that, as documented; the counts are
the local ARM's record of what reached it.
"""

from __future__ import annotations

import pytest

import greenml

GREENEST = "swedencentral"


def a100_plan() -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=1, hours=10, providers="azure"))


@pytest.mark.parametrize(("sdk_retries", "attempts", "sent"), [
    (None, 1, 1), (None, 3, 3), ("1", 2, 4)])
def test_a_vm_throttled_for_good_is_sent_a_bounded_number_of_times(
        azure, monkeypatch, sdk_retries, attempts, sent) -> None:
    if sdk_retries is None:
        monkeypatch.delenv("GREENML_AZURE_SDK_RETRIES")  # the default: no SDK retry
    else:
        monkeypatch.setenv("GREENML_AZURE_SDK_RETRIES", sdk_retries)
    greenml.default_catalog().providers["azure"].forget_clients()
    azure.inject("PUT", "virtualMachines", "TooManyRequests", status=429, retry_after="0",
                 times=None, location=GREENEST)
    launch = a100_plan().launch(name="throttled", run="true", retry=greenml.RetryPolicy(
        attempts=attempts, base_delay_s=0.01))
    puts = [c for c in azure.calls("PUT", "virtualMachines")
            if str(c["location"]).lower() == GREENEST]
    print(f"\nPUT virtualMachines throttled for good, GREENML_AZURE_SDK_RETRIES="
          f"{sdk_retries or 0}, RetryPolicy(attempts={attempts}): {len(puts)} request(s)")
    assert len(puts) == sent
    assert len({c["name"] for c in puts}) == 1, "one VM name: retries create nothing new"
    assert launch.option.region.name != GREENEST and launch.attempts[0].code == "TooManyRequests"
