"""How many requests a throttled call costs on AWS: one retry policy, never two multiplied.

greenml's launch loop retries create and terminate itself (``greenml.RetryPolicy``), so
botocore makes one try per call inside them: a call throttled for good is sent exactly
``attempts`` times, where botocore's 4 tries under greenml's 5 used to send it 20 times.
Calls greenml does not retry (finding a launch's instances, the credential check) keep
botocore's standard retries. The counts are the EC2 front's record of what reached it.
"""

from __future__ import annotations

import pytest
from aws_regions import REGIONS

import greenml


def a100_plan() -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10, providers="aws"))


def in_region(calls: list[dict], region: str) -> list[dict]:
    return [c for c in calls if c["region"] == region]


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_a_create_throttled_for_good_is_sent_exactly_attempts_times(aws, attempts) -> None:
    aws.inject("RunInstances", "RequestLimitExceeded", times=None, region=REGIONS[0])
    launch = a100_plan().launch(name="throttled", run="true", retry=greenml.RetryPolicy(
        attempts=attempts, base_delay_s=0.01))
    throttled = in_region(aws.calls("RunInstances"), REGIONS[0])
    print(f"\nRunInstances throttled for good, RetryPolicy(attempts={attempts}): "
          f"{len(throttled)} request(s) to {REGIONS[0]}")
    assert len(throttled) == attempts
    assert all(c["status"] == 503 for c in throttled)
    assert len({c["ClientToken"] for c in throttled}) == 1, "one instance, one token"
    assert launch.option.region.name == REGIONS[1], "then the next option"
    assert launch.attempts[0].code == "RequestLimitExceeded"


def test_the_default_policy_sends_a_throttled_create_five_times(aws) -> None:
    aws.inject("RunInstances", "RequestLimitExceeded", times=None, region=REGIONS[0])
    a100_plan().launch(name="default", run="true")  # GREENML_RETRY_BASE_DELAY_S=0.01
    assert len(in_region(aws.calls("RunInstances"), REGIONS[0])) == 5


def test_a_create_throttled_twice_lands_on_the_third_request(aws) -> None:
    aws.inject("RunInstances", "RequestLimitExceeded", times=2, region=REGIONS[0])
    launch = a100_plan().launch(name="twice", run="true",
                                   retry=greenml.RetryPolicy(attempts=3, base_delay_s=0.01))
    assert launch.option.region.name == REGIONS[0]
    assert [c["status"] for c in aws.calls("RunInstances")] == [503, 503, 200]


def test_a_throttled_image_lookup_is_not_retried_twice_over(aws) -> None:
    aws.inject("GetParameter", "ThrottlingException", times=None, region=REGIONS[0],
               status=400)
    launch = a100_plan().launch(name="ssm", run="true",
                                   retry=greenml.RetryPolicy(attempts=3, base_delay_s=0.01))
    assert len(in_region(aws.calls("GetParameter"), REGIONS[0])) == 3
    assert in_region(aws.calls("RunInstances"), REGIONS[0]) == []
    assert launch.option.region.name == REGIONS[1]


def test_a_terminate_throttled_for_good_is_sent_exactly_attempts_times(aws) -> None:
    launch = a100_plan().launch(name="stuck", run="true",
                                   retry=greenml.RetryPolicy(attempts=2, base_delay_s=0.01))
    aws.inject("TerminateInstances", "RequestLimitExceeded", times=None)
    with pytest.raises(greenml.GreenmlError, match=r"after 5 tries \(RequestLimitExceeded"):
        greenml.down("stuck")  # down retries with the default policy: 5 attempts
    assert len(aws.calls("TerminateInstances")) == 5
    assert launch.instances


def test_finding_a_launch_keeps_botocores_own_retries(aws) -> None:
    a100_plan().launch(name="found", run="true",
                          retry=greenml.RetryPolicy(attempts=2, base_delay_s=0.01))
    aws.inject("DescribeInstances", "RequestLimitExceeded", times=1)
    assert len(greenml.down("found")) == 1, "greenml does not retry the search: botocore does"
    assert [c["status"] for c in aws.calls("DescribeInstances")] == [503, 200]


def test_a_lost_answer_is_retried_and_an_unsent_request_is_not() -> None:
    pytest.importorskip("botocore")
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
    from greenml_aws import ec2

    lost = ec2.classify(ReadTimeoutError(endpoint_url="https://ec2.eu-north-1.amazonaws.com"))
    unsent = ec2.classify(EndpointConnectionError(
        endpoint_url="https://ec2.eu-north-1.amazonaws.com"))
    assert (lost.scope, lost.retry) == ("provider", True)
    assert (unsent.scope, unsent.retry) == ("provider", False)
