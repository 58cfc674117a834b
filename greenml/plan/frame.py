"""A plan as a pandas DataFrame.

The rows are the plan JSON's options flattened, so a DataFrame and a saved plan never
disagree: each option's figures (hours, kWh, kg CO2e, USD), its grid figure with dataset,
year, scope and signal, and every estimate input as ``<name>`` / ``<name>_source`` /
``<name>_year`` columns. pandas is the optional ``greenml[pandas]`` extra, imported here only
when a frame is asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenml.errors import ExtraMissing

if TYPE_CHECKING:
    from greenml.plan.result import Plan


def option_row(option: dict[str, Any]) -> dict[str, Any]:
    """One option of the plan JSON as flat columns (every figure with its source)."""
    row = {k: v for k, v in option.items()
           if k not in ("intensity", "inputs", "notes", "schedule")}
    for key, value in (option.get("intensity") or {}).items():
        row[f"intensity_{key}"] = value
    for figure in option.get("inputs", ()):
        name = figure["name"]
        if name == "intensity":  # the intensity_* columns carry it, with its dataset
            continue
        row.setdefault(name, figure["value"])  # hours: the option's own column already
        for part in ("source", "year", "note"):
            row[f"{name}_{part}"] = figure[part]
    row["notes"] = "; ".join(option.get("notes", ()))
    return row


def rows(plan: Plan, top: int | None = None) -> list[dict[str, Any]]:
    """The plan's options (all, or the first ``top``) as flat rows, in rank order."""
    options = plan.options if top is None else plan.top(top)
    return [option_row(o.to_dict()) for o in options]


def to_pandas(plan: Plan) -> Any:
    """One row per option, in rank order, indexed by rank (``pandas.DataFrame``)."""
    try:
        import pandas as pd
    except ImportError:
        raise ExtraMissing("plan.to_pandas()", "pandas") from None
    frame = pd.DataFrame(rows(plan))
    return frame.set_index("rank", drop=False)
