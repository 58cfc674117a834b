"""greenml provider for on-prem clusters: SLURM partitions compete in the plan and run the job.

The inventory (``inventory.py``) says where each site is and what its grid and PUE are; the
cluster says what it has (``cluster.py``, ``discovery.py``); ``jobs.py`` submits, finds and
cancels. Importing this module runs nothing and reads nothing: the inventory and the
clusters are read on first use, once per provider instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import greenml
from greenml.provider import Capability

if TYPE_CHECKING:
    from .discovery import Discovered
    from .inventory import Inventory


class OnPrem(greenml.Provider):
    """SLURM clusters described by an inventory file (``GREENML_ONPREM_INVENTORY``)."""

    name = "onprem"
    display_name = "On-prem SLURM clusters"
    capabilities = frozenset({  # defer: --begin
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.GANG, Capability.DEFER})

    def __init__(self) -> None:
        self._inventory: Inventory | None = None
        self._discovered: Discovered | None = None
        self._unreachable: dict[str, str] = {}

    def inventory(self) -> Inventory:
        if self._inventory is None:
            from . import inventory

            self._inventory = inventory.load()
        return self._inventory

    def discovered(self) -> Discovered:
        """The inventory's sites as read from their clusters (once; raises if none answers)."""
        if self._discovered is None:
            from .discovery import discover

            self._discovered = discover(self.inventory())
        return self._discovered

    def regions(self) -> Sequence[greenml.Region]:
        if not self.inventory().sites:  # no inventory: nothing to ask, nothing to import
            return ()
        return self.discovered().regions

    def offers(self) -> Sequence[greenml.Offer]:
        if not self.inventory().sites:
            return ()
        return self.discovered().offers

    def check_credentials(self) -> tuple[bool, str]:
        from . import jobs

        return jobs.check_credentials(self.inventory(), self._unreachable)

    def can_launch(self, option: greenml.Option) -> tuple[bool, str]:
        from . import jobs

        return jobs.can_launch(option, self.inventory(), self._discovered, self._unreachable)

    def gang_size(self, option: greenml.Option) -> int:
        return 1  # one sbatch places every node of the job

    def create_instance(self, request: greenml.InstanceRequest,
                        journal: greenml.Journal) -> greenml.Resource:
        from . import jobs

        return jobs.create(request, self.inventory(), self.discovered())

    def terminate(self, resources: Sequence[greenml.Resource]) -> None:
        from . import jobs

        jobs.terminate(resources, self.inventory())

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[greenml.Resource]:
        from . import jobs

        return jobs.find(launch_id, regions, self.inventory())

    def states(self, resources: Sequence[greenml.Resource]) -> dict[str, str]:
        """SLURM's state of each job (PENDING, RUNNING, COMPLETED, ...) by job id."""
        from . import jobs

        return jobs.states(resources, self.inventory())

    def ended(self, state: str) -> bool:
        """A finished job (COMPLETED, FAILED, CANCELLED by 1000, ...) or one SLURM forgot."""
        from .slurm import FINISHED_STATES

        words = state.split()
        return state == "gone" or bool(words) and words[0] in FINISHED_STATES

    def classify(self, error: BaseException) -> greenml.Failure:
        from . import jobs

        return jobs.classify(error)

    def describe(self, request: greenml.InstanceRequest) -> str:
        from . import jobs

        return jobs.describe(request, self.inventory(), self.discovered())

    def settings_help(self) -> dict[str, str]:
        from . import jobs

        return dict(jobs.SETTINGS)


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [OnPrem()]
