"""What running a planned option on SLURM takes: the ``sbatch`` command and its batch script,
the job's name and output path, and what SLURM's refusals mean. ``OnPrem`` makes the calls
(through ``slurm.py``): one ``sbatch`` per launch, ``scancel`` to end it, ``squeue`` to find
it again.

One submission places the whole multi-node job (``--nodes`` x ``--gres=gpu:TYPE:N``), so a
launch is one SLURM job. Its name carries the launch id (``greenml-<launch id>-<name>``),
so ``find_resources`` finds it after a crash between ``sbatch`` and the ledger's record; its
comment carries the idempotency token and the planned kg CO2e. The user's command goes
into a generated batch script (``batch.py``: once per node, one task each), quoted for
``bash -lc``; ``sbatch`` gets an argument list.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from greenml import GreenmlError, Resource
from greenml.provider import TAG_CO2E, Failure, InstanceRequest
from greenml_onprem.batch import batch_script
from greenml_onprem.cluster import PROVIDER
from greenml_onprem.inventory import Inventory, Site
from greenml_onprem.settings import OnPremSettings
from greenml_onprem.slurm import ClientMissing, ControllerUnreachable, Job, Slurm, SlurmError

if TYPE_CHECKING:
    from greenml import Option
    from greenml_onprem.discovery import Discovered

KIND = "slurm-job"
#: A start this close to now is "now": no --begin.
BEGIN_SLACK = timedelta(minutes=1)

#: SLURM's refusals that one partition (with its GPU type) cannot take this job.
OFFER_REFUSALS = (
    "Requested node configuration is not available",
    "Invalid partition name",
    "invalid partition specified",
    "Invalid generic resource (gres) specification",
    "Requested partition configuration not available now",
    "Node count specification invalid",
    "Requested time limit is invalid",
    "User's group not permitted to use this partition",
    "Invalid feature specification",
)
#: Refusals that cover the whole site for this user (limits, accounting policy).
SITE_REFUSALS = (
    "Job violates accounting/QOS policy",
    "QOSMaxSubmitJobPerUserLimit",
    "AssocMaxSubmitJobLimit",
    "Maximum number of jobs already in the system",
)
#: Refusals that the same submission may get past a moment later.
TRANSIENT = ("Slurm temporarily unable to accept job", "Resource temporarily unavailable",
             "Socket timed out")
#: scancel's words for a job that is already over.
ALREADY_GONE = ("Invalid job id specified", "already completing or completed",
                "Job has already finished")


# naming and recording


def job_name(launch_id: str, name: str) -> str:
    return f"greenml-{launch_id}-{name}"


def comment(request: InstanceRequest) -> str:
    co2e = request.tags.get(TAG_CO2E, "")
    return f"greenml-token={request.token} {TAG_CO2E}={co2e}".strip()


# settings


def time_limit_minutes(hours: float, settings: OnPremSettings) -> int:
    """The estimated runtime plus ``time_margin`` (a fraction) but at least
    ``time_margin_min_minutes``, rounded up to whole minutes."""
    margin, least = settings.time_margin, settings.time_margin_min_minutes
    minutes = hours * 60
    return max(1, math.ceil(max(minutes * (1 + margin), minutes + least) - 1e-9))


def begin_time(option: Option, now: datetime | None = None) -> str | None:
    """``--begin`` in the submitting machine's local time, when the plan chose a later start."""
    schedule = getattr(option, "schedule", None)
    start = getattr(schedule, "start", None)
    if start is None:
        return None
    now = now or datetime.now(timezone.utc)
    if start <= now + BEGIN_SLACK:
        return None
    return str(start.astimezone().strftime("%Y-%m-%dT%H:%M:%S"))


def workdir(request: InstanceRequest, settings: OnPremSettings) -> Path:
    if settings.workdir:
        return Path(settings.workdir).expanduser().absolute()
    return default_workdir(request.name, request.launch_id)


def default_workdir(name: str, launch_id: str) -> Path:
    from greenml.launch.ledger_file import default_path

    return default_path().parent / "onprem" / f"{name}-{launch_id}"


def default_output(resource: Resource) -> Path:
    """Where the default ``--output`` put job ``resource``'s output, from what the ledger
    (``NAME-0``) or ``squeue`` (the job name) calls it: ``logs`` looks there once SLURM has
    forgotten the job."""
    prefix = job_name(resource.launch_id, "")
    name = resource.name
    if resource.launch_id and name.startswith(prefix):
        name = name[len(prefix):]
    else:
        name = re.sub(r"-\d+$", "", name)
    return default_workdir(name, resource.launch_id) / f"slurm-{resource.resource_id}.out"


def script_text(request: InstanceRequest) -> str:
    """The batch script of ``request``: its command once per node, each node's energy
    measured by greenml's sampler where it has python3 (``batch.py``)."""
    return batch_script(request.run, request.option.offer.accelerators_per_instance,
                        measure=True)


def script_path(request: InstanceRequest, settings: OnPremSettings) -> Path:
    return workdir(request, settings) / f"{request.token}.sbatch"


def sbatch_command(request: InstanceRequest, settings: OnPremSettings, site: Site,
                   gres: str) -> list[str]:
    """The exact sbatch argument list for ``request`` (nothing in it passes through a shell)."""
    option = request.option
    where = workdir(request, settings)
    command = [
        "sbatch", *Slurm(site).cluster_args, "--parsable",
        f"--job-name={job_name(request.launch_id, request.name)}",
        f"--partition={option.offer.instance_type}",
        f"--nodes={option.instances}",
        "--ntasks-per-node=1",  # the script's srun: the command once per node
        f"--gres={gres}",
        f"--time={time_limit_minutes(option.estimate.hours, settings)}",
        f"--output={settings.output or where / 'slurm-%j.out'}",
        f"--comment={comment(request)}",
    ]
    if settings.error:  # by default stderr joins the output, which greenml logs shows
        command.append(f"--error={settings.error}")
    begin = begin_time(option)
    if begin:
        command.append(f"--begin={begin}")
    for key, value in (("account", settings.account), ("qos", settings.qos),
                       ("chdir", settings.chdir), ("export", settings.export)):
        if value:
            command.append(f"--{key}={value}")
    command.append(str(script_path(request, settings)))
    return command


# looking things up


def site_of(inventory: Inventory, name: str) -> Site:
    site = inventory.site(name)
    if site is None:
        raise GreenmlError(f"onprem site {name!r} is not in the inventory "
                           f"({inventory.path or 'none configured'}) any more")
    return site


def gres_for(option: Option, discovered: Discovered) -> str:
    """``gpu:TYPE:N`` for one node of ``option``: the cluster's own GRES type name."""
    key = (option.region.name, option.offer.instance_type, option.accelerator.name)
    partition = discovered.partitions.get(key)
    if partition is None:
        raise GreenmlError(f"onprem site {key[0]!r} has no partition {key[1]!r} with "
                           f"{key[2]} any more")
    return partition.gres(option.offer.accelerators_per_instance)


def resource(site: Site, job: Job, launch_id: str) -> Resource:
    """A job as greenml records it."""
    return Resource(PROVIDER, site.name, job.job_id, KIND, "", job.name, launch_id, job.state)


def classify(error: BaseException) -> Failure:
    """SLURM's refusals to failover scopes: a partition that cannot take the job moves on to
    the next option; a controller that does not answer stops the launch with the reason."""
    if isinstance(error, ClientMissing):
        return Failure("provider", str(error), "client-missing", stop=True)
    if isinstance(error, ControllerUnreachable):
        return Failure("region", f"the SLURM controller did not answer: {error}",
                       "controller-unreachable", stop=True)
    if isinstance(error, SlurmError):
        message = error.message
        if any(words.lower() in message.lower() for words in TRANSIENT):
            return Failure("none", str(error), "slurm-busy", retry=True)
        for scope, refusals in (("offer", OFFER_REFUSALS), ("region", SITE_REFUSALS)):
            for words in refusals:
                if words.lower() in message.lower():
                    return Failure(scope, message, _code(words))
        return Failure("none", str(error), "slurm-error", stop=True)
    if isinstance(error, GreenmlError):
        return Failure("none", str(error), type(error).__name__, stop=True)
    return Failure("none", f"{type(error).__name__}: {error}", type(error).__name__, stop=True)


def _code(words: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")
