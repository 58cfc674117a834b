"""``greenml track [--region R] -- CMD ...``: run CMD here, measure its energy with greenml's
sampler, and price it with the region's PUE and grid intensity."""

from __future__ import annotations

import argparse
import shutil
import sys

from greenml.cli.arguments import number


def add_track_arguments(tr: argparse.ArgumentParser) -> None:
    tr.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD",
                    help="the command to run, after --")
    tr.add_argument("--region", help="price the energy with this region's (or on-prem "
                                     "site's) PUE and grid intensity")
    tr.add_argument("--provider", help="the region's provider, where region names repeat")
    tr.add_argument("--interval-s", type=number("--interval-s"), default=None, metavar="S",
                    help="seconds between readings (default 1)")
    tr.add_argument("--record", metavar="FILE",
                    help="also write the record (JSON, one line) to FILE, for greenml report "
                         "--measured")
    tr.add_argument("--json", action="store_true",
                    help="print the record as JSON on stdout after the command (the summary "
                         "goes to stderr otherwise)")
    tr.set_defaults(handler=cmd_track)


def cmd_track(args: argparse.Namespace) -> int:
    from greenml.errors import InputError
    from greenml.measure.sampler import Sampler, run_command, write_record
    from greenml.measure.track import Tracker, summary
    from greenml.render import json_text

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise InputError("command", "give the command to run after --, e.g. greenml track -- "
                                    "python train.py")
    if shutil.which(command[0]) is None:  # refused here, in one line, before measuring
        raise InputError("command", f"cannot run {command[0]!r}: no such executable file "
                                    "(on PATH, or at that path)")
    tracker = Tracker(args.region, args.provider, interval_s=args.interval_s)
    code, measured = run_command(command, Sampler(tracker.interval_s))
    record = tracker.finish(measured)
    if args.record:
        write_record(record, args.record)
    if args.json:
        print(json_text(record))
    else:
        print(summary(record), file=sys.stderr)
    return code
