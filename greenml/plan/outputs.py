"""What a plan hands to people and other tools: a statement, a chart, a DataFrame, HTML in a
notebook and a SkyPilot task.

A mixin of ``Plan``, so ``plan.statement()`` and friends read naturally while ``result``
stays about ranking; each method imports its module (and any optional extra) only when
called, so ``import greenml`` and planning never load matplotlib, pandas or a YAML library.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from greenml.model import Option
    from greenml.plan.result import Plan


class PlanOutputs:
    """The output methods of ``Plan`` (see each for its format)."""

    __slots__ = ()

    def _plan(self) -> Plan:
        return cast("Plan", self)

    def statement(self, format: str = "markdown") -> str:  # noqa: A002 - the user's word
        """An emissions statement for a paper's appendix (``markdown``, ``latex`` or
        ``json``): hardware, place, hours, energy, PUE, grid intensity with its source, kg
        CO2e and the saving against the baseline, each with its source; an estimate."""
        from greenml.plan.statement import statement

        return statement(self._plan(), format)

    def chart(self, path: str | Path | None = None) -> Any:
        """The plan drawn (``matplotlib.figure.Figure``; needs ``greenml[charts]``): kg CO2e
        per region, kg CO2e against USD with the Pareto front, and for a time-shifted plan
        the forecast with the chosen run. Written to ``path`` when given (.svg/.png/.pdf)."""
        from greenml.plan.charts import chart

        return chart(self._plan(), path)

    def to_pandas(self) -> Any:
        """One row per option in rank order (``pandas.DataFrame``; needs
        ``greenml[pandas]``): the plan JSON's figures, each with its source and year."""
        from greenml.plan.frame import to_pandas

        return to_pandas(self._plan())

    def to_skypilot(self, run: str | None = None, option: Option | int | None = None) -> str:
        """A SkyPilot task (YAML) for the chosen option, or ``option`` (an Option or a rank):
        cloud, region, instance type, accelerators, spot, nodes and ``run``."""
        from greenml.plan.skypilot import to_skypilot

        return to_skypilot(self._plan(), run, option)

    def _repr_html_(self) -> str:
        """Jupyter: the first ten options as the text table's columns (Pareto starred, the
        chosen one marked), then the chart, or how to install it."""
        from greenml.plan.html import plan_html

        return plan_html(self._plan())
