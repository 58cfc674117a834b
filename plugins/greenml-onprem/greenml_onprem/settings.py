"""The on-prem settings a launch takes (``-o onprem.key=value``), parsed once into
``OnPremSettings``: where the batch script and the job's output go, and sbatch options."""

from __future__ import annotations

import math

from attrs import frozen

from greenml.provider import setting

DEFAULT_TIME_MARGIN = 0.1
DEFAULT_TIME_MARGIN_MIN_MINUTES = 10.0


def at_least_zero(raw: str) -> float:
    """A finite number, zero or more."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"must be a number >= 0, got {raw!r}")
    return value


@frozen
class OnPremSettings:
    """What the user may choose for a SLURM submission; empty means SLURM's own default."""

    workdir: str = setting(help="directory for the generated batch script and, by default, "
                           "the job's output (default: onprem/<name>-<launch id> beside the "
                           "ledger); on a real cluster use a shared filesystem")
    output: str = setting(help="sbatch --output file pattern (default: <workdir>/slurm-%j.out)")
    error: str = setting(help="sbatch --error file pattern (default: none, stderr joins the "
                         "output, which greenml logs shows)")
    chdir: str = setting(help="the job's working directory (default: where greenml runs)")
    account: str = setting(help="sbatch --account")
    qos: str = setting(help="sbatch --qos")
    export: str = setting(help="sbatch --export (default: SLURM's own, ALL)")
    time_margin: float = setting(
        help="fraction added to the estimated hours for the time limit (default 0.1)",
        default=DEFAULT_TIME_MARGIN, parse=at_least_zero)
    time_margin_min_minutes: float = setting(
        help="the fewest minutes added to the estimated hours (default 10)",
        default=DEFAULT_TIME_MARGIN_MIN_MINUTES, parse=at_least_zero)
