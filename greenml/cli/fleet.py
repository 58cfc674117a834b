"""``greenml plan --jobs jobs.toml``: plan a fleet from a job file; ``greenml launch --jobs
jobs.toml``: plan it and launch each job at its placement.

Kept apart from the single-job ``plan`` so that its imports (the solver) load only when a
job file is given. Bad input exits 2 with one line naming the file, the job or the limit;
an infeasible fleet exits 1 after naming the fewest limits or deadlines to move, and so
does a fleet launch in which some job could not be launched.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenml.cli.arguments import number
from greenml.errors import InputError


def add_fleet_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``greenml plan`` takes for a fleet (it has ``--json`` already)."""
    p.add_argument("--jobs", metavar="FILE",
                   help="plan a fleet: a TOML job file of [[job]] tables, [limits] and "
                        "budget_usd (see docs/fleet.md); needs pip install 'greenml[fleet]'")
    p.add_argument("--weigh", metavar="co2=1,usd=0.1",
                   help="with --jobs: minimise a weighted sum of kg CO2e and USD instead of "
                        "kg CO2e alone")
    p.add_argument("--time-limit", type=number("--time-limit"), default=30.0, metavar="S",
                   help="with --jobs: seconds the solver may take (default 30)")


def add_fleet_launch_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``greenml launch`` takes for a fleet: those of ``plan`` and a prefix."""
    add_fleet_arguments(p)
    p.add_argument("--name-prefix", default="fleet", metavar="PREFIX",
                   help="with --jobs: each job launches as PREFIX-JOBNAME (default fleet)")


def cmd_fleet(args: argparse.Namespace) -> int:
    from greenml.cli.arguments import given_planning_flags

    given = given_planning_flags(args, top=10, explain=False, save=None, statement=None,
                                 chart=None, export=None, run=None)
    if given:
        raise InputError("jobs", f"the jobs come from {args.jobs}: leave out "
                         f"{', '.join(given)} (they are for one job's plan)")
    fleet = _planned(args)
    if isinstance(fleet, int):
        return fleet
    print(fleet.to_json() if getattr(args, "json", False) else fleet.table())
    return 0


def cmd_fleet_launch(args: argparse.Namespace) -> int:
    """Plan the job file's fleet and launch it: exit 0 when every job launched (or a dry
    run found a launchable option for each), 1 when some job failed, 2 on bad input."""
    from greenml.cli.arguments import progress_printer, settings_pairs
    from greenml.fleet.launching import launch_fleet

    _refuse_single_job_options(args)
    settings = settings_pairs(args.settings)
    fleet = _planned(args)
    if isinstance(fleet, int):
        return fleet
    result = launch_fleet(fleet, run=args.run, name_prefix=args.name_prefix,
                          dry_run=args.dry_run, settings=settings, ledger=args.ledger,
                          progress=progress_printer(args), keep=args.keep, max_hours=args.max_hours)
    print(result.to_json() if args.json else result.table())
    return 0 if result.ok else 1


def _refuse_single_job_options(args: argparse.Namespace) -> None:
    """The jobs come from the file: a job option, --name or --plan would be ignored."""
    from greenml.cli.arguments import given_planning_flags

    given = given_planning_flags(args, name=None, plan=None, replan=False)
    if given:
        raise InputError("jobs", f"the jobs come from {args.jobs}: leave out "
                         f"{', '.join(given)} (each job launches as --name-prefix-JOBNAME)")


def _planned(args: argparse.Namespace) -> Any:
    """The job file's fleet, or the exit code after saying why there is none."""
    from greenml.errors import FleetInfeasible
    from greenml.fleet.jobs import read_jobs
    from greenml.fleet.planning import plan_fleet

    try:  # an InputError names the file (and the place in it) or the option: main says it
        fleet = plan_fleet(read_jobs(args.jobs), weigh=args.weigh,
                           time_limit_s=args.time_limit)
    except FleetInfeasible as exc:
        if getattr(args, "json", False):
            from greenml.render import json_text

            print(json_text({"feasible": False, "message": str(exc),
                             "moves": [m.to_dict() for m in exc.moves]}))
        else:
            print(f"greenml: no placement of {args.jobs} meets every limit and deadline",
                  file=sys.stderr)
            for move in exc.moves:
                print(f"  {move.describe()}", file=sys.stderr)
        return 1
    return fleet
