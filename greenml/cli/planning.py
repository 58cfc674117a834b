"""The commands that plan and launch: plan (optionally saved to a file) and launch (a fresh plan,
or a saved one exactly as reviewed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenml.cli.arguments import (
    given_planning_flags,
    plan_from_args,
    progress_printer,
    settings_pairs,
)
from greenml.errors import InputError
from greenml.render import json_text


def cmd_plan(args: argparse.Namespace) -> int:
    from greenml.cli.outputs import check_output_arguments, write_outputs

    check_output_arguments(args)  # before planning: a bad flag costs no time
    if args.jobs:
        from greenml.cli.fleet import cmd_fleet

        return cmd_fleet(args)
    result = plan_from_args(args)
    if args.save:
        _save(result, args.save)
    if write_outputs(result, args):  # --statement, --export: stdout; --chart: a file
        return 0
    if args.json:
        print(result.to_json(top=args.top))
        return 0
    print(result.table(args.top))
    if args.explain:
        print()
        print(result.best.explain())
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    if getattr(args, "jobs", None):  # a fleet: every job of the file, at its placement
        from greenml.cli.fleet import cmd_fleet_launch

        return cmd_fleet_launch(args)
    for option in ("name", "run"):
        if not getattr(args, option):
            raise InputError(option, "required (or --jobs FILE to launch a fleet)")
    from greenml.launch.loop import check_name, launch_plan

    check_name(args.name)
    settings = settings_pairs(args.settings)
    if settings:  # refuse an unknown key before planning (provision checks again)
        from greenml.provider import check_settings
        from greenml.registry import default_catalog

        check_settings(settings, default_catalog().providers)
    if args.plan:
        result = _saved_plan(args)
    elif args.replan:
        raise InputError("replan", "only with --plan FILE (a plan saved by greenml plan --save)")
    else:
        result = plan_from_args(args)
    if not args.json:
        for note in result.notes:  # live data that fell back, a window that saved nothing
            print(f"greenml: note: {note}", file=sys.stderr)
    launch = launch_plan(result, name=args.name, run=args.run, dry_run=args.dry_run,
                         settings=settings, ledger=args.ledger, progress=progress_printer(args),
                         keep=args.keep, max_hours=args.max_hours)
    if args.json:
        print(json_text(launch.to_dict()))
        return 0
    if launch.dry_run:
        print(launch.description)
        return 0
    o = launch.option
    assert o is not None
    for attempt in launch.attempts[:-1]:
        print(f"tried {attempt}")
    print(f"launched {launch.name!r} ({launch.launch_id}): {len(launch.instances)} x "
          f"{o.offer.instance_type} on {o.provider} in {o.region.name}; planned "
          f"{o.estimate.co2e_kg:,.1f} kg CO2e over {o.estimate.hours:,.1f} h")
    for r in launch.instances:
        print(f"  {r.resource_id}  {r.zone or r.region}  {r.name}")
    return 0


def _save(result: Any, path: str) -> None:
    """Write the whole plan to ``path`` (via a temporary file: never half a plan)."""
    from pathlib import Path

    target = Path(path)
    text = result.to_json()
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_text(text + "\n", encoding="utf-8")
        temporary.replace(target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError("save", f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"greenml: saved the plan ({len(result)} options) to {path}; launch it with: "
          f"greenml launch --plan {path} --name NAME --run CMD", file=sys.stderr)


def _saved_plan(args: argparse.Namespace) -> Any:
    """The plan saved in ``args.plan``; a stale one is refused by the launch, or with
    ``--replan`` its job is planned again on the installed catalog, saying so."""
    from pathlib import Path

    from greenml.plan.result import Plan

    given = given_planning_flags(args)
    if given:
        raise InputError("plan", f"the job comes from {args.plan}: leave out "
                         f"{', '.join(given)}, or plan anew without --plan")
    try:
        text = Path(args.plan).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError("plan", f"cannot read {args.plan}: {why}") from None
    saved = Plan.from_json(text, source=args.plan)
    why = saved.stale() if args.replan else ""
    if not why:
        return saved  # the launch checks it is current
    from greenml.plan.compute import replan

    fresh, was = replan(saved), saved.best
    now = fresh.best
    print(f"greenml: {why}; --replan: planned its job again on the installed catalog: best "
          f"{now.provider}/{now.region.name} {now.offer.instance_type} "
          f"({now.estimate.co2e_kg:,.1f} kg CO2e; saved best {was.provider}/{was.region.name} "
          f"{was.offer.instance_type}, {was.estimate.co2e_kg:,.1f} kg)", file=sys.stderr)
    return fresh
