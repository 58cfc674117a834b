"""``greenml plan --statement FORMAT | --chart FILE | --export skypilot [--run CMD]``.

Each flag is checked before anything is planned (a wrong format, a chart suffix greenml
cannot write, a missing optional extra), so a mistake costs no planning time and exits 2 with
one line that names the flag. The statement and the SkyPilot task take stdout (to redirect to
a file), so they exclude each other and ``--json``; the chart is a file, and the plan's table
is still printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenml.errors import InputError, install
from greenml.plan.statement import FORMATS

EXPORTS = ("skypilot",)


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The plan subcommand's output flags."""
    parser.add_argument("--statement", metavar="FORMAT", choices=FORMATS,
                        help="print an emissions statement for a paper instead of the table: "
                             f"{', '.join(FORMATS)}")
    parser.add_argument("--chart", metavar="FILE",
                        help="also draw the plan to FILE (.svg, .png or .pdf; needs "
                             f"{install('charts')})")
    parser.add_argument("--export", metavar="TOOL", choices=EXPORTS,
                        help="print the best option as a task for another tool instead of "
                             "the table: skypilot (a SkyPilot task YAML)")
    parser.add_argument("--run", metavar="CMD",
                        help="with --export: the command the exported task runs")


def check_output_arguments(args: argparse.Namespace) -> None:
    """Refuse what cannot be done before planning (InputError/ExtraMissing, exit 2)."""
    statement, chart, export = (getattr(args, k, None) for k in ("statement", "chart", "export"))
    run = getattr(args, "run", None)
    if getattr(args, "jobs", None) and (statement or chart or export):
        given = "--statement" if statement else "--chart" if chart else "--export"
        raise InputError(given.lstrip("-"), "describes one job's plan: not with --jobs")
    if run is not None and not export:
        raise InputError("run", "only with --export skypilot (the command the task runs)")
    printed = [name for name, on in (("statement", statement), ("export", export),
                                     ("json", args.json)) if on]
    if len(printed) > 1:
        raise InputError(printed[0], f"prints on stdout: not with --{printed[1]}")
    if chart:  # drawing imports matplotlib anyway: loading it first costs nothing more
        from greenml.plan.charts import drawing

        drawing(chart, "--chart")


def write_outputs(result: Any, args: argparse.Namespace) -> bool:
    """Draw, print the statement or the task; True when stdout is taken (no table)."""
    chart = getattr(args, "chart", None)
    if chart:
        result.chart(chart)
        print(f"greenml: drew the plan to {chart}", file=sys.stderr)
    if getattr(args, "statement", None):
        print(result.statement(args.statement))
        return True
    if getattr(args, "export", None) == "skypilot":
        sys.stdout.write(result.to_skypilot(run=args.run))
        return True
    return False
