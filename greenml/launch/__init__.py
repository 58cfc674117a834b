"""Launching: turn a reviewed plan into running resources, and take them down again.

``loop`` walks a plan's options greenest first, failing over on capacity; ``gang`` creates
one option's instances and rolls back a gang that half started; ``progress`` reports each
step; ``running`` answers status and down; ``logs`` reads what a run printed; ``problems``
words a provider's failure in one line; ``ledger`` records every resource before it is
created (``ledger_db`` opens its sqlite file, ``ledger_file`` says where it lives); ``types``
holds the values they pass around.

``launch`` is the public verb; it imports its work when called so that ``import greenml``
stays cheap. ``Plan.provision`` is its deprecated old name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenml.launch.ledger import Ledger
    from greenml.launch.progress import ProgressCallback
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
    progress: ProgressCallback | None = None,
    keep: bool = False,
    max_hours: float | None = None,
) -> Launch:
    """Create the plan's best launchable option; on capacity or quota errors, the next one.

    Every resource is recorded in the ledger before it is created. Raises LaunchError when
    no option could be launched, listing each attempt.

    ``plan`` may come from ``greenml.plan`` or from a file (``Plan.from_json``); a saved plan
    launches the options that were reviewed, through the installed providers.

    ``progress``, if given, is called with a ``greenml.launch.progress.LaunchEvent`` for
    each step as it happens (option tried, member k of N created or up, waiting, failing
    over, rolled back, launched), one call at a time, possibly from a worker thread; the
    same events go to the ``greenml.launch`` logger. A provider whose credentials or
    permissions fail is passed over at once and named once in the LaunchError.

    A launched VM ends by itself when its command exits, and at the latest after
    ``max_hours`` (default: the plan's hours plus 10%, at least 30 minutes);
    ``keep=True`` leaves it running (with a time limit only if ``max_hours`` is given).
    """
    from greenml.launch.loop import launch_plan

    return launch_plan(plan, name=name, run=run, dry_run=dry_run, settings=settings,
                       ledger=ledger, retry=retry, progress=progress, keep=keep,
                       max_hours=max_hours)
