"""``greenml logs NAME``: what a launch's run printed, read from the platform (no SSH); with
``--follow``, what it prints next, until the run's exit line."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from greenml.render import json_text

if TYPE_CHECKING:
    from greenml.launch.logs import NodeLog


def node_index(text: str) -> int:
    """``--node K``: a gang member's index, 0 for the head."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--node must be a whole number, got {text!r}"
                                         ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--node must be 0 or more, got {text!r}")
    return value


def add_logs_arguments(lg: argparse.ArgumentParser) -> None:
    lg.add_argument("name", help="the launch's name")
    lg.add_argument("--follow", "-f", action="store_true",
                    help="keep reading and print new output until the run exits (Ctrl-C "
                         "stops; GREENML_LOGS_INTERVAL_S sets how often, default 10)")
    lg.add_argument("--node", type=node_index, metavar="K",
                    help="only gang member K (0 is the head); default: every member, each "
                         "line prefixed with its node when there are several")
    lg.add_argument("--ledger")
    lg.add_argument("--json", action="store_true",
                    help="JSON: a list of nodes; with --follow, one object per line per read")
    lg.set_defaults(handler=cmd_logs)


def cmd_logs(args: argparse.Namespace) -> int:
    from greenml.launch.logs import follow, logs

    if not args.follow:
        found = logs(args.name, node=args.node, ledger=args.ledger)
        if args.json:
            print(json_text([log.to_dict() for log in found]))
            return 0
        lines = _Lines(prefixed=args.node is None and len(found) > 1)
        for log in found:
            lines.add(log)
        lines.flush()
        return 0
    lines = _Lines(prefixed=False)
    try:
        for log in follow(args.name, node=args.node, ledger=args.ledger):
            if args.json:
                print(json_text(log.to_dict(), indent=None), flush=True)
                continue
            lines.prefixed = args.node is None and log.nodes > 1
            lines.add(log)
    except KeyboardInterrupt:  # the way to stop following: no error line
        lines.flush()
        return 130
    lines.flush()
    return 0


class _Lines:
    """Writes each member's text to stdout; with ``prefixed``, line by line, each prefixed
    with its node (a line not yet ended waits for its end, so members never mix in it)."""

    def __init__(self, prefixed: bool) -> None:
        self.prefixed = prefixed
        self._pending: dict[int, str] = {}
        self._open = False  # the last text written did not end its line

    def add(self, log: NodeLog) -> None:
        if not self.prefixed:
            if log.text:
                sys.stdout.write(log.text)
                self._open = not log.text.endswith("\n")
            sys.stdout.flush()
            return
        text = self._pending.pop(log.node, "") + log.text
        done, _, rest = text.rpartition("\n")
        if rest:
            self._pending[log.node] = rest
        for line in done.split("\n") if done or text.endswith("\n") else []:
            print(f"[node {log.node}] {line}")
        sys.stdout.flush()

    def flush(self) -> None:
        """Whatever is left: unended lines, and an end to the last line written."""
        for node, rest in sorted(self._pending.items()):
            print(f"[node {node}] {rest}")
        self._pending.clear()
        if self._open:
            print()
            self._open = False
        sys.stdout.flush()
