"""greenml provider for on-prem clusters: SLURM partitions compete in the plan and run the job.

The inventory (``inventory.py``) says where each site is and what its grid and PUE are; the
cluster says what it has (``cluster.py``, ``discovery.py``); ``OnPrem`` submits, finds and
cancels through ``slurm.py``, with the commands ``jobs.py`` builds. Importing this module runs
nothing and reads nothing: the inventory and the clusters are read on first use, once per
provider instance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import greenml
from greenml.provider import Capability
from greenml_onprem import location
from greenml_onprem.settings import OnPremSettings

if TYPE_CHECKING:
    from greenml.provider import Failure, InstanceRequest, Journal, Resource
    from greenml_onprem.discovery import Discovered
    from greenml_onprem.inventory import Inventory


class OnPrem(greenml.provider.Provider):
    """SLURM clusters described by an inventory file (``GREENML_ONPREM_INVENTORY``)."""

    name = "onprem"
    display_name = "On-prem SLURM clusters"
    capabilities = frozenset({  # defer: --begin; logs: the job's output file
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.GANG, Capability.DEFER,
        Capability.LOGS})
    settings_type = OnPremSettings

    def __init__(self) -> None:
        self._inventory: Inventory | None = None
        self._discovered: Discovered | None = None
        self._unreachable: dict[str, str] = {}

    def inventory(self) -> Inventory:
        if self._inventory is None:
            from greenml_onprem import inventory

            self._inventory = inventory.load()
        return self._inventory

    def discovered(self) -> Discovered:
        """The inventory's sites as read from their clusters (once; raises if none answers)."""
        if self._discovered is None:
            from greenml_onprem.discovery import discover

            self._discovered = discover(self.inventory())
        return self._discovered

    def regions(self) -> Sequence[greenml.Region]:
        if not self._has_sites():  # no inventory: nothing to ask, nothing to import
            return ()
        return self.discovered().regions

    def offers(self) -> Sequence[greenml.Offer]:
        if not self._has_sites():
            return ()
        return self.discovered().offers

    def _has_sites(self) -> bool:
        if self._inventory is None and location.absent():
            return False
        return bool(self.inventory().sites)

    def gang_size(self, option: greenml.Option) -> int:
        return 1  # one sbatch places every node of the job

    def check_credentials(self) -> tuple[bool, str]:
        """Whether the SLURM clients are here and at least one site's controller answers.

        Sites that do not answer are remembered (site -> why), for can_launch.
        """
        from greenml_onprem.slurm import Slurm, SlurmError, missing_commands

        inventory = self.inventory()
        if not inventory.sites:
            return False, (f"no on-prem sites: describe your clusters in "
                           f"{location.default_path()} or name an inventory file in "
                           f"{location.ENV_PATH}")
        missing = missing_commands()
        if missing:
            return False, (f"SLURM client commands not found: {', '.join(missing)} (install "
                           "the SLURM client, e.g. the slurm-client package)")
        self._unreachable.clear()
        for site in inventory.sites:
            try:
                Slurm(site).ping()
            except SlurmError as exc:
                self._unreachable[site.name] = str(exc)
        if len(self._unreachable) == len(inventory.sites):
            return False, "; ".join(self._unreachable.values())
        return True, ""

    def can_launch(self, option: greenml.Option) -> tuple[bool, str]:
        from greenml_onprem import jobs  # slurm and the inventory: launching only

        site = option.region.name
        if self.inventory().site(site) is None:
            return False, f"site {site!r} is not in the inventory any more"
        if site in self._unreachable:
            return False, self._unreachable[site]
        if self._discovered is not None:
            try:
                jobs.gres_for(option, self._discovered)
            except greenml.GreenmlError as exc:
                return False, str(exc)
        return True, ""

    def create_instance(self, request: InstanceRequest, journal: Journal) -> Resource:
        """Submit the launch's one job (or find the one this token already submitted)."""
        from greenml_onprem import jobs
        from greenml_onprem.slurm import Slurm, SlurmError

        settings: OnPremSettings = self.typed_settings(request.settings)
        option = request.option
        site = jobs.site_of(self.inventory(), option.region.name)
        command = jobs.sbatch_command(request, settings, site,
                                      jobs.gres_for(option, self.discovered()))
        slurm = Slurm(site)
        name = jobs.job_name(request.launch_id, request.name)
        token = f"greenml-token={request.token}"
        for job in slurm.jobs(all_states=True):
            if job.name == name and token in job.comment.split():
                return jobs.resource(site, job, request.launch_id)
        jobs.workdir(request, settings).mkdir(parents=True, exist_ok=True)
        script = jobs.script_path(request, settings)
        script.write_text(jobs.script_text(request))
        script.chmod(0o700)
        reply = slurm.run(command).strip()
        job_id = reply.split(";")[0].strip()
        if not re.fullmatch(r"\d+(_\d+)?", job_id):
            raise SlurmError(site.name, command, f"unexpected reply {reply!r}")
        from greenml.provider import Resource

        return Resource(self.name, site.name, job_id, jobs.KIND, "", name, request.launch_id,
                        "PENDING")

    def terminate(self, resources: Sequence[Resource]) -> None:
        """scancel every job; one that is over already is fine."""
        from greenml_onprem import jobs
        from greenml_onprem.slurm import ControllerUnreachable, Slurm, SlurmError

        by_site: dict[str, list[str]] = {}
        for r in resources:
            if r.resource_id:
                by_site.setdefault(r.region, []).append(r.resource_id)
        for name, ids in by_site.items():
            slurm = Slurm(jobs.site_of(self.inventory(), name))
            try:
                slurm.run(["scancel", *slurm.cluster_args, *ids])
            except ControllerUnreachable:
                raise
            except SlurmError as exc:
                if not any(w.lower() in exc.message.lower() for w in jobs.ALREADY_GONE):
                    raise

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        """The live jobs whose name carries ``launch_id``, on the sites named by ``regions``."""
        from greenml_onprem import jobs
        from greenml_onprem.slurm import Slurm

        prefix = jobs.job_name(launch_id, "")
        found = []
        for name in regions:
            site = jobs.site_of(self.inventory(), name)
            found += [jobs.resource(site, job, launch_id) for job in Slurm(site).jobs()
                      if job.name.startswith(prefix)]
        return found

    def states(self, resources: Sequence[Resource]) -> dict[str, str]:
        """SLURM's state of each job (PENDING, RUNNING, COMPLETED, ...) by job id; a job the
        controller no longer remembers (past its MinJobAge, no accounting) is ``gone``."""
        from greenml_onprem import jobs
        from greenml_onprem.slurm import Slurm

        out: dict[str, str] = {}
        for name in sorted({r.region for r in resources}):
            wanted = {r.resource_id for r in resources if r.region == name and r.resource_id}
            known = {job.job_id: job.state
                     for job in Slurm(jobs.site_of(self.inventory(), name)).jobs(all_states=True)}
            out.update({i: known.get(i, "gone") for i in wanted})
        return out

    def ended(self, state: str) -> bool:
        """A finished job (COMPLETED, FAILED, CANCELLED by 1000, ...) or one SLURM forgot."""
        from greenml_onprem.slurm import FINISHED_STATES

        words = state.split()
        return state == "gone" or bool(words) and words[0] in FINISHED_STATES

    def console_output(self, resource: Resource) -> str:
        """The job's output file (``StdOut`` of ``scontrol show job``, else greenml's default
        path), ending in ``greenml-exit=N``: the script's, or SLURM's exit code once over."""
        from greenml_onprem import jobs, output
        from greenml_onprem.slurm import Slurm

        slurm = Slurm(jobs.site_of(self.inventory(), resource.region))
        return output.console_output(slurm, resource, jobs.default_output(resource))

    def classify(self, error: BaseException) -> Failure:
        from greenml_onprem import jobs

        return jobs.classify(error)

    def describe(self, request: InstanceRequest) -> str:
        """The dry-run line: the exact sbatch command and what its script runs; calls nothing."""
        from greenml_onprem import jobs

        site = jobs.site_of(self.inventory(), request.option.region.name)
        command = jobs.sbatch_command(request, self.typed_settings(request.settings), site,
                                      jobs.gres_for(request.option, self.discovered()))
        import shlex

        conf = f"SLURM_CONF={shlex.quote(site.slurm_conf)} " if site.slurm_conf else ""
        per_node = " once per node, through srun" if request.option.instances > 1 else ""
        return (f"onprem site {site.name}: {conf}{shlex.join(command)}  (the script runs"
                f"{per_node}: bash -lc {shlex.quote(request.run)})")


@greenml.hookimpl
def greenml_providers() -> list[greenml.provider.Provider]:
    return [OnPrem()]
