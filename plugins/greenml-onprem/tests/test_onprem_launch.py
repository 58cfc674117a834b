"""Launching on the real local SLURM cluster: sbatch with the planned partition, GRES and time
limit; the job runs; down cancels; refusals fail over; a lost record is found by name."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import time
from datetime import datetime, timedelta, timezone

import attrs
import pytest
from greenml_onprem import OnPrem, jobs
from greenml_onprem.cluster import OnpremWarning
from greenml_onprem.slurm import ControllerUnreachable, Slurm, SlurmError
from onprem_sites import site
from slurm_cluster import GPU_TYPE, GPUS_PER_NODE

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def onprem_plan(count: int = GPUS_PER_NODE, hours: float = 0.5, **job) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=hours,
                                    providers="onprem", **job))


def show_job(cluster, job_id: str) -> dict[str, str]:
    """``scontrol show job`` as a dict (values without spaces are enough here)."""
    text = cluster.run("scontrol", "show", "job", "-o", job_id).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", text))


def without_measure(text: str) -> str:
    """A job's output without the one ``greenml-measure=`` line of its sampler (which
    test_onprem_measure.py checks)."""
    [line] = [x for x in text.splitlines(True) if x.startswith("greenml-measure=")]
    return text.replace(line, "")


def wait_for(cluster, job_id: str, states: set[str], timeout_s: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        job = show_job(cluster, job_id)
        if job.get("JobState") in states or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def test_a_planned_job_runs_with_the_planned_partition_gres_and_time_limit(onprem) -> None:
    plan = onprem_plan(hours=0.5)
    launch = plan.launch(name="bert", run="echo started; echo done", retry=FAST,
                            settings={"workdir": str(onprem.tmp / "runs")})
    assert launch.option == plan.best
    [job] = launch.instances
    assert (job.provider, job.region, job.kind) == ("onprem", "campus", "slurm-job")
    assert job.name == f"greenml-{launch.launch_id}-bert"
    shown = wait_for(onprem.cluster, job.resource_id, {"COMPLETED", "FAILED"})
    assert shown["JobState"] == "COMPLETED"
    assert shown["Partition"] == plan.best.offer.instance_type
    assert shown["TresPerNode"] == f"gres:gpu:{GPU_TYPE}:{GPUS_PER_NODE}"
    assert shown["TimeLimit"] == "00:40:00"  # 30 min + at least 10 min of margin
    assert shown["NumNodes"] == "1" and shown["JobName"] == job.name
    assert shown["NumTasks"] == "1"  # one task per node: the command runs once per node
    assert f"greenml-token=gm-{launch.launch_id}-0-0" in shown["Comment"]
    output = onprem.tmp / "runs" / f"slurm-{job.resource_id}.out"
    assert without_measure(output.read_text()) == "started\ndone\ngreenml-exit=0\n"
    [record] = greenml.status()
    assert (record.name, record.state, record.region) == ("bert", "running", "campus")
    assert [(r.state, r.resource_id) for r in record.resources] == [
        ("created", job.resource_id)]
    provider = plan.catalog.providers["onprem"]
    assert provider.states(launch.instances) == {job.resource_id: "COMPLETED"}
    [record] = greenml.status(refresh=True)  # squeue says the job is over: so is the launch
    assert record.state == "ended" and record.resources[0].live_state == "COMPLETED"
    assert record.exit_code == 0  # the job output's greenml-exit=0 line
    assert greenml.status() == []


def test_shell_metacharacters_reach_the_job_verbatim(onprem) -> None:
    command = """echo "$HOME"; touch 'a b' && rm -rf /nonexistent | cat"""
    here = onprem.tmp / "work"
    here.mkdir()
    launch = onprem_plan().launch(name="quoting", run=command, retry=FAST, settings={
        "chdir": str(here), "output": str(here / "out.txt")})
    [job] = launch.instances
    assert wait_for(onprem.cluster, job.resource_id, {"COMPLETED", "FAILED"})["JobState"] == (
        "COMPLETED")
    assert without_measure((here / "out.txt").read_text()) == (
        os.environ["HOME"] + "\ngreenml-exit=0\n")
    assert (here / "a b").exists()
    [log] = greenml.logs("quoting")  # read where scontrol says the output went (StdOut=)
    assert (without_measure(log.text), log.exit_code) == (
        os.environ["HOME"] + "\ngreenml-exit=0\n", 0)
    [script] = (onprem.tmp / "onprem").rglob("*.sbatch")
    [line] = [line for line in script.read_text().splitlines()
              if line.startswith("greenml_run=")]
    assert shlex.split(line) == [f"greenml_run={command}"]  # one quoted word, run verbatim
    assert 'bash -lc "$greenml_run"' in script.read_text()


def test_down_cancels_a_job_waiting_for_its_planned_start(onprem) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    plan = onprem_plan(earliest_start=later)
    assert plan.best.start is not None and plan.best.start >= later - timedelta(seconds=1)
    launch = plan.launch(name="waiting", run="true", retry=FAST)
    [job] = launch.instances
    shown = show_job(onprem.cluster, job.resource_id)
    assert (shown["JobState"], shown["Reason"]) == ("PENDING", "BeginTime")
    begin = datetime.fromisoformat(shown["StartTime"]).astimezone(timezone.utc)
    assert abs((begin - plan.best.start).total_seconds()) < 60
    slurm = Slurm(plan.catalog.providers["onprem"].inventory().site("campus"))
    as_json = [j for j in slurm._jobs_json() if j.job_id == job.resource_id]
    as_text = [j for j in slurm._jobs_text(all_states=False) if j.job_id == job.resource_id]
    assert as_json == [attrs.evolve(as_text[0], user_id=os.getuid())]  # squeue without --json
    assert (as_text[0].state, as_text[0].name) == ("PENDING", job.name)
    removed = greenml.down("waiting")
    assert [r.resource_id for r in removed] == [job.resource_id]
    assert show_job(onprem.cluster, job.resource_id)["JobState"] == "CANCELLED"
    assert greenml.down("waiting") == []
    [record] = greenml.status("waiting")
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}


def test_a_refused_submission_fails_over_to_the_next_option(onprem) -> None:
    """A plan made when site 'green' had 4 GPUs per node; the cluster now refuses that."""
    onprem.write(site("green", onprem.cluster.conf, grid_zone="SE-SE1"),
                 site("campus", onprem.cluster.conf, grid_zone="PL"))
    catalog = greenml.default_catalog()
    stale = [attrs.evolve(o, accelerators_per_instance=2 * GPUS_PER_NODE)
             for o in catalog.offers if o.provider == "onprem" and o.region == "green"]
    offers = [o for o in catalog.offers if o.provider == "onprem" and o.region == "campus"]
    then = greenml.Catalog(catalog.regions, [*stale, *offers], catalog.accelerators,
                           providers=catalog.providers)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=GPUS_PER_NODE, hours=0.2),
                        catalog=then)
    assert [o.region.name for o in plan.options] == ["green", "green", "campus", "campus"]
    launch = plan.launch(name="failover", run="true", retry=FAST)
    assert launch.option.region.name == "campus"
    first, second = launch.attempts[:2]
    assert (first.region, first.scope, first.code) == (
        "green", "offer", "requested-node-configuration-is-not-available")
    assert "Requested node configuration is not available" in first.reason
    assert second.region == "green" and second.instance_type != first.instance_type
    assert launch.attempts[-1].ok
    [record] = greenml.status()
    assert [r.state for r in record.resources] == ["terminated", "terminated", "created"]


def test_a_lost_record_is_found_by_name_and_cancelled(onprem) -> None:
    """The crash between sbatch and the ledger's record: down still finds the job."""
    plan = onprem_plan(earliest_start=datetime.now(timezone.utc) + timedelta(hours=1))
    provider = plan.catalog.providers["onprem"]
    book = greenml.Ledger()
    launch_id = "0123456789abcdef"
    book.begin_launch(launch_id, "crashed", plan.best.to_dict())
    book.intent("gm-crashed", launch_id, "onprem", "campus", "", "crashed-0")
    request = greenml.provider.InstanceRequest(
        launch_id=launch_id, name="crashed", index=0, option=plan.best, zone=None, run="true",
        token="gm-crashed", tags={"greenml-planned-co2e-kg": "0.1"})
    job = provider.create_instance(request, greenml.provider.Journal(request, None, "onprem"))
    again = provider.create_instance(request, greenml.provider.Journal(request, None, "onprem"))
    assert again.resource_id == job.resource_id  # the same token submits once
    [found] = provider.find_resources(launch_id, ["campus"])
    assert (found.resource_id, found.state) == (job.resource_id, "PENDING")
    down = run_cli("down", "crashed", "--yes")
    assert down.returncode == 0, down.stderr
    assert f"terminated onprem slurm-job {job.resource_id} in campus" in down.stdout
    assert show_job(onprem.cluster, job.resource_id)["JobState"] == "CANCELLED"
    assert provider.find_resources(launch_id, ["campus"]) == []


def test_a_controller_that_does_not_answer_is_a_clear_error(onprem) -> None:
    dead = onprem.cluster.dead_config()
    onprem.write(site("campus", onprem.cluster.conf), site("attic", dead))
    with pytest.warns(OnpremWarning, match="attic"):
        provider = greenml.default_catalog().providers["onprem"]
    ok, why = provider.check_credentials()
    assert ok and why == ""
    attic = provider.inventory().site("attic")
    with pytest.raises(ControllerUnreachable) as info:
        Slurm(attic).run(["sbatch", "--parsable", "--wrap=true"])
    failure = provider.classify(info.value)
    assert failure.stop and failure.scope == "region"
    assert "onprem site 'attic'" in failure.reason and "sbatch" in failure.reason
    assert "Unable to contact slurm controller" in failure.reason
    onprem.write(site("attic", dead))
    ok, why = greenml.default_catalog().providers["onprem"].check_credentials()
    assert not ok and "attic" in why and "scontrol" in why


def test_cli_launch_status_and_down(onprem) -> None:
    args = ["--accelerator", "A100", "--count", str(GPUS_PER_NODE), "--hours", "1",
            "--provider", "onprem", "--name", "cli-run", "--run", "sleep 60"]
    dry = run_cli("launch", *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"--gres=gpu:{GPU_TYPE}:{GPUS_PER_NODE}" in dry.stdout and "--time=70" in dry.stdout
    assert "bash -lc 'sleep 60'" in dry.stdout
    bad = run_cli("launch", *args, "-o", "onprem.time_margin=lots", "--dry-run")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "onprem.time_margin: must be a number >= 0" in bad.stderr
    launched = run_cli("launch", *args)
    assert launched.returncode == 0, launched.stderr
    assert "launched 'cli-run'" in launched.stdout and "campus" in launched.stdout
    [status] = json.loads(run_cli("status", "--json").stdout)
    [resource] = status["resources"]
    job_id = resource["resource_id"]
    assert wait_for(onprem.cluster, job_id, {"RUNNING"})["JobState"] == "RUNNING"
    refreshed = run_cli("status", "--refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.splitlines()[2].endswith("RUNNING"), "squeue, not the ledger"
    down = run_cli("down", "cli-run", "--yes")
    assert down.returncode == 0 and f"terminated onprem instance {job_id}" in down.stdout
    assert wait_for(onprem.cluster, job_id, {"CANCELLED"})["JobState"] == "CANCELLED"
    again = run_cli("down", "cli-run", "--yes")
    assert again.returncode == 0 and "nothing left" in again.stdout


def test_classify_reads_slurm_refusals() -> None:
    from greenml_onprem.inventory import Site

    s = Site(0, "x", "here", "FI", 1.2, "test")

    def read(message: str) -> greenml.provider.Failure:
        return jobs.classify(SlurmError(s.name, ["sbatch"], message))

    assert read("Invalid partition name specified").scope == "offer"
    assert read("Invalid generic resource (gres) specification").scope == "offer"
    assert read("Job violates accounting/QOS policy (job submit limit)").scope == "region"
    assert read("Slurm temporarily unable to accept job, sleeping and retrying").retry
    assert read("Invalid account or account/partition combination specified").stop


def test_the_provider_passes_greenml_s_conformance_kit(onprem) -> None:
    from greenml.testing import check_provider

    @contextlib.contextmanager
    def the_test_cluster():
        yield greenml.Job(accelerator="A100", count=GPUS_PER_NODE, hours=0.2)

    refused = SlurmError("campus", ["sbatch"], "Requested node configuration is not available")
    dead = ControllerUnreachable("campus", ["sbatch"], "Unable to contact slurm controller")
    check_provider(OnPrem, double=the_test_cluster, offline_io=("open", "subprocess"),
                   errors=[(refused, "offer"), (dead, {"scope": "region", "stop": True})])
