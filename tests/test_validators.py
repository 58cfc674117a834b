"""greenml.validators: attrs' validators, refusing with an InputError that names the field
and what it accepts."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest

from greenml.errors import InputError
from greenml.validators import (
    accepting,
    flag,
    fraction,
    non_negative,
    one_of,
    positive,
    required_text,
    seconds,
    whole_at_least_1,
)


@attrs.frozen
class Sample:
    size: Any = attrs.field(default=1.0, validator=positive)
    share: Any = attrs.field(default=None, validator=fraction)
    floor: Any = attrs.field(default=0, validator=non_negative)
    name: Any = attrs.field(default="x", validator=required_text)
    kind: Any = attrs.field(default="a", validator=one_of(("a", "b")))
    tries: Any = attrs.field(default=1, validator=whole_at_least_1)
    wait_s: Any = attrs.field(default=0.0, validator=seconds)
    on: Any = attrs.field(default=False, validator=flag)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("size", -1, "size: must be greater than zero, got -1"),
    ("size", 0, "size: must be greater than zero, got 0"),
    ("size", math.nan, "size: must be a positive number, got nan"),
    ("size", math.inf, "size: must be a positive number, got inf"),
    ("size", True, "size: must be a positive number, got True"),
    ("size", "3", "size: must be a positive number, got '3'"),
    ("share", 1.5, "share: must be in (0, 1], got 1.5"),
    ("share", 0, "share: must be in (0, 1], got 0"),
    ("floor", -0.5, "floor: must be 0 or more, got -0.5"),
    ("floor", math.nan, "floor: must be a number, got nan"),
    ("name", "  ", "name: must be a non-empty string, got '  '"),
    ("name", 3, "name: must be a non-empty string, got 3"),
    ("kind", "c", "kind: must be one of a, b, got 'c'"),
    ("tries", 0, "tries: must be a whole number >= 1, got 0"),
    ("tries", 2.0, "tries: must be a whole number >= 1, got 2.0"),
    ("tries", False, "tries: must be a whole number >= 1, got False"),
    ("wait_s", -1, "wait_s: must be a finite number of seconds >= 0, got -1"),
    ("on", 1, "on: must be true or false, got 1"),
])
def test_a_refused_value_names_its_field_and_what_is_accepted(field: str, value: Any,
                                                              message: str) -> None:
    with pytest.raises(InputError) as refused:
        Sample(**{field: value})
    assert refused.value.field == field
    assert str(refused.value) == message


def test_accepted_values_pass_and_none_is_allowed_where_optional() -> None:
    sample = Sample(size=None, share=1, floor=None, name=" x ", kind="b", tries=3, wait_s=2.5,
                    on=True)
    assert (sample.size, sample.share, sample.tries) == (None, 1, 3)


def test_a_step_names_the_field_users_know_when_given() -> None:
    check = accepting(("at least 1.0", attrs.validators.ge(1.0)), name="pue")
    with pytest.raises(InputError, match=r"^pue: must be at least 1\.0, got 0\.5$"):
        check(None, attrs.fields(Sample).size, 0.5)


def test_an_input_error_from_a_step_passes_through_unchanged() -> None:
    def own(instance: Any, attribute: Any, value: Any) -> None:
        raise InputError("elsewhere", "its own words")

    with pytest.raises(InputError, match=r"^elsewhere: its own words$"):
        accepting(("anything", own))(None, attrs.fields(Sample).size, 1)
