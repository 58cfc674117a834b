"""The commands about launches that exist: status (what runs, from the ledger and the clouds) and
down (take a launch's resources away)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from greenml.errors import InputError
from greenml.render import json_text

if TYPE_CHECKING:
    from greenml.launch.ledger import LaunchRecord
    from greenml.launch.types import Resource


def cmd_status(args: argparse.Namespace) -> int:
    from greenml.launch.running import status
    from greenml.render import table

    records = status(args.name, ledger=args.ledger, all_launches=args.all,
                     refresh=args.refresh)
    if args.json:
        print(json_text([r.to_dict() for r in records]))
        return _say_unknown(records)
    if not records:
        print("no live launches" + ("" if args.all else " (--all shows the rest)"))
        return 0
    import time

    rows = []
    for r in records:
        live = [x for x in r.resources if x.state == "created"]
        rows.append([r.name, r.state + (" (kept)" if r.kept else ""),
                     f"{r.provider or '?'}/{r.region or '?'}",
                     r.instance_type or "", f"{len(live)}/{len(r.resources)}",
                     "" if r.planned_co2e_kg is None else f"{r.planned_co2e_kg:,.1f}",
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
                     r.launch_id] + ([_live_summary(r.resources),
                                      "" if r.exit_code is None else str(r.exit_code)]
                                     if args.refresh else []))
    print(table(["name", "state", "where", "instance type", "running", "planned kg CO2e",
                 "created", "launch id"] + (["live", "exit"] if args.refresh else []), rows,
                right={4, 5}))
    return _say_unknown(records)


def _say_unknown(records: Sequence[LaunchRecord]) -> int:
    """One stderr line per provider that could not answer, with its reason; 1 if any."""
    from greenml.scrub import scrub

    said: dict[str, str] = {}
    for r in records:
        for x in r.resources:
            if x.live_state.startswith("unknown"):
                said.setdefault(x.provider, x.live_state)
    for provider, why in sorted(said.items()):
        print(f"greenml status: {provider}: {scrub(' '.join(why.split()))}", file=sys.stderr)
    return 1 if said else 0


def _live_summary(resources: Sequence[Resource]) -> str:
    """``RUNNING``, or ``running 2, gone 1``: what the providers said, most frequent first."""
    from collections import Counter

    said = Counter("unknown" if x.live_state.startswith("unknown") else x.live_state
                   for x in resources if x.live_state)
    if len(said) == 1:
        return next(iter(said))
    return ", ".join(f"{state} {n}" for state, n in said.most_common())


def cmd_down(args: argparse.Namespace) -> int:
    from greenml.launch.running import down

    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError("yes", f"refusing to terminate {args.name!r} without "
                             "confirmation: pass --yes")
        answer = input(f"terminate everything launched as {args.name!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing terminated")
            return 1
    from greenml.errors import DownIncomplete
    from greenml.scrub import scrub

    failures: dict[str, str] = {}
    try:
        removed = down(args.name, ledger=args.ledger)
    except DownIncomplete as incomplete:  # the others' part is gone: say both
        removed, failures = incomplete.removed, incomplete.failures
    if args.json:
        print(json_text([r.to_dict() for r in removed]))
    else:
        if not removed and not failures:
            print(f"{args.name}: nothing left to terminate")
        for r in removed:
            print(f"terminated {r.provider} {r.kind} {r.resource_id} in {r.region}")
    for _, why in sorted(failures.items()):  # one line per provider, with what to do
        print(f"greenml: error: {scrub(' '.join(why.split()))}", file=sys.stderr)
    return 1 if failures else 0
