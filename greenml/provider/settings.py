"""Typed provider settings: a provider declares an attrs class, greenml parses ``-o key=value``
into it once, before anything is created.

Each field is declared with ``setting(help=..., parse=...)``: the help is what ``greenml
providers`` and ``settings_help()`` show, ``parse`` turns the user's text into the field's
type. A key the class does not declare is refused naming the closest one, and a value its
``parse`` (or the field's attrs validator) refuses is refused naming the key, both as
``InputError("settings", ...)`` (``--set`` on the command line). Building the class from code
(``AWSSettings(subnet_id="subnet-1")``) takes typed values and parses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from greenml.errors import InputError, closest

T = TypeVar("T")

#: Where a field keeps its help line and its text parser.
HELP, PARSE = "greenml_help", "greenml_parse"


def setting(*, help: str, default: Any = "", parse: Callable[[str], Any] | None = None,
            validator: Any = None) -> Any:
    """One provider setting: an attrs field with its help and its parser from text.

    ``parse`` raises ValueError with a message a user can act on ("expected ..."); the
    default keeps the text, stripped.
    """
    return attrs.field(default=default, validator=validator,
                       metadata={HELP: help, PARSE: parse or text})


def text(raw: str) -> str:
    """The text as given, without surrounding blanks."""
    return raw.strip()


def boolean(raw: str) -> bool:
    """true/false, yes/no or 1/0, in any case."""
    value = raw.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"expected true or false, got {value!r}")
    return value in ("true", "yes", "1")


def positive_number(raw: str) -> float:
    """A finite number above zero."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a positive number, got {raw!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def comma_list(raw: str) -> tuple[str, ...]:
    """Comma-separated words, blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def fields(settings_type: type[Any]) -> tuple[attrs.Attribute[Any], ...]:
    """The settings a class declares (every attrs field is one)."""
    return tuple(attrs.fields(settings_type))


def settings_help(settings_type: type[Any] | None) -> dict[str, str]:
    """Each setting's name and help line, from the class's field metadata."""
    if settings_type is None:
        return {}
    return {f.name: str(f.metadata.get(HELP) or f.name.replace("_", " ")) for f in
            fields(settings_type)}


def parse_settings(settings_type: type[T], values: Mapping[str, Any], *, provider: str = "",
                   names: Mapping[str, str] | None = None) -> T:
    """``values`` (setting name to text) as an instance of ``settings_type``.

    ``names`` gives the key as the user wrote it (``gcp.boot_disk_gb``), for messages; by
    default ``provider.key`` when ``provider`` is given for an unknown key, the key itself
    for a bad value.
    """
    by_name = {f.name: f for f in fields(settings_type)}
    names = names or {}
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        field = by_name.get(key)
        shown = names.get(key, key)
        if field is None:
            prefix = f"{provider}." if provider else ""
            takes = (f"{provider or 'it'} takes {', '.join(sorted(by_name))}" if by_name
                     else f"{provider or 'it'} takes no settings")
            raise InputError("settings", f"unknown setting {prefix + key!r}: {takes}",
                             [prefix + k for k in closest(key, by_name, n=1)])
        if not isinstance(raw, str):
            raise InputError("settings", f"{shown}: the value must be text, got {raw!r}")
        try:
            value = field.metadata.get(PARSE, text)(raw)
            if field.validator is not None:
                field.validator(None, field, value)
        except (ValueError, TypeError) as exc:
            raise InputError("settings", f"{shown}: {exc}") from None
        parsed[key] = value
    return settings_type(**parsed)


def check_settings(settings: Any, providers: Mapping[str, Any]) -> dict[str, str]:
    """The launch settings, checked before anything is created.

    ``settings`` maps keys to text: a plain ``key`` must be declared by some provider's
    ``settings_help()``, ``provider.key`` by that provider's. An unknown key (or provider)
    is an InputError naming the setting and the closest known one. Each provider with a
    ``settings_type`` then parses its keys into it (once: ``typed_settings`` keeps it), so a
    bad value is an InputError naming the key as written, before anything is created.
    """
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise InputError("settings", "must map setting names to text, e.g. "
                         f"{{'aws.subnet_id': 'subnet-1'}}, got {type(settings).__name__} "
                         f"{settings!r}"[:200])
    declared = {name: _declared(p) for name, p in providers.items()}
    every = sorted({key for keys in declared.values() for key in keys})
    for key, value in settings.items():
        if not isinstance(key, str) or not key.strip():
            raise InputError("settings", f"a setting's name must be non-empty text, got {key!r}")
        if not isinstance(value, str):
            raise InputError("settings", f"{key}: the value must be text, got {value!r}")
        provider, dot, name = key.partition(".")
        if not dot:
            if key not in every:
                raise InputError("settings", f"unknown setting {key!r}: no installed provider "
                                 "takes it", closest(key, every, n=1))
        elif provider not in declared:
            hints = [f"{p}.{name}" for p in closest(provider, declared, n=1)]
            raise InputError("settings", f"{key}: unknown provider {provider!r}; installed: "
                             f"{', '.join(sorted(declared)) or 'none'}", hints)
        elif name not in declared[provider]:
            known = declared[provider]
            takes = f"{provider} takes {', '.join(sorted(known))}" if known else (
                f"{provider} takes no settings")
            raise InputError("settings", f"unknown setting {key!r}: {takes}",
                             [f"{provider}.{k}" for k in closest(name, known, n=1)])
    for name, provider in providers.items():
        if getattr(provider, "settings_type", None) is not None:
            values, names = _mine(name, declared[name], settings)
            provider.typed_settings(values, names)
    return dict(settings)


def _mine(provider: str, declared: frozenset[str], settings: Mapping[str, str]
          ) -> tuple[dict[str, str], dict[str, str]]:
    """The keys one provider takes, without their prefix (``provider.key`` over a plain
    ``key``, as ``greenml.launch.loop.provider_settings`` merges them), and how each was
    written."""
    values: dict[str, str] = {}
    names: dict[str, str] = {}
    prefix = f"{provider}."
    for key, value in settings.items():
        if "." not in key and key in declared:
            values[key], names[key] = value, key
    for key, value in settings.items():
        if key.startswith(prefix):
            values[key[len(prefix):]], names[key[len(prefix):]] = value, key
    return values, names


def _declared(provider: Any) -> frozenset[str]:
    """The setting names ``provider`` declares; none when its ``settings_help`` is broken."""
    try:
        return frozenset(str(k) for k in provider.settings_help())
    except Exception:  # a plugin's bug must not make every launch fail; its keys are refused
        return frozenset()
