"""Gangs and logs on the real local SLURM cluster: each task of a job gets its rank, the node
count and one head address (the names torchrun reads); ``greenml logs`` returns the job's
output with the run's exit code, or SLURM's for a job that never wrote one."""

from __future__ import annotations

import re
import time

from greenml_onprem import jobs
from greenml_onprem.inventory import load
from greenml_onprem.output import parse_fields, slurm_exit_code
from greenml_onprem.slurm import Slurm
from slurm_cluster import GPUS_PER_NODE
from test_onprem_launch import FAST, onprem_plan, show_job, wait_for

import greenml
from greenml.provider import InstanceRequest, Resource
from greenml.testing import run_cli

#: What each task prints: every variable greenml promises before the command starts.
SHOW = ('echo "rank=$GREENML_NODE_RANK nodes=$GREENML_NUM_NODES head=$GREENML_HEAD_ADDR '
        'master=$MASTER_ADDR:$MASTER_PORT node_rank=$NODE_RANK world=$WORLD_SIZE '
        'per_node=$GREENML_ACCELERATORS_PER_NODE"')


def shown(rank: int, nodes: int, head: str) -> str:
    return (f"rank={rank} nodes={nodes} head={head} master={head}:29500 node_rank={rank} "
            f"world={nodes} per_node={GPUS_PER_NODE}")


def test_each_task_of_a_two_task_job_gets_its_rank_and_the_same_head(onprem) -> None:
    """The test cluster has one node: two tasks on it stand for a two-node job, one task per
    node (the script runs srun whenever the job has more than one task)."""
    plan = onprem_plan()
    provider = plan.catalog.providers["onprem"]
    settings = provider.typed_settings({"workdir": str(onprem.tmp / "gang")})
    request = InstanceRequest(launch_id="0123456789abcdef", name="gang", index=0,
                              option=plan.best, zone=None, run=SHOW, token="gm-gang")
    site = provider.inventory().site("campus")
    command = jobs.sbatch_command(request, settings, site,
                                  jobs.gres_for(plan.best, provider.discovered()))
    assert "--ntasks-per-node=1" in command
    command[command.index("--ntasks-per-node=1")] = "--ntasks=2"
    jobs.workdir(request, settings).mkdir(parents=True)
    jobs.script_path(request, settings).write_text(jobs.script_text(request))
    job_id = Slurm(site).run(command).strip().split(";")[0]
    job = wait_for(onprem.cluster, job_id, {"COMPLETED", "FAILED", "CANCELLED"})
    assert (job["JobState"], job["NumTasks"], job["NumNodes"]) == ("COMPLETED", "2", "1")
    lines = (onprem.tmp / "gang" / f"slurm-{job_id}.out").read_text().splitlines()
    head = job["NodeList"]  # the first (here the only) host of the job's node list
    assert sorted(line for line in lines if line.startswith("rank=")) == [
        shown(0, 2, head), shown(1, 2, head)]
    assert lines[-1] == "greenml-exit=0"


def test_logs_return_a_job_s_output_and_its_exit_code(onprem) -> None:
    """One node: rank 0 of 1 without srun; stderr joins the output; the script's exit line."""
    launch = onprem_plan().launch(name="logged", run=f"{SHOW}; echo oops >&2; exit 3",
                                  retry=FAST)
    [job] = launch.instances
    assert wait_for(onprem.cluster, job.resource_id, {"FAILED", "COMPLETED"})["JobState"] == (
        "FAILED")
    [log] = greenml.logs("logged")
    head = show_job(onprem.cluster, job.resource_id)["NodeList"]
    assert (log.node, log.nodes, log.exit_code) == (0, 1, 3)
    # the sampler's line (test_onprem_measure.py reads it), before the exit line
    [measure] = [line for line in log.text.splitlines(True)
                 if line.startswith("greenml-measure=")]
    assert log.text.replace(measure, "") == f"{shown(0, 1, head)}\noops\ngreenml-exit=3\n"
    cli = run_cli("logs", "logged")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == log.text
    [record] = greenml.status(refresh=True)
    assert record.exit_code == 3


def test_a_job_cancelled_before_its_exit_line_gets_slurm_s_exit_code(onprem) -> None:
    launch = onprem_plan().launch(name="cancelled", run="echo begun; sleep 300", retry=FAST)
    [job] = launch.instances
    output = jobs.default_output(job)
    assert wait_for(onprem.cluster, job.resource_id, {"RUNNING"})["JobState"] == "RUNNING"
    assert eventually(lambda: output.exists() and output.read_text() == "begun\n")
    [running] = greenml.logs("cancelled")
    assert (running.text, running.exit_code) == ("begun\n", None)
    assert greenml.down("cancelled")
    fields = wait_for(onprem.cluster, job.resource_id, {"CANCELLED"})
    assert fields["JobState"] == "CANCELLED"
    [log] = greenml.logs("cancelled")
    slurm = Slurm(load(onprem.inventory).site("campus"))
    code = slurm_exit_code(parse_fields(slurm.lines(["scontrol", "show", "job", "--oneliner",
                                                     job.resource_id])[0]))
    assert code is not None and code >= 128  # ended by a signal: 128 + its number
    assert log.exit_code == code
    # (between them, slurmstepd's own "*** JOB N ... CANCELLED AT ... ***" line)
    assert re.fullmatch(rf"begun\n(.*\n)*greenml-exit={code} \(from SLURM: CANCELLED, "
                        r"ExitCode \d+:\d+; the run wrote none\)\n", log.text)


def eventually(check, timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_slurm_s_exit_code_reads_the_shell_s_way() -> None:
    assert slurm_exit_code({"JobState": "COMPLETED", "ExitCode": "0:0"}) == 0
    assert slurm_exit_code({"JobState": "FAILED", "ExitCode": "3:0"}) == 3
    assert slurm_exit_code({"JobState": "CANCELLED", "ExitCode": "0:15"}) == 143
    assert slurm_exit_code({"JobState": "TIMEOUT", "ExitCode": "0:15"}) == 124
    assert slurm_exit_code({"JobState": "RUNNING", "ExitCode": "0:0"}) is None
    fields = parse_fields("JobId=7 JobName=greenml-x-y Comment=greenml-token=gm-1 "
                          "greenml-planned-co2e-kg=0.1 StdOut=/tmp/a b/slurm-7.out Power=")
    assert fields["Comment"] == "greenml-token=gm-1 greenml-planned-co2e-kg=0.1"
    assert (fields["StdOut"], fields["Power"]) == ("/tmp/a b/slurm-7.out", "")


def test_the_default_output_path_is_found_from_either_name_of_a_job() -> None:
    """Once SLURM forgets a job, logs look where the default --output put it: the same
    place whether the ledger (NAME-0) or squeue (the job's name) named the resource."""
    ledger = Resource("onprem", "campus", "42", "instance", "", "bert-0", "abc")
    found = Resource("onprem", "campus", "42", "slurm-job", "", "greenml-abc-bert", "abc")
    path = jobs.default_output(ledger)
    assert path == jobs.default_output(found)
    assert (path.parent.name, path.name) == ("bert-abc", "slurm-42.out")
