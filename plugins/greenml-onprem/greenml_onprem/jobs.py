"""Running a planned option on SLURM: one ``sbatch`` per launch, ``scancel`` to end it,
``squeue`` to find it again.

One submission places the whole multi-node job (``--nodes`` x ``--gres=gpu:TYPE:N``), so a
launch is one SLURM job. Its name carries the launch id (``greenml-<launch id>-<name>``),
so ``find_resources`` finds it after a crash between ``sbatch`` and the ledger's record; its
comment carries the idempotency token and the planned kg CO2e. The user's command goes
into a generated batch script, quoted for ``bash -lc``; ``sbatch`` gets an argument list.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenml import Failure, GreenmlError, InputError, InstanceRequest, Resource
from greenml.provider import TAG_CO2E

from .cluster import PROVIDER
from .inventory import Inventory, Site
from .slurm import ClientMissing, ControllerUnreachable, Job, Slurm, SlurmError, missing_commands

if TYPE_CHECKING:
    from greenml import Option

    from .discovery import Discovered

KIND = "slurm-job"
DEFAULT_TIME_MARGIN = 0.1
DEFAULT_TIME_MARGIN_MIN_MINUTES = 10.0
#: A start this close to now is "now": no --begin.
BEGIN_SLACK = timedelta(minutes=1)

SETTINGS = {
    "workdir": "directory for the generated batch script and, by default, the job's output "
               "(default: onprem/<name>-<launch id> beside the ledger); on a real cluster "
               "use a shared filesystem",
    "output": "sbatch --output file pattern (default: <workdir>/slurm-%j.out)",
    "error": "sbatch --error file pattern (default: <workdir>/slurm-%j.err)",
    "chdir": "the job's working directory (default: where greenml runs)",
    "account": "sbatch --account",
    "qos": "sbatch --qos",
    "export": "sbatch --export (default: SLURM's own, ALL)",
    "time_margin": "fraction added to the estimated hours for the time limit (default 0.1)",
    "time_margin_min_minutes": "the fewest minutes added to the estimated hours (default 10)",
}

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


def batch_script(run: str) -> str:
    """A batch script that runs ``run`` once, verbatim, through ``bash -lc``."""
    return "\n".join([
        "#!/bin/bash",
        "# written by greenml: runs the launch's command once, exactly as given",
        f"exec bash -lc {shlex.quote(run)}",
        "",
    ])


# settings


def _number_setting(settings: Mapping[str, Any], key: str, default: float, least: float
                    ) -> float:
    text = settings.get(key)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value >= least):
        raise InputError("set", f"onprem.{key} must be a number >= {least:g}, got {text!r}")
    return value


def time_limit_minutes(hours: float, settings: Mapping[str, Any]) -> int:
    """The estimated runtime plus ``time_margin`` (a fraction) but at least
    ``time_margin_min_minutes``, rounded up to whole minutes."""
    margin = _number_setting(settings, "time_margin", DEFAULT_TIME_MARGIN, 0.0)
    least = _number_setting(settings, "time_margin_min_minutes",
                            DEFAULT_TIME_MARGIN_MIN_MINUTES, 0.0)
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
    return start.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def workdir(request: InstanceRequest) -> Path:
    if request.settings.get("workdir"):
        return Path(str(request.settings["workdir"])).expanduser().absolute()
    from greenml.launch.ledger import default_path

    return default_path().parent / "onprem" / f"{request.name}-{request.launch_id}"


def script_path(request: InstanceRequest) -> Path:
    return workdir(request) / f"{request.token}.sbatch"


def sbatch_command(request: InstanceRequest, site: Site, gres: str) -> list[str]:
    """The exact sbatch argument list for ``request`` (nothing in it passes through a shell)."""
    option, settings = request.option, request.settings
    where = workdir(request)
    command = [
        "sbatch", *Slurm(site).cluster_args, "--parsable",
        f"--job-name={job_name(request.launch_id, request.name)}",
        f"--partition={option.offer.instance_type}",
        f"--nodes={option.instances}",
        f"--gres={gres}",
        f"--time={time_limit_minutes(option.estimate.hours, settings)}",
        f"--output={settings.get('output') or where / 'slurm-%j.out'}",
        f"--error={settings.get('error') or where / 'slurm-%j.err'}",
        f"--comment={comment(request)}",
    ]
    begin = begin_time(option)
    if begin:
        command.append(f"--begin={begin}")
    for key in ("account", "qos", "chdir", "export"):
        if settings.get(key):
            command.append(f"--{key}={settings[key]}")
    command.append(str(script_path(request)))
    return command


# the provider's launch methods


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


def check_credentials(inventory: Inventory, unreachable: dict[str, str]) -> tuple[bool, str]:
    """Whether the SLURM clients are here and at least one site's controller answers.

    Sites that do not answer are remembered in ``unreachable`` (site -> why), for can_launch.
    """
    if not inventory.sites:
        from .inventory import ENV_PATH, default_path

        return False, (f"no on-prem sites: describe your clusters in {default_path()} or "
                       f"name an inventory file in {ENV_PATH}")
    missing = missing_commands()
    if missing:
        return False, (f"SLURM client commands not found: {', '.join(missing)} (install the "
                       "SLURM client, e.g. the slurm-client package)")
    unreachable.clear()
    for site in inventory.sites:
        try:
            Slurm(site).ping()
        except SlurmError as exc:
            unreachable[site.name] = str(exc)
    if len(unreachable) == len(inventory.sites):
        return False, "; ".join(unreachable.values())
    return True, ""


def can_launch(option: Option, inventory: Inventory, discovered: Discovered | None,
               unreachable: Mapping[str, str]) -> tuple[bool, str]:
    site = option.region.name
    if inventory.site(site) is None:
        return False, f"site {site!r} is not in the inventory any more"
    if site in unreachable:
        return False, unreachable[site]
    if discovered is not None:
        try:
            gres_for(option, discovered)
        except GreenmlError as exc:
            return False, str(exc)
    return True, ""


def create(request: InstanceRequest, inventory: Inventory, discovered: Discovered) -> Resource:
    """Submit the launch's one job (or find the one this token already submitted)."""
    option = request.option
    site = site_of(inventory, option.region.name)
    command = sbatch_command(request, site, gres_for(option, discovered))
    slurm = Slurm(site)
    name = job_name(request.launch_id, request.name)
    token = f"greenml-token={request.token}"
    for job in slurm.jobs(all_states=True):
        if job.name == name and token in job.comment.split():
            return _resource(site, job, request.launch_id)
    where = workdir(request)
    where.mkdir(parents=True, exist_ok=True)
    script = script_path(request)
    script.write_text(batch_script(request.run))
    script.chmod(0o700)
    reply = slurm.run(command).strip()
    job_id = reply.split(";")[0].strip()
    if not re.fullmatch(r"\d+(_\d+)?", job_id):
        raise SlurmError(site.name, command, f"unexpected reply {reply!r}")
    return Resource(PROVIDER, site.name, job_id, KIND, "", name, request.launch_id, "PENDING")


def _resource(site: Site, job: Job, launch_id: str) -> Resource:
    return Resource(PROVIDER, site.name, job.job_id, KIND, "", job.name, launch_id, job.state)


def terminate(resources: Sequence[Resource], inventory: Inventory) -> None:
    """scancel every job; one that is over already is fine."""
    by_site: dict[str, list[str]] = {}
    for r in resources:
        if r.resource_id:
            by_site.setdefault(r.region, []).append(r.resource_id)
    for name, ids in by_site.items():
        slurm = Slurm(site_of(inventory, name))
        try:
            slurm.run(["scancel", *slurm.cluster_args, *ids])
        except ControllerUnreachable:
            raise
        except SlurmError as exc:
            if not any(words.lower() in exc.message.lower() for words in ALREADY_GONE):
                raise


def find(launch_id: str, regions: Sequence[str], inventory: Inventory) -> list[Resource]:
    """The live jobs whose name carries ``launch_id``, on the sites named by ``regions``."""
    prefix = job_name(launch_id, "")
    found = []
    for name in regions:
        site = site_of(inventory, name)
        found += [_resource(site, job, launch_id) for job in Slurm(site).jobs()
                  if job.name.startswith(prefix)]
    return found


def states(resources: Sequence[Resource], inventory: Inventory) -> dict[str, str]:
    """resource id -> SLURM's state (PENDING, RUNNING, COMPLETED, ...); a job the controller
    no longer remembers (past its MinJobAge, with no accounting) is ``gone``."""
    out: dict[str, str] = {}
    for name in sorted({r.region for r in resources}):
        wanted = {r.resource_id for r in resources if r.region == name and r.resource_id}
        known = {job.job_id: job.state
                 for job in Slurm(site_of(inventory, name)).jobs(all_states=True)}
        out.update({i: known.get(i, "gone") for i in wanted})
    return out


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


def describe(request: InstanceRequest, inventory: Inventory, discovered: Discovered) -> str:
    """The dry-run line: the exact sbatch command and what its script runs; calls nothing."""
    site = site_of(inventory, request.option.region.name)
    command = sbatch_command(request, site, gres_for(request.option, discovered))
    conf = f"SLURM_CONF={shlex.quote(site.slurm_conf)} " if site.slurm_conf else ""
    return (f"onprem site {site.name}: {conf}{shlex.join(command)}  (the script runs: "
            f"bash -lc {shlex.quote(request.run)})")
