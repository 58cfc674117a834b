"""greenml: plan ML training where, when and on what it emits the least, then provision it.

>>> import greenml
>>> plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
>>> plan.best.estimate.co2e_kg < plan.baseline.co2e_kg
True
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the submodule that defines it. Imported on first use (PEP 562), so that
#: ``import greenml`` costs next to nothing and a plugin pays only for what it touches.
_EXPORTS = {
    "CarbonSource": "carbon",
    "Reading": "carbon",
    "Catalog": "catalog",
    "CarbonDataWarning": "errors",
    "SolverMissing": "errors",
    "QuotaWarning": "errors",
    "FleetInfeasible": "errors",
    "ExtraMissing": "errors",
    "DownIncomplete": "errors",
    "CarbonSourceError": "errors",
    "CatalogError": "errors",
    "GreenmlError": "errors",
    "InputError": "errors",
    "LaunchError": "errors",
    "LedgerError": "errors",
    "LedgerReadOnly": "errors",
    "LedgerWarning": "errors",
    "NoFeasibleOption": "errors",
    "PluginError": "errors",
    "RollbackFailed": "errors",
    "estimate": "estimator",
    "hookimpl": "hookspecs",
    "Job": "job",
    "LaunchRecord": "launch.ledger",
    "Ledger": "launch.ledger",
    "logs": "launch.logs",
    "report": "measure.report",
    "track": "measure.track",
    "down": "launch.running",
    "status": "launch.running",
    "Attempt": "launch.types",
    "Launch": "launch.types",
    "Resource": "launch.types",
    "Accelerator": "accelerator",
    "Estimate": "model",
    "Exclusion": "model",
    "Figure": "figure",
    "Fleet": "fleet.result",
    "plan_fleet": "fleet.planning",
    "Intensity": "model",
    "Offer": "model",
    "Option": "model",
    "PUE": "model",
    "Region": "model",
    "Schedule": "model",
    "Plan": "plan.result",
    "Savings": "plan.savings",
    "default_catalog": "registry",
    "RetryPolicy": "retry",
}
#: Names a provider author imports from ``greenml.provider``: reachable here for one more
#: release, with a DeprecationWarning, so that plugins written against 0.1 keep loading.
_MOVED_TO_PROVIDER = frozenset({"CatalogProvider", "Failure", "InstanceRequest", "Journal",
                                "Provider"})
_SUBMODULES = {
    "carbon", "catalog", "cli", "datafiles", "datasets", "energy", "errors", "estimator", "fleet",
    "hookspecs", "job", "measure", "model", "plugins", "provider", "registry", "render", "retry",
    "testing",
}

# The two verbs are named like their packages (greenml.plan, greenml.launch); binding them
# here, after the packages load, keeps ``greenml.plan(job)`` the function. Both are light:
# they import their work when called.
from greenml.launch import launch  # noqa: E402
from greenml.plan import plan  # noqa: E402

if TYPE_CHECKING:
    from greenml.accelerator import Accelerator
    from greenml.carbon import CarbonSource, Reading
    from greenml.catalog import Catalog
    from greenml.errors import (
        CarbonDataWarning,
        CarbonSourceError,
        CatalogError,
        DownIncomplete,
        ExtraMissing,
        FleetInfeasible,
        GreenmlError,
        InputError,
        LaunchError,
        LedgerError,
        LedgerReadOnly,
        LedgerWarning,
        NoFeasibleOption,
        PluginError,
        QuotaWarning,
        RollbackFailed,
        SolverMissing,
    )
    from greenml.estimator import estimate
    from greenml.figure import Figure
    from greenml.fleet.planning import plan_fleet
    from greenml.fleet.result import Fleet
    from greenml.hookspecs import hookimpl
    from greenml.job import Job
    from greenml.launch.ledger import LaunchRecord, Ledger
    from greenml.launch.logs import logs
    from greenml.launch.running import down, status
    from greenml.launch.types import Attempt, Launch, Resource
    from greenml.measure.report import report
    from greenml.measure.track import track
    from greenml.model import PUE, Estimate, Exclusion, Intensity, Offer, Option, Region, Schedule
    from greenml.plan.result import Plan
    from greenml.plan.savings import Savings
    from greenml.registry import default_catalog
    from greenml.retry import RetryPolicy


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _MOVED_TO_PROVIDER:
        import warnings

        warnings.warn(f"greenml.{name} moved to greenml.provider.{name}", DeprecationWarning,
                      stacklevel=2)
        return getattr(importlib.import_module(".provider", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'greenml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "PUE",
    "Accelerator",
    "Attempt",
    "Launch",
    "LaunchError",
    "LaunchRecord",
    "Ledger",
    "LedgerError",
    "LedgerReadOnly",
    "LedgerWarning",
    "Resource",
    "RollbackFailed",
    "RetryPolicy",
    "down",
    "logs",
    "report",
    "status",
    "track",
    "CarbonDataWarning",
    "SolverMissing",
    "QuotaWarning",
    "FleetInfeasible",
    "ExtraMissing",
    "DownIncomplete",
    "CarbonSource",
    "CarbonSourceError",
    "Catalog",
    "CatalogError",
    "Estimate",
    "Exclusion",
    "Figure",
    "Fleet",
    "GreenmlError",
    "InputError",
    "Intensity",
    "Job",
    "NoFeasibleOption",
    "Offer",
    "Option",
    "Plan",
    "PluginError",
    "Reading",
    "Region",
    "Savings",
    "Schedule",
    "__version__",
    "default_catalog",
    "estimate",
    "hookimpl",
    "launch",
    "plan",
    "plan_fleet",
]
