"""``greenml quotas``: the GPU quotas the account really has, read from each cloud, in
accelerators; ``--save`` writes them as the ``[limits]`` table a fleet's job file takes.

A provider that fails is one line on stderr and the others still answer; the exit status is
1 when any failed, so a script never takes a partial answer for a whole one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from greenml.errors import InputError


def add_quotas_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("--provider", action="append", metavar="aws,gcp,azure",
                   help="only these providers, comma-separated or repeated (default: every "
                        "installed provider that can read quotas)")
    q.add_argument("--region", action="append", metavar="R",
                   help="only this region (repeat for more; default: every region with "
                        "offers)")
    q.add_argument("--save", metavar="FILE",
                   help="write the on-demand quotas as a [limits] table (TOML) for "
                        "greenml plan --jobs")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_quotas)


def cmd_quotas(args: argparse.Namespace) -> int:
    from greenml.fleet.quotas import limits_toml, read_each

    names = None if args.provider is None else [
        n.strip() for text in args.provider for n in text.split(",") if n.strip()]
    reading = read_each(names, args.region)
    for provider, problem in reading.problems.items():
        print(f"greenml: error: {provider}: cannot read quotas: {problem}", file=sys.stderr)
    if args.save:
        asked = ", ".join(p for p in reading.providers if p not in reading.problems)
        text = limits_toml(reading.quotas, f"GPU quotas of {asked or 'no provider'}, read "
                                           "by `greenml quotas`")
        try:
            Path(args.save).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError("save", f"cannot write {args.save}: {exc.strerror or exc}"
                             ) from None
    if args.json:
        from greenml.render import json_text

        print(json_text(reading.to_dict()))
    else:
        print(table(reading.quotas))
        if args.save:
            print(f"saved the on-demand quotas as [limits] to {args.save}")
    return 1 if reading.problems else 0


def table(quotas: Any) -> str:
    """One line per quota: provider, region, accelerator, on-demand or spot, limit, used."""
    rows = [("PROVIDER", "REGION", "ACCELERATOR", "KIND", "LIMIT", "USED", "SOURCE")]
    for q in quotas:
        rows.append((q.provider, q.region or "(all)", q.accelerator or "(any)",
                     "spot" if q.spot else "on-demand", str(q.limit),
                     "" if q.used is None else str(q.used), q.source))
    if len(rows) == 1:
        return "no GPU quotas found"
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)),
                                r[-1]]).rstrip() for r in rows)
