"""Bad input fails where it enters, naming the field and what is accepted."""

from __future__ import annotations

import math

import pytest

from greenml import InputError, Job


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"count": 0, "hours": 1}, "count"),
        ({"count": -3, "hours": 1}, "count"),
        ({"count": 2.5, "hours": 1}, "count"),
        ({"count": "8", "hours": 1}, "count"),
        ({"count": True, "hours": 1}, "count"),
        ({"hours": 0}, "hours"),
        ({"hours": -1}, "hours"),
        ({"hours": math.nan}, "hours"),
        ({"hours": math.inf}, "hours"),
        ({"hours": "72"}, "hours"),
        ({"flops": 0}, "flops"),
        ({"flops": -1e20}, "flops"),
        ({"flops": 1e20, "utilization": 0}, "utilization"),
        ({"flops": 1e20, "utilization": 1.5}, "utilization"),
        ({"flops": 1e20, "utilization": -0.2}, "utilization"),
        ({}, "hours"),
        ({"hours": 1, "flops": 1e20}, "hours"),
        ({"hours": 1, "max_cost_usd": 0}, "max_cost_usd"),
        ({"hours": 1, "min_memory_gb": -1}, "min_memory_gb"),
    ],
)
def test_bad_numbers_name_their_field(kwargs: dict, field: str) -> None:
    kwargs = {"accelerator": "A100", **kwargs}
    with pytest.raises(InputError) as info:
        Job(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_unknown_country_code_suggests_one() -> None:
    with pytest.raises(InputError) as info:
        Job(accelerator="A100", hours=1, countries="Finland")
    assert info.value.field == "countries" and info.value.suggestions == ("FI",)
    with pytest.raises(InputError) as info:
        Job(accelerator="A100", hours=1, not_countries="XX")
    assert info.value.field == "not_countries"


def test_allow_and_deny_lists_that_exclude_everything() -> None:
    with pytest.raises(InputError, match="exclude every country"):
        Job(accelerator="A100", hours=1, countries="FI,SE", not_countries=["SE", "FI"])
    with pytest.raises(InputError, match="exclude every region"):
        Job(accelerator="A100", hours=1, regions="us-east-1", not_regions="us-east-1")


def test_hours_need_a_reference_accelerator() -> None:
    with pytest.raises(InputError) as info:
        Job(accelerator="any", hours=10)
    assert info.value.field == "hours_on"
    assert Job(accelerator="any", hours=10, hours_on="A100").reference_accelerator == "A100"


def test_lists_and_strings_are_normalised() -> None:
    job = Job(accelerator="A100, H100", count=8.0, hours=1, countries=["fi", "se"])
    assert job.accelerator == ("A100", "H100")
    assert job.count == 8 and isinstance(job.count, int)
    assert job.countries == ("FI", "SE")
    assert Job(accelerator="any", flops=1e20).accelerator == ()
