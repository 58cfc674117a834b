"""The ``greenml`` command: readable tables on a terminal, ``--json`` everywhere.

Bad input exits 2 with one line that names the option; nothing prints a traceback
unless ``GREENML_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

from greenml.cli.arguments import (
    DISABLE_PLUGIN_HELP,
    add_carbon_data_argument,
    add_ending_arguments,
    add_planning_arguments,
    flag,
    positive_int,
)
from greenml.cli.catalog import cmd_accelerators, cmd_intensity, cmd_plugins, cmd_regions
from greenml.cli.fleet import add_fleet_arguments, add_fleet_launch_arguments
from greenml.cli.planning import cmd_launch, cmd_plan
from greenml.cli.running import cmd_down, cmd_status
from greenml.errors import GreenmlError, InputError


class UsageError(Exception):
    pass


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, with the terminal's width asked once per process: argparse
    makes a formatter for every argument it adds, and each asked the terminal again."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         width or _width(os.environ.get("COLUMNS")))


@functools.cache
def _width(columns: str | None) -> int:
    """What argparse would use: the terminal's columns (``COLUMNS`` first) less two."""
    return shutil.get_terminal_size().columns - 2


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of printing the usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_named(argv))
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        off = [*args.disable_plugin_global, *getattr(args, "disable_plugin", [])]
        if off:
            from greenml import registry

            registry.reset(disabled=off)
        return int(args.handler(args) or 0)
    except UsageError as exc:
        return _fail(str(exc))
    except InputError as exc:
        return _fail(f"{flag(exc.field)}: {str(exc).partition(': ')[2]}")
    except GreenmlError as exc:  # NoFeasibleOption among them
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


def _fail(message: str, code: int = 2) -> int:
    """The one error line; every configured secret is masked in it, whoever wrote it."""
    from greenml.scrub import scrub

    print(f"greenml: error: {scrub(' '.join(message.split()))}", file=sys.stderr)
    return code


#: Every command, in the order ``greenml --help`` lists them, with its one line of help.
COMMANDS = {
    "plan": "rank every option for a training job by kg CO2e",
    "intensity": "the carbon intensity of a region, now or forecast",
    "regions": "list the regions greenml knows",
    "accelerators": "list the accelerators greenml knows",
    "launch": "plan a job and provision its greenest option",
    "status": "list launches and their resources",
    "down": "terminate everything a launch created",
    "logs": "show what a launch's run printed (no SSH)",
    "quotas": "read the account's GPU quotas from the clouds, in accelerators",
    "track": "run a command here and measure the energy it uses",
    "report": "a launch's plan against what its run measured",
    "plugins": "list installed plugins and any that failed to load",
}


def build_parser(command: str | None = None) -> Parser:
    """The whole command line, or, given ``command``, every command named (for the listing
    and for argparse's "invalid choice") but only that one with its arguments: a command
    runs without building the other eleven (and importing their modules)."""
    parser = Parser(prog="greenml", description="Plan ML training where it emits the least.")
    from greenml import __version__

    parser.add_argument("--version", action="version", version=f"greenml {__version__}")
    parser.add_argument("--disable-plugin", dest="disable_plugin_global", action="append",
                        default=[], metavar="NAME", help=DISABLE_PLUGIN_HELP)
    sub = parser.add_subparsers(title="commands", parser_class=Parser)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if command is None or command == name:
            _ARGUMENTS[name](p)
        # also after the command: greenml down X --disable-plugin ...
        p.add_argument("--disable-plugin", action="append", default=[], metavar="NAME",
                       help=DISABLE_PLUGIN_HELP)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs (its first word that names one, skipping the value of the
    top-level ``--disable-plugin``), or None (``greenml --help``, a typo)."""
    words = iter(argv)
    for word in words:
        if word == "--disable-plugin":
            next(words, None)
        elif word in COMMANDS:
            return word
        elif not word.startswith("-"):
            return None
    return None


def _plan_arguments(p: Parser) -> None:
    add_planning_arguments(p)
    add_fleet_arguments(p)  # --jobs FILE plans a fleet instead
    p.add_argument("--top", type=positive_int("--top"), default=10,
                   help="options to show (default 10)")
    p.add_argument("--explain", action="store_true",
                   help="show the inputs and sources behind the best option")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--save", metavar="FILE",
                   help="also write the whole plan (every option, JSON) to FILE, to launch "
                        "as reviewed later: greenml launch --plan FILE")
    from greenml.cli.outputs import add_output_arguments

    add_output_arguments(p)  # --statement, --chart, --export skypilot [--run]
    p.set_defaults(handler=cmd_plan)


def _intensity_arguments(ci: Parser) -> None:
    ci.add_argument("region", help="region name or provider/name")
    ci.add_argument("--provider", default="", help="provider, where names repeat")
    ci.add_argument("--forecast", action="store_true", help="show the forecast readings")
    ci.add_argument("--source", default="",
                    help="sources to ask, comma-separated (default: every installed source)")
    ci.add_argument("--json", action="store_true")
    ci.set_defaults(handler=cmd_intensity)


def _regions_arguments(r: Parser) -> None:
    r.add_argument("--provider", help="only this provider")
    add_carbon_data_argument(r)
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=cmd_regions)


def _accelerators_arguments(a: Parser) -> None:
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_accelerators)


def _launch_arguments(launch: Parser) -> None:
    add_planning_arguments(launch)
    launch.add_argument("--name", help="a name for the launch (lower-case; required without "
                        "--jobs)")
    launch.add_argument("--run", help="the command to run on the instances (required; with "
                        "--jobs, for the jobs whose [[job]] table has no run)")
    launch.add_argument("--dry-run", action="store_true",
                        help="print what would be created; create nothing")
    add_ending_arguments(launch)
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
    launch.add_argument("--json", action="store_true",
                        help="print the launch as JSON (and no progress on stderr)")
    launch.add_argument("--quiet", action="store_true",
                        help="no progress on stderr, even on a terminal")
    add_fleet_launch_arguments(launch)  # --jobs FILE launches a fleet instead
    launch.set_defaults(handler=cmd_launch)


def _status_arguments(st: Parser) -> None:
    st.add_argument("name", nargs="?", help="only launches with this name")
    st.add_argument("--all", action="store_true", help="include launches that are down or failed")
    st.add_argument("--refresh", action="store_true",
                    help="ask each provider what became of the resources (squeue/sacct for "
                         "SLURM, the cloud's API otherwise); without it, only the ledger is read")
    st.add_argument("--ledger")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_status)


def _down_arguments(dn: Parser) -> None:
    dn.add_argument("name")
    dn.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    dn.add_argument("--ledger")
    dn.add_argument("--json", action="store_true")
    dn.set_defaults(handler=cmd_down)


def _logs_arguments(p: Parser) -> None:
    from greenml.cli.logs import add_logs_arguments

    add_logs_arguments(p)


def _quotas_arguments(p: Parser) -> None:
    from greenml.cli.quotas import add_quotas_arguments

    add_quotas_arguments(p)


def _track_arguments(p: Parser) -> None:
    from greenml.cli.track import add_track_arguments

    add_track_arguments(p)  # greenml track -- CMD: measure a run on this machine


def _report_arguments(p: Parser) -> None:
    from greenml.cli.report import add_report_arguments

    add_report_arguments(p)  # greenml report NAME: planned against measured


def _plugins_arguments(g: Parser) -> None:
    g.add_argument("--json", action="store_true")
    g.set_defaults(handler=cmd_plugins)


_ARGUMENTS: dict[str, Callable[[Parser], None]] = {
    "plan": _plan_arguments, "intensity": _intensity_arguments,
    "regions": _regions_arguments, "accelerators": _accelerators_arguments,
    "launch": _launch_arguments, "status": _status_arguments, "down": _down_arguments,
    "logs": _logs_arguments, "quotas": _quotas_arguments, "track": _track_arguments,
    "report": _report_arguments, "plugins": _plugins_arguments,
}
