"""greenml: plan ML training where, when and on what it emits the least, then provision it.

>>> import greenml
>>> plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
>>> plan.best.estimate.co2e_kg < plan.baseline.co2e_kg
True
"""

from __future__ import annotations

__version__ = "0.1.0"

from .carbon import CarbonSource
from .catalog import Catalog, default_catalog
from .errors import CatalogError, GreenmlError, InputError, NoFeasibleOption, PluginError
from .estimate import estimate
from .hookspecs import hookimpl
from .job import Job
from .launch import Attempt, Failure, InstanceRequest, Launch, Resource
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
)
from .plan import Plan, Savings
from .planner import plan
from .provider import CatalogProvider, Provider
from .provision import LaunchError, RetryPolicy, down, status

__all__ = [
    "PUE",
    "Accelerator",
    "Attempt",
    "Failure",
    "InstanceRequest",
    "Launch",
    "LaunchError",
    "LaunchRecord",
    "Ledger",
    "Resource",
    "RetryPolicy",
    "down",
    "status",
    "CarbonSource",
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
    "Region",
    "Savings",
    "__version__",
    "default_catalog",
    "estimate",
    "hookimpl",
    "plan",
]
