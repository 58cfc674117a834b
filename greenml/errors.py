"""One small exception tree: every error that reaches a user names what was wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class GreenmlError(Exception):
    """Base of every error greenml raises on purpose."""


class InputError(GreenmlError, ValueError):
    """A value given by the user is not acceptable; ``field`` names it."""

    def __init__(self, field: str, message: str, suggestions: Sequence[str] = ()) -> None:
        self.field = field
        self.suggestions = tuple(suggestions)
        text = f"{field}: {message}"
        if self.suggestions:
            text += f" (did you mean {', '.join(repr(s) for s in self.suggestions)}?)"
        super().__init__(text)


class NoFeasibleOption(GreenmlError):
    """Nothing the catalog offers satisfies the job; ``excluded`` says why, group by group."""

    def __init__(self, message: str, excluded: Sequence[object] = ()) -> None:
        self.excluded = tuple(excluded)
        super().__init__(message)


class PluginError(GreenmlError):
    """A plugin broke the contract (bad data, duplicate provider name, failing import)."""


class CatalogError(GreenmlError):
    """Package data is malformed: names the file, the line and the field."""


class ConfigError(CatalogError):
    """What the user configured for a plugin is wrong: a file (an on-prem inventory, named
    with its line and field) or an environment variable (named) is malformed or refers to
    something that does not exist.

    A plugin raises it to say "the user's own configuration is wrong": the catalog lets it
    through to the user (exit 2) instead of recording it as the plugin's problem, because no
    plan can be right while it stands. Anything else a plugin raises stays isolated.
    """


class CarbonSourceError(GreenmlError):
    """A carbon-intensity source could not answer: unreachable, refused, or bad data.

    ``scope`` is "source" when every region would fail the same way (the service is down, the
    credentials are refused), so a plan stops asking it, or "region" when only this region
    failed. The message never carries a key, token or password.
    """

    def __init__(self, source: str, message: str, scope: str = "source") -> None:
        self.source = source
        self.scope = scope
        super().__init__(f"{source}: {message}")


class CarbonDataWarning(UserWarning):
    """A carbon-intensity response was rejected (malformed, partial, null, wrong units)."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name``, case-insensitively, for "did you mean" hints."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[m] for m in matches]
