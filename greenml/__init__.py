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
    "down": "launch.running",
    "status": "launch.running",
    "Attempt": "launch.types",
    "Failure": "launch.types",
    "InstanceRequest": "launch.types",
    "Journal": "launch.types",
    "Launch": "launch.types",
    "Resource": "launch.types",
    "Accelerator": "model",
    "Estimate": "model",
    "Exclusion": "model",
    "Figure": "model",
    "Intensity": "model",
    "Offer": "model",
    "Option": "model",
    "PUE": "model",
    "Region": "model",
    "Schedule": "model",
    "Plan": "plan.result",
    "Savings": "plan.result",
    "CatalogProvider": "provider",
    "Provider": "provider",
    "default_catalog": "registry",
    "RetryPolicy": "retry",
}
_SUBMODULES = {
    "carbon", "catalog", "cli", "datafiles", "datasets", "energy", "errors", "estimator",
    "hookspecs", "job", "model", "plugins", "provider", "registry", "render", "retry", "testing",
}

# The two verbs are named like their packages (greenml.plan, greenml.launch); binding them
# here, after the packages load, keeps ``greenml.plan(job)`` the function. Both are light:
# they import their work when called.
from greenml.launch import launch  # noqa: E402
from greenml.plan import plan  # noqa: E402

if TYPE_CHECKING:
    from greenml.carbon import CarbonSource, Reading
    from greenml.catalog import Catalog
    from greenml.errors import (
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
    from greenml.estimator import estimate
    from greenml.hookspecs import hookimpl
    from greenml.job import Job
    from greenml.launch.ledger import LaunchRecord, Ledger
    from greenml.launch.running import down, status
    from greenml.launch.types import Attempt, Failure, InstanceRequest, Journal, Launch, Resource
    from greenml.model import (
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
    from greenml.plan.result import Plan, Savings
    from greenml.provider import CatalogProvider, Provider
    from greenml.registry import default_catalog
    from greenml.retry import RetryPolicy


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
    "launch",
    "plan",
]
