"""``greenml report NAME``: a launch's plan beside what its run measured (its consoles, a
sampler record or CodeCarbon's emissions.csv), in text, Markdown, LaTeX or JSON; with
``--chart FILE`` also as a picture."""

from __future__ import annotations

import argparse
import sys

from greenml.errors import install
from greenml.measure import REPORT_FORMATS as FORMATS


def add_report_arguments(rp: argparse.ArgumentParser) -> None:
    rp.add_argument("name", help="the launch's name")
    rp.add_argument("--measured", metavar="FILE",
                    help="the measurement: a greenml sampler record (instead of the consoles)")
    rp.add_argument("--codecarbon", metavar="FILE",
                    help="the measurement: CodeCarbon's emissions.csv (its last row)")
    rp.add_argument("--format", choices=FORMATS, default="text",
                    help="text (default), markdown, latex (a tabular) or json")
    rp.add_argument("--json", action="store_true", help="the same as --format json")
    rp.add_argument("--chart", metavar="FILE",
                    help="also draw planned against measured and the power trace to FILE "
                         f"(.svg, .png or .pdf; needs {install('charts')})")
    rp.add_argument("--no-live", action="store_true",
                    help="price the measured energy with the plan's grid intensity, not a "
                         "configured live source's figures for the hours the run ran")
    rp.add_argument("--ledger")
    rp.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from greenml.measure.report import report

    if args.chart:  # refused before the ledger and the consoles are read
        from greenml.plan.charts import drawing

        drawing(args.chart, "--chart")
    done = report(args.name, measured=args.measured, codecarbon=args.codecarbon,
                  ledger=args.ledger, live=not args.no_live)
    print(done.format("json" if args.json else args.format))
    if args.chart:
        done.chart(args.chart)
        print(f"greenml: drew the report to {args.chart}", file=sys.stderr)
    return 0
