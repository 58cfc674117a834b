"""One small exception tree: every error that reaches a user names what was wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from greenml.fleet.relax import Move
    from greenml.launch.types import Attempt, Resource


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


class LedgerError(GreenmlError):
    """The ledger cannot do what was asked: it is read-only, locked, or failed to write."""


class LedgerPathError(LedgerError, InputError):
    """The ledger's path is unusable (a directory, a device, not a greenml ledger); ``field``
    names where the path came from: ``ledger`` (``--ledger``), ``GREENML_LEDGER`` or
    ``GREENML_STATE_DIR``."""


class LedgerReadOnly(LedgerError):
    """A write to a ledger this process may only read; ``why`` says what stops the write."""

    def __init__(self, path: Path, why: str, doing: str = "") -> None:
        self.path, self.why = path, why
        prefix = f"{doing}: " if doing else ""
        super().__init__(f"{prefix}the ledger {path} is read-only ({why}); make it writable, "
                         f"or point --ledger or GREENML_LEDGER at a writable file")


class LedgerBusy(LedgerError):
    """Another process held the ledger's write lock for longer than ``busy_timeout_s``."""

    def __init__(self, path: Path, waited_s: float) -> None:
        self.path, self.waited_s = path, waited_s
        super().__init__(f"the ledger {path} is locked by another process (waited "
                         f"{waited_s:g} s): try again when the other greenml command finishes")


class LedgerWarning(UserWarning):
    """Something was done that the ledger could not record (``greenml down`` on a read-only
    ledger): the ledger still lists it, and the next writable run records it."""


class LaunchError(GreenmlError):
    """No option could be launched; ``attempts`` says what was tried and why each failed."""

    def __init__(self, message: str, attempts: Sequence[Attempt] = ()) -> None:
        self.attempts = tuple(attempts)
        if self.attempts:
            message += ": " + "; ".join(str(a) for a in self.attempts)
        super().__init__(message)


class RollbackFailed(LaunchError):
    """A gang member failed and the rollback could not remove what the gang had made.

    The launch stopped there (it creates nothing more while it could not remove what it
    made); ``left`` names what may still run, the ledger keeps it open under the launch's
    state "needs-down", and ``greenml down NAME`` (``greenml.down(name)``) removes it.
    """

    def __init__(self, name: str, message: str, left: Sequence[Resource],
                 attempts: Sequence[Attempt] = ()) -> None:
        self.name, self.left = name, tuple(left)
        super().__init__(message)
        self.attempts = tuple(attempts)


class DownIncomplete(GreenmlError):
    """``down`` could not take everything of a launch away: ``failures`` maps each provider
    that failed to one line saying why and what to do; ``removed`` is what was terminated
    elsewhere. The ledger keeps every row of the failing providers, so running ``down``
    again once the cause is fixed finds everything."""

    def __init__(self, name: str, removed: Sequence[Resource], failures: Mapping[str, str]
                 ) -> None:
        self.name, self.removed, self.failures = name, list(removed), dict(failures)
        super().__init__("; ".join(self.failures.values()))


def install(extra: str) -> str:
    """The command that installs one of greenml's optional extras."""
    return f"pip install 'greenml[{extra}]'"


class ExtraMissing(GreenmlError, ImportError):
    """An optional extra (pandas, matplotlib, the fleet solver) is not installed: ``what``
    needs it; the message names the pip command that installs ``extra`` (and ``why``, when
    given). Planning one job never needs one."""

    #: What the message says ``what`` needs; a subclass names its package.
    needs = "an optional extra"

    def __init__(self, what: str, extra: str, why: str = "") -> None:
        self.what, self.extra = what, extra
        detail = f" ({why})" if why else ""
        super().__init__(f"{what} needs {self.needs}: {install(extra)}{detail}")


class SolverMissing(ExtraMissing):
    """The HiGHS solver (the ``highspy`` package) is not installed: planning a fleet needs
    the optional extra, which single-job planning does not."""

    needs = "the HiGHS solver"

    def __init__(self, why: str = "") -> None:
        super().__init__("planning a fleet", "fleet", why)


class FleetInfeasible(NoFeasibleOption):
    """No placement meets every limit and deadline. ``moves`` is the smallest set of limits,
    deadlines, the budget or apart-groups that would have to change, each with by how much
    (found by the same solver, with a penalised slack on each); empty when even the slack
    program found none in its time."""

    def __init__(self, message: str, moves: Sequence[Move] = ()) -> None:
        self.moves = tuple(moves)
        if self.moves:
            message += "; the fewest changes that make it feasible: " + "; ".join(
                m.describe() for m in self.moves)
        super().__init__(message)


class QuotaWarning(UserWarning):
    """A provider's quotas could not be read (one line; the other providers still answer)."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name``, case-insensitively, for "did you mean" hints."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[m] for m in matches]
