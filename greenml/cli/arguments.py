"""How the command line spells a job: argument types that refuse bad values with the flag's
name, the job options every planning command shares, and the job they build."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from greenml.errors import InputError

#: Job fields whose command-line flag is not simply --field-name.
FLAGS = {
    "providers": "--provider", "countries": "--country", "not_countries": "--not-country",
    "regions": "--region", "not_regions": "--not-region", "not_accelerators": "--not-accelerator",
    "max_cost_usd": "--max-cost", "min_memory_gb": "--min-memory",
    "earliest_start": "--start-after", "deadline": "--finish-by", "settings": "--set",
    "carbon_sources": "--carbon-source", "source": "--source", "carbon_data": "--carbon-data",
    "carbon_deadline_s": "--carbon-deadline", "time_limit_s": "--time-limit",
}


def flag(field: str) -> str:
    """The command-line flag for a field named in an error; an environment variable, or a
    file's path with the place in it (``jobs.toml: job 'x'``), as is."""
    if field.isupper() or not field.isidentifier():
        return field
    return FLAGS.get(field, f"--{field.replace('_', '-')}")


def moment(name: str) -> Callable[[str], Any]:
    """A time option: ISO 8601 with a zone, ``now``, or ``+30m`` / ``+6h`` / ``+2d`` from now.

    ``+N`` reaches at most ``max_hours`` ahead (``greenml/data/defaults.csv``); ISO text is
    checked by ``Job``, which holds the same bound.
    """

    def parse(text: str) -> Any:
        import math
        from datetime import datetime, timedelta, timezone

        from greenml.job import bound

        text = text.strip()
        now = datetime.now(timezone.utc)
        if text.lower() == "now":
            return now
        if text.startswith("+") and text[-1:].lower() in ("m", "h", "d"):
            try:
                amount = float(text[1:-1])
            except ValueError:
                amount = math.nan
            if math.isnan(amount):
                raise argparse.ArgumentTypeError(
                    f"{name}: expected +N followed by m, h or d, got {text!r}")
            seconds = amount * {"m": 60, "h": 3600, "d": 86400}[text[-1].lower()]
            most = bound("max_hours")
            if not abs(seconds) <= most * 3600:
                raise argparse.ArgumentTypeError(
                    f"{name}: {text!r} is more than {most:,.0f} h ({most / 8760:g} years) "
                    "from now (max_hours in greenml/data/defaults.csv); accepted: an ISO 8601 "
                    "time with a zone, now, or +N followed by m, h or d within that")
            return now + timedelta(seconds=seconds)
        return text

    return parse


def positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}"
                                             ) from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be at least 1, got {text!r}")
        return value

    return parse


def number(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        import math

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, got {text!r}")
        return value

    return parse


DISABLE_PLUGIN_HELP = ("leave this installed plugin unloaded (entry-point or distribution name; "
                       "repeatable), e.g. a broken one; see also GREENML_DISABLE_PLUGINS")


def add_carbon_data_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--carbon-data", metavar="NAME",
                   help="annual grid-intensity dataset (default: the newest electricitymaps "
                        "year); e.g. electricitymaps-2023, google-2025")


def add_job_arguments(p: argparse.ArgumentParser) -> None:
    add_carbon_data_argument(p)
    p.add_argument("--accelerator", default="any",
                   help="accelerator name, a comma-separated list, or 'any'")
    p.add_argument("--count", type=positive_int("--count"), default=1,
                   help="number of accelerators")
    p.add_argument("--hours", type=number("--hours"), help="runtime on the named accelerator")
    p.add_argument("--flops", type=number("--flops"), help="total training FLOPs")
    p.add_argument("--utilization", type=number("--utilization"),
                   help="fraction of peak throughput for --flops (default in defaults.csv)")
    p.add_argument("--hours-on", help="accelerator --hours were measured on")
    p.add_argument("--provider", default="", help="comma-separated providers")
    p.add_argument("--country", default="", help="allowed ISO country codes, comma-separated")
    p.add_argument("--not-country", default="", help="denied ISO country codes")
    p.add_argument("--region", default="", help="allowed regions (name or provider/name)")
    p.add_argument("--not-region", default="", help="denied regions")
    p.add_argument("--not-accelerator", default="", help="accelerators to leave out")
    p.add_argument("--max-cost", type=number("--max-cost"), help="budget in USD")
    p.add_argument("--min-memory", type=number("--min-memory"),
                   help="minimum memory per accelerator, GB")
    p.add_argument("--spot", action="store_true", help="use spot/preemptible prices")


def add_ending_arguments(p: argparse.ArgumentParser) -> None:
    """How a launch's instances end: by themselves unless ``--keep``, and at the latest
    after ``--max-hours``."""
    p.add_argument("--keep", action="store_true",
                   help="leave the instances running when the command exits")
    p.add_argument("--max-hours", type=number("--max-hours"), metavar="H",
                   help="end the instances after H hours even if the command has not "
                        "finished (default: the plan's hours + 10%%, at least 0.5)")


def add_planning_arguments(p: argparse.ArgumentParser) -> None:
    """Every flag that shapes a plan: the job's (what, where) and when it may run and which
    carbon data ranks it. ``plan`` and ``launch`` both take exactly these, so anything that
    can be planned can be launched."""
    add_job_arguments(p)
    p.add_argument("--carbon-source", default="",
                   help="carbon sources to ask in order, comma-separated (default: embedded); "
                        "see 'greenml plugins'")
    p.add_argument("--carbon-deadline", type=number("--carbon-deadline"),
                   help="seconds each live carbon source may take in this plan, retries "
                        "included (default 30, GREENML_CARBON_DEADLINE_S)")
    p.add_argument("--start-after", type=moment("--start-after"),
                   help="earliest start: ISO time with zone (2026-05-01T18:00Z), now, or +6h")
    p.add_argument("--finish-by", type=moment("--finish-by"),
                   help="deadline the run must end by: ISO time with zone, or +2d")
    p.add_argument("--interruptible", action="store_true",
                   help="the job can pause and resume: run in the lowest-intensity slots")


def plan_from_args(args: argparse.Namespace) -> Any:
    """The plan the planning flags in ``args`` ask for."""
    from greenml.plan import plan

    return plan(job_from_args(args), carbon_sources=args.carbon_source or None,
                carbon_data=args.carbon_data, carbon_deadline_s=args.carbon_deadline)


def job_from_args(args: argparse.Namespace) -> Any:
    from greenml.job import Job

    return Job(
        accelerator=args.accelerator,
        count=args.count,
        hours=args.hours,
        flops=args.flops,
        utilization=args.utilization,
        hours_on=args.hours_on,
        providers=args.provider,
        countries=args.country,
        not_countries=args.not_country,
        regions=args.region,
        not_regions=args.not_region,
        not_accelerators=args.not_accelerator,
        max_cost_usd=args.max_cost,
        min_memory_gb=args.min_memory,
        spot=args.spot,
        earliest_start=getattr(args, "start_after", None),
        deadline=getattr(args, "finish_by", None),
        interruptible=getattr(args, "interruptible", False),
    )


def settings_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` pairs as a mapping (the providers check the keys)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError("set", f"expected KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def progress_printer(args: argparse.Namespace) -> Any:
    """Progress lines on stderr for a person at a terminal; none for --json, --quiet, a
    dry run, or a stderr that is a file or a pipe (scripts read the result, not the steps)."""
    if args.json or args.quiet or args.dry_run or not sys.stderr.isatty():
        return None
    from greenml.launch.progress import terminal_printer

    return terminal_printer(sys.stderr)


def given_planning_flags(args: argparse.Namespace, **more: Any) -> list[str]:
    """The job options given in ``args`` (and the options ``more`` names, with their
    defaults), as flags: what a command whose job comes from a file would ignore."""
    probe = argparse.ArgumentParser(add_help=False)
    add_planning_arguments(probe)
    defaults = {**vars(probe.parse_args([])), **more}
    return [flag(k) for k, v in defaults.items() if getattr(args, k, v) != v]
