"""Field validators for greenml's attrs classes, composed from ``attrs.validators``, and
the two converters the value types share.

attrs' validators do the checking; ``accepting`` only turns their ``TypeError`` or
``ValueError`` into an ``InputError`` that names the field and says what it accepts
(``hours: must be greater than zero, got -1``), the one line a user sees on the CLI.
Each step of a chain has its own words, so a value that is not a number and a number out
of range are told apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from attrs import validators as v

from greenml.errors import InputError

#: What attrs calls a validator: (instance, attribute, value) -> None, raising if refused.
Validator = Callable[[Any, Any, Any], Any]


def not_bool(instance: Any, attribute: Any, value: Any) -> None:
    """A bool is an int to Python, never a figure to greenml. (``attrs.validators.not_``
    says the same by catching an exception on every valid value: four times slower.)"""
    if isinstance(value, bool):
        raise TypeError(f"{attribute.name} must not be a bool")


#: An int or a float, not a bool.
NUMBER: Validator = v.and_(v.instance_of((int, float)), not_bool)
#: A NUMBER that is neither NaN nor infinite (NaN fails every comparison).
FINITE = v.and_(NUMBER, v.gt(-math.inf), v.lt(math.inf))
#: An int that is not a bool.
WHOLE: Validator = v.and_(v.instance_of(int), not_bool)


def accepting(*steps: tuple[str, Validator], name: str = "") -> Validator:
    """Run each ``(what is accepted, attrs validator)`` step in turn; the first refusal
    becomes ``InputError(field, "must be <what is accepted>, got <value>")``, the field
    being ``name`` where the attribute is not what users call it (a PUE's ``value``)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        for accepted, validator in steps:
            try:
                validator(instance, attribute, value)
            except InputError:
                raise
            except (TypeError, ValueError):
                raise InputError(name or attribute.name,
                                 f"must be {accepted}, got {value!r}") from None

    return check


def one_of(choices: tuple[str, ...]) -> Validator:
    """One of ``choices``, named in the error."""
    return accepting((f"one of {', '.join(choices)}", v.in_(choices)))


def instance(kind: type) -> Validator:
    """An instance of the greenml type ``kind``."""
    return accepting((f"a greenml.{kind.__name__}", v.instance_of(kind)))


def nonblank_text(accepted: str = "a non-empty string") -> Validator:
    """Text with something in it besides white space."""
    return accepting((accepted, v.and_(v.instance_of(str), v.matches_re(r"(?s).*\S.*"))))


def optional(validator: Validator) -> Validator:
    """``validator``, or None: ``attrs.validators.optional`` typed as a plain Validator, so a
    field annotated ``float`` (None allowed by its converter or default) takes it."""
    return v.optional(validator)


positive = optional(accepting(("a positive number", FINITE), ("greater than zero", v.gt(0))))
non_negative = optional(accepting(("a number", FINITE), ("0 or more", v.ge(0))))
required_text = nonblank_text()
text = accepting(("a string", v.instance_of(str)))
flag = accepting(("true or false", v.instance_of(bool)))
whole_at_least_1 = accepting(("a whole number >= 1", v.and_(WHOLE, v.ge(1))))
seconds = accepting(("a finite number of seconds >= 0", v.and_(FINITE, v.ge(0))))
fraction = optional(accepting(("in (0, 1]", v.and_(FINITE, v.gt(0), v.le(1)))))


def blank_is_none(value: Any) -> Any:
    """A converter: "" (an empty CSV cell) or None is None; anything else is left for the
    field's validator to judge."""
    return None if value is None or value == "" else value


def names(value: Any) -> tuple[str, ...]:
    """A converter: one name, comma-separated names, or any iterable of names, as a tuple."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(v).strip() for v in value)
