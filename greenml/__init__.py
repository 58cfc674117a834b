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
    "CarbonDataWarning": "errors",
    "CarbonSourceError": "errors",
    "Schedule": "model",
    "Catalog": "catalog",
    "default_catalog": "registry",
    "CatalogError": "errors",
    "GreenmlError": "errors",
    "InputError": "errors",
    "NoFeasibleOption": "errors",
    "PluginError": "errors",
    "estimate": "estimator",
    "hookimpl": "hookspecs",
    "Job": "job",
    "Attempt": "launch",
    "Failure": "launch",
    "InstanceRequest": "launch",
    "Journal": "launch",
    "Launch": "launch",
    "Resource": "launch",
    "LaunchRecord": "ledger",
    "Ledger": "ledger",
    "LedgerError": "errors",
    "LedgerReadOnly": "errors",
    "LedgerWarning": "errors",
    "Accelerator": "model",
    "Estimate": "model",
    "Exclusion": "model",
    "Figure": "model",
    "Intensity": "model",
    "Offer": "model",
    "Option": "model",
    "PUE": "model",
    "Region": "model",
    "Plan": "plans",
    "Savings": "plans",
    "plan": "planner",
    "CatalogProvider": "provider",
    "Provider": "provider",
    "LaunchError": "errors",
    "RollbackFailed": "errors",
    "RetryPolicy": "provision",
    "down": "provision",
    "status": "provision",
}
_SUBMODULES = {
    "carbon", "catalog", "cli", "datafiles", "datasets", "energy", "errors", "estimator",
    "hookspecs", "job",
    "launch", "ledger", "model", "plans", "planner", "plugins", "provider", "provision",
    "registry", "render", "robustness", "testing", "sources", "timeshift",
}

if TYPE_CHECKING:
    from .carbon import CarbonSource, Reading
    from .catalog import Catalog
    from .errors import (
        CarbonDataWarning,
        CarbonSourceError,
        CatalogError,
        GreenmlError,
        InputError,
        LaunchError,
        LedgerError,
        LedgerReadOnly,
        LedgerWarning,
        NoFeasibleOption,
        PluginError,
        RollbackFailed,
    )
    from .estimator import estimate
    from .hookspecs import hookimpl
    from .job import Job
    from .launch import Attempt, Failure, InstanceRequest, Journal, Launch, Resource
    from .ledger import LaunchRecord, Ledger
    from .model import (
        PUE,
        Accelerator,
        Estimate,
        Exclusion,
        Figure,
        Intensity,
        Offer,
        Option,
        Region,
        Schedule,
    )
    from .planner import plan
    from .plans import Plan, Savings
    from .provider import CatalogProvider, Provider
    from .provision import RetryPolicy, down, status
    from .registry import default_catalog


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'greenml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "PUE",
    "Accelerator",
    "Attempt",
    "Failure",
    "InstanceRequest",
    "Journal",
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
    "status",
    "CarbonDataWarning",
    "CarbonSource",
    "CarbonSourceError",
    "Catalog",
    "CatalogError",
    "CatalogProvider",
    "Estimate",
    "Exclusion",
    "Figure",
    "GreenmlError",
    "InputError",
    "Intensity",
    "Job",
    "NoFeasibleOption",
    "Offer",
    "Option",
    "Plan",
    "PluginError",
    "Provider",
    "Reading",
    "Region",
    "Savings",
    "Schedule",
    "__version__",
    "default_catalog",
    "estimate",
    "hookimpl",
    "plan",
]
