"""Measured SLURM jobs on the real local cluster: the batch script runs greenml's sampler
around the command on each node; its record lands beside the job's output and its
``greenml-measure=`` line in the output, where ``greenml logs`` and ``greenml report`` read it.
The GPUs are a fake ``nvidia-smi`` on the PATH the job inherits (sbatch exports this
environment); no NVML, no RAPL. The test cluster is slow under load: the bounds are generous.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from greenml_onprem import jobs
from greenml_onprem.slurm import Slurm
from slurm_cluster import GPUS_PER_NODE
from test_onprem_launch import FAST, onprem_plan, wait_for

import greenml
from greenml.measure.records import console_records
from greenml.provider import InstanceRequest
from greenml.testing import run_cli

WATTS = 150.0
DONE = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


@pytest.fixture
def no_hardware(onprem, monkeypatch):
    """The sampler reads no NVML and no RAPL, quickly (what a job sees: sbatch exports it)."""
    monkeypatch.setenv("GREENML_NVML", "0")
    monkeypatch.setenv("GREENML_SAMPLE_INTERVAL_S", "0.05")
    monkeypatch.setenv("GREENML_POWERCAP_ROOT", str(onprem.tmp / "no-powercap"))
    return onprem


@pytest.fixture
def fake_gpus(no_hardware, monkeypatch):
    """A fake nvidia-smi, first on the PATH: GPUS_PER_NODE GPUs at WATTS each."""
    bin_dir = no_hardware.tmp / "fake-bin"
    bin_dir.mkdir()
    lines = "".join(f'echo "{i}, NVIDIA A100-SXM4-80GB, {WATTS}"\n'
                    for i in range(GPUS_PER_NODE))
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\n" + lines)
    (bin_dir / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return no_hardware


def test_a_job_s_output_carries_the_measurement_that_report_reads(fake_gpus) -> None:
    launch = onprem_plan().launch(name="measured", run="sleep 1; echo trained", retry=FAST)
    [job] = launch.instances
    assert wait_for(fake_gpus.cluster, job.resource_id, DONE, timeout_s=180)["JobState"] == (
        "COMPLETED")
    [log] = greenml.logs("measured")
    assert log.exit_code == 0
    lines = log.text.splitlines()
    assert lines[0] == "trained" and lines[-1] == "greenml-exit=0"
    assert lines[-2].startswith("greenml-measure=")
    [record] = console_records(log.text)
    assert [d["method"] for d in record["devices"]] == ["nvidia-smi-power"] * GPUS_PER_NODE
    # the same record beside the job's output
    beside = jobs.default_output(job).with_suffix(".measure.json")
    assert json.loads(beside.read_text()) == record
    done = greenml.report("measured")
    facts = done.to_dict()
    assert done.measured, facts.get("why_not_measured")
    a, m = facts["actual"], facts["measurement"]
    assert a["gpus"] == GPUS_PER_NODE and a["gpu_average_w"] == pytest.approx(WATTS)
    assert m["source"] == "greenml sampler, from the console of measured"
    assert a["hours"] == pytest.approx(record["hours"]) and a["hours"] * 3600 >= 1.0
    cli = run_cli("report", "measured", "--format", "markdown")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith("**Emissions report for measured (measured)**")


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None,
                    reason="this machine has an nvidia-smi: the job would measure it")
def test_a_job_with_nothing_to_measure_says_so_and_report_gives_the_estimate(
        no_hardware) -> None:
    launch = onprem_plan().launch(name="unmeasured", run="echo trained", retry=FAST)
    [job] = launch.instances
    assert wait_for(no_hardware.cluster, job.resource_id, DONE, timeout_s=180)[
        "JobState"] == "COMPLETED"
    [log] = greenml.logs("unmeasured")
    [record] = console_records(log.text)
    assert record["devices"] == [] and "kwh" in record and not record["kwh"]
    assert "no nvidia-smi on PATH" in record["nothing_measured"]
    done = greenml.report("unmeasured")
    assert not done.measured
    assert "no nvidia-smi on PATH" in done.to_dict()["why_not_measured"]
    assert str(done).startswith("Emissions report for unmeasured (estimate)")


def test_each_task_of_a_gang_writes_its_own_record(fake_gpus) -> None:
    """Two tasks on the test cluster's one node stand for two nodes (as in
    test_onprem_gang_logs.py): a record per rank beside the output, a line each in it."""
    plan = onprem_plan()
    provider = plan.catalog.providers["onprem"]
    settings = provider.typed_settings({"workdir": str(fake_gpus.tmp / "gang")})
    request = InstanceRequest(launch_id="0123456789abcdef", name="gang", index=0,
                              option=plan.best, zone=None, run="sleep 1", token="gm-gang")
    site = provider.inventory().site("campus")
    command = jobs.sbatch_command(request, settings, site,
                                  jobs.gres_for(plan.best, provider.discovered()))
    command[command.index("--ntasks-per-node=1")] = "--ntasks=2"
    jobs.workdir(request, settings).mkdir(parents=True)
    jobs.script_path(request, settings).write_text(jobs.script_text(request))
    job_id = Slurm(site).run(command).strip().split(";")[0]
    assert wait_for(fake_gpus.cluster, job_id, DONE, timeout_s=180)["JobState"] == "COMPLETED"
    output = (fake_gpus.tmp / "gang" / f"slurm-{job_id}.out").read_text()
    records = console_records(output)
    assert len(records) == 2 and output.splitlines()[-1] == "greenml-exit=0"
    for rank in (0, 1):
        beside = json.loads((fake_gpus.tmp / "gang" / f"slurm-{job_id}.node{rank}"
                             ".measure.json").read_text())
        assert beside in records and len(beside["devices"]) == GPUS_PER_NODE
