"""What a provider can do, declared as data so that greenml can tell before calling anything."""

from __future__ import annotations

import enum


class Capability(str, enum.Enum):
    """What a provider may declare in ``capabilities``.

    A ``str`` enum, so a provider may list members or their plain names alike
    (``Capability.LAUNCH == "launch"``); the conformance kit refuses any other name.
    """

    PLAN = "plan"  #: regions and offers greenml can plan on
    LAUNCH = "launch"  #: create_instance / terminate / find_resources
    SPOT = "spot"  #: spot or preemptible instances
    DOWN = "down"  #: terminate and find what a launch left
    GANG = "gang"  #: several instances for one job
    #: ``create_instance`` keeps a later start the plan chose
    #: (``request.option.schedule.start``), as a scheduler's begin time does; greenml
    #: launches such options only on providers that declare it.
    DEFER = "defer"
    #: ``console_output`` reads what an instance printed (its serial console, a job's output
    #: file), for ``greenml logs`` and the exit code ``greenml status --refresh`` shows.
    LOGS = "logs"
    #: ``quotas`` reads the account's GPU quotas from the platform (``greenml quotas``),
    #: converted to accelerators, for a fleet's ``[limits]``.
    QUOTAS = "quotas"


#: Every capability's plain name, for checking what a provider declares.
CAPABILITIES = frozenset(c.value for c in Capability)
