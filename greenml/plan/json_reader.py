"""Typed reads of a decoded JSON document, each failure naming the file and the field's path
(``options[3].saved.offer.instance_type: missing``), as one InputError on ``field``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from greenml.errors import InputError

T = TypeVar("T")


class Reader:
    """Typed reads of a decoded file; every failure names the file and the field's path."""

    def __init__(self, source: str, field: str) -> None:
        self.source, self.field = source, field

    def fail(self, path: str, why: str) -> NoReturn:
        raise InputError(self.field, f"{self.source}: {path or 'the file'}: {why}")

    def get(self, data: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in data:
            self.fail(join(path, key), "missing")
        return data[key]

    def obj(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
        value = self.get(data, key, path)
        if not isinstance(value, dict):
            self.fail(join(path, key), f"must be an object, got {kind(value)}")
        return value

    def array(self, data: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = self.get(data, key, path)
        if not isinstance(value, list):
            self.fail(join(path, key), f"must be a list, got {kind(value)}")
        return value

    def objects(self, data: Mapping[str, Any], key: str, path: str
                ) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i, item in enumerate(self.array(data, key, path)):
            where = f"{join(path, key)}[{i}]"
            if not isinstance(item, dict):
                self.fail(where, f"must be an object, got {kind(item)}")
            out.append((where, item))
        return out

    def number(self, data: Mapping[str, Any], key: str, path: str,
               optional: bool = False) -> float | None:
        value = self.get(data, key, path)
        if value is None and optional:
            return None
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value)):
            self.fail(join(path, key), f"must be a number{' or null' if optional else ''}, "
                      f"got {value!r}"[:200])
        return value

    def integer(self, data: Mapping[str, Any], key: str, path: str) -> int:
        value = self.get(data, key, path)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(join(path, key), f"must be a whole number, got {value!r}"[:200])
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str) -> str:
        value = self.get(data, key, path)
        if not isinstance(value, str):
            self.fail(join(path, key), f"must be text, got {kind(value)}")
        return value

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool:
        value = self.get(data, key, path)
        if not isinstance(value, bool):
            self.fail(join(path, key), f"must be true or false, got {value!r}"[:200])
        return value

    def make(self, path: str, build: Callable[..., T], data: Mapping[str, Any]) -> T:
        """``build(**data)``; a wrong or missing field is an error naming it."""
        try:
            return build(**data)
        except InputError as exc:
            same = path.rpartition(".")[2] == exc.field
            self.fail(path if same else join(path, exc.field), str(exc).partition(": ")[2])
        except TypeError as exc:  # a field missing, or one no greenml value has
            text = str(exc)
            missing = re.search(r"missing \d+ required .*?'(\w+)'", text)
            unknown = re.search(r"unexpected keyword argument '(\w+)'", text)
            if missing:
                self.fail(join(path, missing.group(1)), "missing")
            if unknown:
                self.fail(join(path, unknown.group(1)), "not a field this greenml knows")
            self.fail(path, text)
        except (ValueError, KeyError, AttributeError) as exc:
            self.fail(path, str(exc))


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null"}.get(
        type(value), type(value).__name__)
