"""What a launch's run printed, read without SSH: ``greenml logs`` and the exit code that
``greenml status --refresh`` shows.

Each provider that declares ``Capability.LOGS`` reads an instance's console where its
platform keeps it (EC2 ``GetConsoleOutput``, Compute Engine serial port 1, Azure boot
diagnostics, a SLURM job's output file). greenml's boot script copies the run's output there
and ends with a ``greenml-exit=N`` line: the run's exit code, read from the text, so no
platform needs a place of its own for it. Every text passes through ``greenml.scrub`` first:
a secret the console echoes is masked before anyone sees it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import GreenmlError, InputError, closest
from greenml.launch.ledger import LaunchRecord, Ledger
from greenml.launch.types import Resource

if TYPE_CHECKING:
    from greenml.provider.contract import LaunchingProvider as Provider

#: Seconds between two reads of the consoles while following (``greenml logs --follow``).
ENV_INTERVAL_S = "GREENML_LOGS_INTERVAL_S"
DEFAULT_INTERVAL_S = 10.0
#: The line greenml's boot script writes when the run's command exits, anywhere in a line
#: (a console may put a timestamp or a cloud-init prefix before it).
EXIT_LINE = re.compile(r"greenml-exit=(\d{1,3})\b")
#: A console may keep only its latest part (EC2 keeps the last 64 KB): the first
#: ``ANCHOR_CHARS`` of a new read are looked for in what was shown, to show only what follows;
#: an overlap shorter than ``MIN_OVERLAP_CHARS`` counts as none (all of the read is new).
ANCHOR_CHARS = 64
MIN_OVERLAP_CHARS = 8


@attrs.frozen
class NodeLog:
    """What one member of a launch printed: ``node`` is its index in the gang (0 is the
    head), ``nodes`` how many the launch has; ``exit_code`` comes from the run's
    ``greenml-exit=N`` line, None while it runs (or where the console never got one)."""

    name: str
    node: int
    nodes: int
    resource: Resource
    text: str
    exit_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["resource"] = self.resource.to_dict()
        return data


def exit_code(text: str) -> int | None:
    """The exit code in the last ``greenml-exit=N`` line of ``text``, or None."""
    found = EXIT_LINE.findall(text)
    return int(found[-1]) if found else None


def interval_s() -> float:
    """``GREENML_LOGS_INTERVAL_S`` (default 10 s), how often ``--follow`` reads again."""
    from greenml.environment import number

    return number(ENV_INTERVAL_S, DEFAULT_INTERVAL_S, least=0.01, most=3600.0, unit="seconds")


def members(record: LaunchRecord) -> list[tuple[int, Resource]]:
    """(node index, resource) for each instance of ``record`` that may have a console, by
    index: the index from the name greenml gave it (``NAME-K``), else its place in the
    ledger. A NIC, disk or address of an instance is not a member; nor is a failed try."""
    own = re.compile(re.escape(record.name) + r"-(\d+)")
    found: dict[int, Resource] = {}
    rows = [r for r in record.resources if r.resource_id and r.state != "failed"
            and (r.kind == "instance" or own.fullmatch(r.name))]
    for place, r in enumerate(rows):
        named = own.fullmatch(r.name)
        found[int(named.group(1)) if named else place] = attrs.evolve(
            r, launch_id=r.launch_id or record.launch_id)
    return sorted(found.items())


def logs(name: str, *, node: int | None = None,
         ledger: Ledger | str | os.PathLike[str] | None = None,
         providers: Mapping[str, Provider] | None = None) -> list[NodeLog]:
    """What each member of the launch called ``name`` has printed so far (its newest launch
    under that name), or only member ``node``.

    Raises InputError for an unknown name (naming the closest) or node, and GreenmlError
    with one line when a provider cannot show logs or could not be read.
    """
    record, every, chosen = _chosen(name, node, ledger)
    providers = _providers(providers)
    return [NodeLog(record.name, index, len(every), r, *_read(r, providers))
            for index, r in chosen]


def follow(name: str, *, node: int | None = None,
           ledger: Ledger | str | os.PathLike[str] | None = None,
           providers: Mapping[str, Provider] | None = None, every_s: float | None = None,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[NodeLog]:
    """Like ``logs``, again every ``every_s`` (default ``GREENML_LOGS_INTERVAL_S``), each
    ``NodeLog`` carrying only text not yielded before, until every member read has printed
    its ``greenml-exit=`` line (or the caller stops iterating)."""
    wait_s = interval_s() if every_s is None else every_s
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)  # opened once, and
    providers = _providers(providers)  # the plugins' providers made once, for every read
    seen: dict[int, str] = {}
    while True:
        current = logs(name, node=node, ledger=book, providers=providers)
        for log in current:
            new = new_part(seen.get(log.node, ""), log.text)
            seen[log.node] = log.text
            if new:
                yield attrs.evolve(log, text=new)
        if current and all(log.exit_code is not None for log in current):
            return
        sleep(wait_s)


def new_part(seen: str, text: str) -> str:
    """What ``text`` adds to ``seen``: its end after ``seen``; where the console dropped its
    oldest part (``text`` starts inside ``seen``), what follows the longest end of ``seen``
    that ``text`` starts with; with no such overlap (of ``MIN_OVERLAP_CHARS`` or more), all
    of it."""
    if text.startswith(seen):
        return text[len(seen):]
    anchor = text[:ANCHOR_CHARS]
    at = seen.find(anchor)
    while at >= 0:  # the earliest place is the longest overlap
        rest = len(seen) - at
        if len(text) >= rest and seen.startswith(text[:rest], at):
            return text[rest:]
        at = seen.find(anchor, at + 1)
    for rest in range(min(len(anchor), len(seen)) - 1, MIN_OVERLAP_CHARS - 1, -1):
        if text.startswith(seen[-rest:]):
            return text[rest:]
    return text


def run_exit_code(record: LaunchRecord, providers: Mapping[str, Provider]) -> int | None:
    """The run's exit code as the consoles tell it (``status --refresh``): the first
    non-zero one among its members, else 0 once every member has one; None while unknown.
    A provider without ``logs``, or one that cannot answer, tells nothing: no error."""
    codes = []
    for _, r in members(record):
        provider = providers.get(r.provider)
        if provider is None or "logs" not in provider.capabilities:
            return None
        try:
            codes.append(exit_code(provider.console_output(r)))
        except Exception:  # the exit code is a courtesy: status still answers without it
            codes.append(None)
    failed = [c for c in codes if c]
    if failed:
        return failed[0]
    return 0 if codes and all(c == 0 for c in codes) else None


def _chosen(name: str, node: int | None, ledger: Ledger | str | os.PathLike[str] | None
            ) -> tuple[LaunchRecord, list[tuple[int, Resource]], list[tuple[int, Resource]]]:
    """The launch's newest record, every member, and the members asked for."""
    if not (isinstance(name, str) and name.strip()):
        raise InputError("name", f"must be a launch name, got {name!r}")
    if node is not None and (isinstance(node, bool) or not isinstance(node, int) or node < 0):
        raise InputError("node", f"must be a node index (0 is the head), got {node!r}")
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    records = book.launches(name=name)
    if not records:
        raise InputError("name", f"no launch named {name!r}", closest(name, book.names()))
    record = records[0]  # newest first: a name is reused only once its launch has ended
    every = members(record)
    if not every:
        raise GreenmlError(f"{name!r} has no instance to read logs from (the launch is "
                           f"{record.state}{': ' + record.reason if record.reason else ''})")
    chosen = [(i, r) for i, r in every if node is None or i == node]
    if not chosen:
        raise InputError("node", f"{name!r} has no node {node}; its nodes are "
                         f"{', '.join(str(i) for i, _ in every)}")
    return record, every, chosen


def _providers(providers: Mapping[str, Provider] | None) -> Mapping[str, Provider]:
    if providers is not None:
        if not isinstance(providers, Mapping):
            raise InputError("providers", f"must map provider names to providers, got "
                             f"{providers!r}")
        return providers
    from greenml.registry import installed_providers

    return installed_providers()


def _read(r: Resource, providers: Mapping[str, Provider]) -> tuple[str, int | None]:
    """(scrubbed console text, exit code) of one member; one-line GreenmlError otherwise."""
    from greenml.launch.problems import provider_problem
    from greenml.scrub import scrub

    provider = providers.get(r.provider)
    if provider is None:
        raise GreenmlError(f"{r.provider}: the plugin is not installed, was disabled, or "
                           "failed to load (see greenml plugins)")
    if "logs" not in provider.capabilities:
        raise GreenmlError(f"provider {r.provider!r} cannot show logs: it does not read its "
                           "instances' console output (no 'logs' capability)")
    try:
        text = scrub(provider.console_output(r))
    except GreenmlError:
        raise
    except Exception as exc:  # the provider's SDK: one line, what to do where it knows
        raise GreenmlError(f"{r.provider}: could not read the console of {r.resource_id}: "
                           f"{provider_problem(provider, exc)}") from exc
    return text, exit_code(text)
