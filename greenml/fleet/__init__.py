"""Fleets: many training jobs placed together under quotas, deadlines and a budget.

Planning each job alone sends every job to the same clean region at the same hour, where a
quota holds a few of them. A fleet places the whole set at once, as one mixed-integer
program, for the least total kg CO2e that every limit allows, and says what the limits cost.

``jobs`` reads a job file (``jobs.toml``); ``limits`` holds the quotas, the budget and the
jobs kept apart; ``candidates`` turns each job's single-job plan into (offer, start hour)
options and drops the ones that provably cannot improve the optimum; ``milp`` builds and
solves the program with HiGHS; ``relax`` explains an infeasible fleet; ``compare`` makes the
placements the answer is measured against; ``result`` is the ``Fleet``; ``planning`` holds
``plan_fleet``; ``quotas`` reads the clouds' GPU quotas as limits; ``launching`` launches a
fleet (``launch_fleet``, ``Fleet.launch``), failing a job over only to the options that
``refit`` finds keep the limits. The solver is imported only when a fleet is planned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenml.errors import FleetInfeasible, SolverMissing
    from greenml.fleet.jobs import JobFile, read_jobs
    from greenml.fleet.launching import FleetLaunch, JobLaunch, launch_fleet
    from greenml.fleet.limits import Limits
    from greenml.fleet.planning import plan_fleet
    from greenml.fleet.quotas import read_quotas
    from greenml.fleet.result import Fleet
    from greenml.provider.quota import Quota

_NAMES = {"JobFile": "fleet.jobs", "read_jobs": "fleet.jobs", "Limits": "fleet.limits",
          "plan_fleet": "fleet.planning", "Fleet": "fleet.result",
          "FleetInfeasible": "errors", "SolverMissing": "errors", "Quota": "provider.quota",
          "read_quotas": "fleet.quotas", "launch_fleet": "fleet.launching",
          "FleetLaunch": "fleet.launching", "JobLaunch": "fleet.launching"}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        import importlib

        return getattr(importlib.import_module(f"greenml.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'greenml.fleet' has no attribute {name!r}")


__all__ = ["Fleet", "FleetInfeasible", "FleetLaunch", "JobFile", "JobLaunch", "Limits",
           "Quota", "SolverMissing", "launch_fleet", "plan_fleet", "read_jobs", "read_quotas"]
