"""The ``greenml`` command: readable tables on a terminal, ``--json`` everywhere.

Bad input exits 2 with one line that names the option; nothing prints a traceback
unless ``GREENML_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from greenml.errors import GreenmlError, InputError, NoFeasibleOption
from greenml.render import json_text

if TYPE_CHECKING:
    from greenml.launch.types import Resource


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of printing the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def main(argv: Sequence[str] | None = None) -> int:
    _OneBlasThread.install()
    import warnings

    with warnings.catch_warnings():
        _one_line_warnings()
        return _main(argv)


class _OneBlasThread:
    """Sets ``OPENBLAS_NUM_THREADS=1`` while numpy loads, where the user has not set it.

    greenml does no linear algebra, and OpenBLAS starting a thread per core as numpy loads
    costs about 50 ms of every command. OpenBLAS reads the variable once, as it loads, so it
    is removed right after: nothing the command starts inherits it (``sbatch`` exports the
    environment to the training job, whose BLAS keeps its threads). Only the ``greenml``
    command installs this (a finder in ``sys.meta_path`` until numpy is found), never the
    library.
    """

    VARIABLE = "OPENBLAS_NUM_THREADS"

    @classmethod
    def install(cls) -> None:
        if (cls.VARIABLE not in os.environ and "numpy" not in sys.modules
                and not any(isinstance(f, cls) for f in sys.meta_path)):
            sys.meta_path.insert(0, cls())

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "numpy":
            return None
        sys.meta_path.remove(self)
        from importlib.util import find_spec

        spec = find_spec(name)
        loader: Any = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            os.environ[self.VARIABLE] = "1"
            try:
                run(module)
            finally:
                os.environ.pop(self.VARIABLE, None)
                del loader.exec_module

        loader.exec_module = exec_module
        return spec


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        off = [*args.disable_plugin_global, *getattr(args, "disable_plugin", [])]
        if off:
            from greenml import plugins

            plugins.disable(off)
        return int(args.handler(args) or 0)
    except UsageError as exc:
        return _fail(str(exc))
    except InputError as exc:
        return _fail(f"{flag(exc.field)}: {str(exc).partition(': ')[2]}")
    except NoFeasibleOption as exc:
        return _fail(str(exc))
    except GreenmlError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("GREENML_DEBUG"):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (GREENML_DEBUG=1 shows more)",
                     1)


#: Job fields whose command-line flag is not simply --field-name.
FLAGS = {
    "providers": "--provider", "countries": "--country", "not_countries": "--not-country",
    "regions": "--region", "not_regions": "--not-region", "not_accelerators": "--not-accelerator",
    "max_cost_usd": "--max-cost", "min_memory_gb": "--min-memory",
    "earliest_start": "--start-after", "deadline": "--finish-by", "settings": "--set",
    "carbon_sources": "--carbon-source", "source": "--source", "carbon_data": "--carbon-data",
    "carbon_deadline_s": "--carbon-deadline",
}


def flag(field: str) -> str:
    """The command-line flag for a field named in an error (an environment variable as is)."""
    if field.isupper():
        return field
    return FLAGS.get(field, f"--{field.replace('_', '-')}")


def _one_line_warnings() -> None:
    """Show greenml's own warnings (a rejected carbon response) as one line each."""
    import warnings

    from greenml.errors import CarbonDataWarning

    default = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        from greenml.errors import LedgerWarning  # a down the ledger could not record

        if issubclass(category, (CarbonDataWarning, LedgerWarning)):
            print(f"greenml: warning: {' '.join(str(message).split())}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _moment(name: str) -> Callable[[str], Any]:
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


def _fail(message: str, code: int = 2) -> int:
    """The one error line; every configured secret is masked in it, whoever wrote it."""
    from greenml.scrub import scrub

    print(f"greenml: error: {scrub(' '.join(message.split()))}", file=sys.stderr)
    return code


def _positive_int(name: str) -> Callable[[str], int]:
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


def _number(name: str) -> Callable[[str], float]:
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


def build_parser() -> Parser:
    parser = Parser(prog="greenml", description="Plan ML training where it emits the least.")
    from greenml import __version__

    parser.add_argument("--version", action="version", version=f"greenml {__version__}")
    parser.add_argument("--disable-plugin", dest="disable_plugin_global", action="append",
                        default=[], metavar="NAME", help=DISABLE_PLUGIN_HELP)
    sub = parser.add_subparsers(title="commands", parser_class=Parser)

    p = sub.add_parser("plan", help="rank every option for a training job by kg CO2e")
    add_job_arguments(p)
    p.add_argument("--top", type=_positive_int("--top"), default=10,
                   help="options to show (default 10)")
    p.add_argument("--explain", action="store_true",
                   help="show the inputs and sources behind the best option")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--save", metavar="FILE",
                   help="also write the whole plan (every option, JSON) to FILE, to launch "
                        "as reviewed later: greenml launch --plan FILE")
    p.add_argument("--carbon-source", default="",
                   help="carbon sources to ask in order, comma-separated (default: embedded); "
                        "see 'greenml plugins'")
    p.add_argument("--carbon-deadline", type=_number("--carbon-deadline"),
                   help="seconds each live carbon source may take in this plan, retries "
                        "included (default 30, GREENML_CARBON_DEADLINE_S)")
    p.add_argument("--start-after", type=_moment("--start-after"),
                   help="earliest start: ISO time with zone (2026-05-01T18:00Z), now, or +6h")
    p.add_argument("--finish-by", type=_moment("--finish-by"),
                   help="deadline the run must end by: ISO time with zone, or +2d")
    p.add_argument("--interruptible", action="store_true",
                   help="the job can pause and resume: run in the lowest-intensity slots")
    p.set_defaults(handler=cmd_plan)

    ci = sub.add_parser("intensity", help="the carbon intensity of a region, now or forecast")
    ci.add_argument("region", help="region name or provider/name")
    ci.add_argument("--provider", default="", help="provider, where names repeat")
    ci.add_argument("--forecast", action="store_true", help="show the forecast readings")
    ci.add_argument("--source", default="",
                    help="sources to ask, comma-separated (default: every installed source)")
    ci.add_argument("--json", action="store_true")
    ci.set_defaults(handler=cmd_intensity)

    r = sub.add_parser("regions", help="list the regions greenml knows")
    r.add_argument("--provider", help="only this provider")
    add_carbon_data_argument(r)
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=cmd_regions)

    a = sub.add_parser("accelerators", help="list the accelerators greenml knows")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_accelerators)

    launch = sub.add_parser("launch", help="plan a job and provision its greenest option")
    add_job_arguments(launch)
    launch.add_argument("--name", required=True, help="a name for the launch (lower-case)")
    launch.add_argument("--run", required=True, help="the command to run on the instances")
    launch.add_argument("--dry-run", action="store_true",
                        help="print what would be created; create nothing")
    launch.add_argument("--plan", metavar="FILE",
                        help="launch a plan saved by greenml plan --save: its options, in "
                             "their order (the job comes from the file)")
    launch.add_argument("--replan", action="store_true",
                        help="with --plan: if the installed catalog or dataset changed since "
                             "the plan was saved, plan its job again and launch that")
    launch.add_argument("-o", "--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="provider setting, e.g. key_name=mykey or aws.subnet_id=subnet-1")
    launch.add_argument("--ledger", help="ledger file (default: $GREENML_LEDGER or the user's "
                        "state directory)")
    launch.add_argument("--json", action="store_true")
    launch.set_defaults(handler=cmd_launch)

    st = sub.add_parser("status", help="list launches and their resources")
    st.add_argument("name", nargs="?", help="only launches with this name")
    st.add_argument("--all", action="store_true", help="include launches that are down or failed")
    st.add_argument("--refresh", action="store_true",
                    help="ask each provider what became of the resources (squeue/sacct for "
                         "SLURM, the cloud's API otherwise); without it, only the ledger is read")
    st.add_argument("--ledger")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_status)

    dn = sub.add_parser("down", help="terminate everything a launch created")
    dn.add_argument("name")
    dn.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    dn.add_argument("--ledger")
    dn.add_argument("--json", action="store_true")
    dn.set_defaults(handler=cmd_down)

    g = sub.add_parser("plugins", help="list installed plugins and any that failed to load")
    g.add_argument("--json", action="store_true")
    g.set_defaults(handler=cmd_plugins)
    for command in sub.choices.values():  # also after the command: greenml down X --disable-...
        command.add_argument("--disable-plugin", action="append", default=[], metavar="NAME",
                             help=DISABLE_PLUGIN_HELP)
    return parser


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
    p.add_argument("--count", type=_positive_int("--count"), default=1,
                   help="number of accelerators")
    p.add_argument("--hours", type=_number("--hours"), help="runtime on the named accelerator")
    p.add_argument("--flops", type=_number("--flops"), help="total training FLOPs")
    p.add_argument("--utilization", type=_number("--utilization"),
                   help="fraction of peak throughput for --flops (default in defaults.csv)")
    p.add_argument("--hours-on", help="accelerator --hours were measured on")
    p.add_argument("--provider", default="", help="comma-separated providers")
    p.add_argument("--country", default="", help="allowed ISO country codes, comma-separated")
    p.add_argument("--not-country", default="", help="denied ISO country codes")
    p.add_argument("--region", default="", help="allowed regions (name or provider/name)")
    p.add_argument("--not-region", default="", help="denied regions")
    p.add_argument("--not-accelerator", default="", help="accelerators to leave out")
    p.add_argument("--max-cost", type=_number("--max-cost"), help="budget in USD")
    p.add_argument("--min-memory", type=_number("--min-memory"),
                   help="minimum memory per accelerator, GB")
    p.add_argument("--spot", action="store_true", help="use spot/preemptible prices")


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


def cmd_plan(args: argparse.Namespace) -> int:
    from greenml.plan import plan

    result = plan(job_from_args(args), carbon_sources=args.carbon_source or None,
                  carbon_data=args.carbon_data, carbon_deadline_s=args.carbon_deadline)
    if args.save:
        _save(result, args.save)
    if args.json:
        print(result.to_json(top=args.top))
        return 0
    print(result.table(args.top))
    if args.explain:
        print()
        print(result.best.explain())
    return 0


def _settings(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError("set", f"expected KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def cmd_launch(args: argparse.Namespace) -> int:
    from greenml.launch.loop import check_name, launch_plan
    from greenml.plan import plan

    check_name(args.name)
    settings = _settings(args.settings)
    if settings:  # refuse an unknown key before planning (provision checks again)
        from greenml.provider import check_settings
        from greenml.registry import default_catalog

        check_settings(settings, default_catalog().providers)
    if args.plan:
        result = _saved_plan(args)
    elif args.replan:
        raise InputError("replan", "only with --plan FILE (a plan saved by greenml plan --save)")
    else:
        result = plan(job_from_args(args), carbon_data=args.carbon_data)
    launch = launch_plan(result, name=args.name, run=args.run, dry_run=args.dry_run,
                       settings=settings, ledger=args.ledger)
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

    probe = argparse.ArgumentParser(add_help=False)
    add_job_arguments(probe)
    defaults = vars(probe.parse_args([]))
    given = [flag(k) for k, v in defaults.items() if getattr(args, k, v) != v]
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


def cmd_status(args: argparse.Namespace) -> int:
    from greenml.launch.running import status
    from greenml.render import table

    records = status(args.name, ledger=args.ledger, all_launches=args.all,
                     refresh=args.refresh)
    if args.json:
        print(json_text([r.to_dict() for r in records]))
        return 0
    if not records:
        print("no live launches" + ("" if args.all else " (--all shows the rest)"))
        return 0
    import time

    rows = []
    for r in records:
        live = [x for x in r.resources if x.state == "created"]
        rows.append([r.name, r.state, f"{r.provider or '?'}/{r.region or '?'}",
                     r.instance_type or "", f"{len(live)}/{len(r.resources)}",
                     "" if r.planned_co2e_kg is None else f"{r.planned_co2e_kg:,.1f}",
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
                     r.launch_id] + ([_live_summary(r.resources)] if args.refresh else []))
    print(table(["name", "state", "where", "instance type", "running", "planned kg CO2e",
                 "created", "launch id"] + (["live"] if args.refresh else []), rows,
                right={4, 5}))
    unknown = sorted({x.live_state for r in records for x in r.resources
                      if x.live_state.startswith("unknown")})
    for line in unknown:
        print(f"greenml status: {line}", file=sys.stderr)
    return 0


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
    removed = down(args.name, ledger=args.ledger)
    if args.json:
        print(json_text([r.to_dict() for r in removed]))
        return 0
    if not removed:
        print(f"{args.name}: nothing left to terminate")
    for r in removed:
        print(f"terminated {r.provider} {r.kind} {r.resource_id} in {r.region}")
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    from greenml.registry import default_catalog
    from greenml.render import table

    catalog = default_catalog().with_dataset(args.carbon_data)
    if args.provider and args.provider not in catalog.provider_names():
        raise InputError("provider", f"unknown provider {args.provider!r}; installed: "
                         f"{', '.join(catalog.provider_names())}")
    regions = [r for r in catalog.regions if not args.provider or r.provider == args.provider]
    if args.json:
        import attrs

        print(json_text([attrs.asdict(r) for r in regions]))
        return 0
    rows = [[r.provider, r.name, r.location[:32], r.country,
             f"{r.intensity.g_per_kwh:g}" if r.intensity else "-", f"{r.pue.value:g}",
             r.grid_zone] for r in regions]
    print(f"grid intensity: {catalog.carbon_data}")
    print(table(["provider", "region", "location", "country", "g/kWh", "PUE", "grid zone"],
                rows, right={4, 5}))
    return 0


def cmd_accelerators(args: argparse.Namespace) -> int:
    from greenml.registry import default_catalog
    from greenml.render import table

    accelerators = default_catalog().accelerators
    if args.json:
        import attrs

        print(json_text([attrs.asdict(a) for a in accelerators]))
        return 0
    rows = []
    for a in accelerators:
        power = a.power()
        rows.append([a.name, a.family, a.vendor, "" if a.memory_gb is None else f"{a.memory_gb:g}",
                     "" if power is None else f"{power.value:g}",
                     a.power_basis if power is not None else "none",
                     "" if a.dense_tflops is None else f"{a.dense_tflops:g}"])
    print(table(["name", "family", "vendor", "memory GB", "power W", "basis", "dense TFLOPS"],
                rows, right={3, 4, 6}))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from greenml import registry
    from greenml.render import table

    infos = registry.infos()
    if args.json:
        print(json_text([i.to_dict() for i in infos]))
        return 0
    rows = [[i.name, i.distribution, i.version, ",".join(i.providers),
             "disabled" if i.disabled
             else i.error or ",".join(h.removeprefix("greenml_") for h in i.hooks)]
            for i in infos]
    print(table(["plugin", "distribution", "version", "providers", "hooks / error"], rows))
    sources = [s for i in infos for s in i.carbon_sources]
    if sources:
        print("\ncarbon sources (greenml plan --carbon-source NAME,...; "
              "greenml intensity REGION --source NAME):")
        for line in sources:
            print(f"  {line}")
    return 0



def _find_region(name: str, provider: str) -> Any:
    """A region by name or provider/name; an unknown one suggests the closest."""
    from greenml.errors import closest
    from greenml.registry import default_catalog

    catalog = default_catalog()
    if "/" in name and not provider:
        provider, _, name = name.partition("/")
    if provider and provider not in catalog.provider_names():
        raise InputError("provider", f"unknown provider {provider!r}; installed: "
                         f"{', '.join(catalog.provider_names()) or 'none'}",
                         closest(provider, catalog.provider_names()))
    found = [r for r in catalog.regions
             if r.name == name and (not provider or r.provider == provider)]
    if not found:
        names = {r.name for r in catalog.regions if not provider or r.provider == provider}
        raise InputError("REGION", f"unknown region {name!r}", closest(name, names, n=1))
    if len(found) > 1:
        raise InputError("provider", f"{name!r} is a region of "
                         f"{', '.join(r.provider for r in found)}: pass --provider")
    return found[0]


def cmd_intensity(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from greenml.carbon import utc_text
    from greenml.errors import CarbonSourceError
    from greenml.plan.compute import pick_sources
    from greenml.registry import default_catalog
    from greenml.render import table
    from greenml.scrub import scrub

    region = _find_region(args.region, args.provider)
    catalog = default_catalog()
    asked = args.source.strip()
    try:
        sources = pick_sources(catalog, asked or [s.name for s in catalog.carbon_sources])
    except InputError as exc:
        raise InputError("source", str(exc).partition(": ")[2], exc.suggestions) from None
    now = datetime.now(timezone.utc)
    answers = []
    for source in sources:
        entry: dict[str, Any] = {"source": source.name, "signal": source.signal,
                                 "zone": source.zone(region), "readings": [], "error": ""}
        ok, reason = source.check_credentials()
        entry["configured"], entry["reason"] = ok, reason
        if ok:
            try:
                if args.forecast:
                    entry["readings"] = list(source.forecast(region, now, None) or ())
                else:
                    latest = source.latest(region)
                    entry["readings"] = [latest] if latest else []
                    if latest is None and (annual := source.intensity(region)) is not None:
                        entry["annual"] = annual
            except CarbonSourceError as exc:  # a plugin's source may quote its answer
                entry["error"] = scrub(str(exc).partition(": ")[2])
        answers.append(entry)
    answered = [e for e in answers if e["readings"] or e.get("annual")]
    if asked and not answered:
        why = "; ".join(f"{e['source']}: {_status(e)}" for e in answers)
        raise GreenmlError(f"no {'forecast' if args.forecast else 'reading'} for "
                           f"{region.provider}/{region.name}: {why}")
    if args.json:
        out = []
        for e in answers:
            item = {k: v for k, v in e.items() if k not in ("readings", "annual")}
            item["readings"] = [r.to_dict() for r in e["readings"]]
            if e.get("annual"):
                import attrs

                item["annual"] = attrs.asdict(e["annual"])
            out.append(item)
        print(json_text({"provider": region.provider, "region": region.name,
                         "grid_zone": region.grid_zone, "sources": out}))
        return 0
    print(f"{region.provider}/{region.name} ({region.location}), grid zone "
          f"{region.grid_zone or 'unknown'}")
    rows = []
    for e in answers:
        status = "" if e["readings"] or e.get("annual") else _status(e)
        for r in e["readings"]:
            rows.append([e["source"], e["zone"], utc_text(r.at), f"{r.g_per_kwh:g}", r.signal,
                         r.kind, ""])
        if e.get("annual"):
            a = e["annual"]
            rows.append([e["source"], a.zone or e["zone"], a.year, f"{a.g_per_kwh:g}", a.signal,
                         a.kind, a.source[:60]])
        if status:
            rows.append([e["source"], e["zone"], "", "", e["signal"], "", status])
    print(table(["source", "zone", "time (UTC)", "g/kWh", "signal", "kind", "note"], rows,
                right={3}))
    return 0


def _status(entry: dict[str, Any]) -> str:
    """Why a source gave no reading: not configured, failed, or no data here."""
    if not entry["configured"]:
        return str(entry["reason"])
    if entry["error"]:
        return f"failed: {entry['error']}"
    return "no data for this region"

