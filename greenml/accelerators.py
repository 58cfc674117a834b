"""The accelerator catalog shipped with greenml (``greenml/data/accelerators.csv``)."""

from __future__ import annotations

from greenml.accelerator import Accelerator
from greenml.datafiles import accelerator_from_row, parse
from greenml.hookspecs import hookimpl


@hookimpl
def greenml_accelerators() -> tuple[Accelerator, ...]:
    return parse("greenml.data", "accelerators.csv", accelerator_from_row)
