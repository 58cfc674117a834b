"""Launching: turn a reviewed plan into running resources, and take them down again.

``loop`` walks a plan's options greenest first, failing over on capacity and rolling back a
gang that half started; ``running`` answers status and down; ``ledger`` records every
resource before it is created; ``types`` holds the values they pass around.

``launch`` is the public verb; it imports its work when called so that ``import greenml``
stays cheap. ``Plan.provision`` is its deprecated old name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenml.launch.ledger import Ledger
    from greenml.launch.types import Launch
    from greenml.plan.result import Plan
    from greenml.retry import RetryPolicy


def launch(
    plan: Plan,
    *,
    name: str,
    run: str,
    dry_run: bool = False,
    settings: Mapping[str, str] | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    retry: RetryPolicy | None = None,
) -> Launch:
    """Create the plan's best launchable option; on capacity or quota errors, the next one.

    Every resource is recorded in the ledger before it is created. Raises LaunchError when
    no option could be launched, listing each attempt.

    ``plan`` may come from ``greenml.plan`` or from a file (``Plan.from_json``); a saved plan
    launches the options that were reviewed, through the installed providers.
    """
    from greenml.launch.loop import launch_plan

    return launch_plan(plan, name=name, run=run, dry_run=dry_run, settings=settings,
                       ledger=ledger, retry=retry)
