"""A sourced number: every figure greenml shows carries where it came from and its year.

Its own module because both the value types (``model``) and the package data reader
(``packagedata``) build Figures, and neither may import the other's module to do it.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import field, frozen

from greenml.errors import InputError


@frozen
class Figure:
    """One input of an estimate, with where it came from; every number greenml shows has one."""

    name: str
    value: float = field()
    unit: str
    source: str
    year: str = ""
    note: str = ""

    @value.validator
    def _check(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError("value", f"{self.name}: must be a number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)
