"""Launching a fleet (issue 16, 6): each job at its placement, by the single launch's rules;
a job that fails over keeps every limit given the other jobs, or fails alone with the
reason; a dry run creates nothing; the ledger holds every resource; the CLI's exit codes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import greenml
from greenml.cli import main
from greenml.fleet import candidates
from greenml.fleet.launching import NO_FIT
from greenml.launch.ledger import Ledger
from greenml.provider import Capability
from greenml.testing import MemoryProvider, ProviderPlugin

pytest.importorskip("highspy")

NORTH_A100 = "memory/memory-north-1/A100"
SOUTH_A100 = "memory/memory-south-1/A100"


pytestmark = pytest.mark.usefixtures("builtins_only")  # no installed cloud plugins


def three_jobs() -> dict[str, greenml.Job]:
    """Two A100 jobs that both want the clean north, whose quota holds one, and whose
    deadlines leave no time to queue; and an H100 job, under no limit."""
    t0 = candidates.horizon_start(None)
    return {"a": greenml.Job(accelerator="A100", count=8, hours=2,
                             deadline=t0 + timedelta(hours=4)),
            "b": greenml.Job(accelerator="A100", count=8, hours=3,
                             deadline=t0 + timedelta(hours=4)),
            "c": greenml.Job(accelerator="H100", count=8, hours=2)}


def plan(limits: dict[str, int]) -> greenml.fleet.Fleet:
    fleet = greenml.plan_fleet(three_jobs(), limits={"accelerators": limits})
    where = {p.name: (p.region, p.option.accelerator.name) for p in fleet.placements}
    assert where == {"a": ("memory-south-1", "A100"), "b": ("memory-north-1", "A100"),
                     "c": ("memory-north-1", "H100")}
    return fleet


def where(option) -> tuple[str, str, str]:
    return option.provider, option.region.name, option.offer.instance_type


def test_each_job_launches_at_its_placement(greenml_memory_provider, greenml_ledger) -> None:
    fleet = plan({NORTH_A100: 8})
    result = fleet.launch(run="python train.py")
    assert result.ok and not result.failed_over and len(result.launched) == 3
    for job in result.jobs:
        assert where(job.option) == where(job.placement.option)
        assert job.launch_name == f"fleet-{job.name}" == job.launch.name
        assert len(job.launch.instances) == 1 and not job.error
    assert result.co2e_kg == pytest.approx(fleet.co2e_kg)
    assert len(greenml_memory_provider.cloud.live()) == 3
    book = Ledger(greenml_ledger)
    records = {r.name: r for r in book.launches()}
    assert set(records) == {"fleet-a", "fleet-b", "fleet-c"}
    for job in result.jobs:
        made = {r.resource_id for r in job.launch.instances}
        recorded = {r.resource_id for _, r in book.open_resources(job.launch.launch_id)}
        assert made == recorded and records[job.launch_name].state == "running"
    data = json.loads(result.to_json())
    assert (data["jobs"], data["launched"], data["failed"], data["failed_over"]) == (3, 3, 0, 0)
    assert data["results"][1]["placed"]["region"] == "memory-north-1"


def test_a_job_without_capacity_fails_over_to_an_option_that_keeps_the_limits(
        greenml_memory_provider) -> None:
    fleet = plan({NORTH_A100: 8})
    greenml_memory_provider.cloud.inject("create", "InstanceTypeUnavailable",
                                         region="memory-north-1")
    result = fleet.launch(run="python train.py")
    assert result.ok and [j.name for j in result.failed_over] == ["b"]
    b = result.job("b")
    assert where(b.placement.option)[1] == "memory-north-1"
    assert where(b.option) == ("memory", "memory-south-1", "mem.a100x8")
    assert [a.ok for a in b.attempts] == [False, True]
    assert "InstanceTypeUnavailable" in b.attempts[0].reason
    assert where(result.job("c").option)[1] == "memory-north-1", "the others as placed"
    north_a100 = [j for j in result.jobs if where(j.option)[1] == "memory-north-1"
                  and j.option.accelerator.family == "A100"]
    assert sum(j.option.instances * 8 for j in north_a100) <= 8
    assert "(1 failed over)" in result.table().splitlines()[0]


def test_a_failover_that_would_break_a_limit_fails_that_job_alone(
        greenml_memory_provider) -> None:
    # south's quota is held by a until hour 2, and b could not finish by its deadline
    # starting after it: b has nowhere to go, a and c launch as placed.
    fleet = plan({NORTH_A100: 8, SOUTH_A100: 8})
    greenml_memory_provider.cloud.inject("create", "InstanceTypeUnavailable",
                                         region="memory-north-1")
    result = fleet.launch(run="python train.py")
    assert not result.ok
    assert [j.name for j in result.failed] == ["b"]
    assert [j.name for j in result.launched] == ["a", "c"]
    b = result.job("b")
    assert b.option is None and b.launch is None and NO_FIT in b.error
    assert "InstanceTypeUnavailable" in b.error
    assert len(greenml_memory_provider.cloud.live()) == 2
    assert "b: could not launch 'fleet-b'" in result.table()


def test_without_the_limit_the_same_failover_succeeds(greenml_memory_provider) -> None:
    """The control of the test above: only the south quota stops b."""
    fleet = plan({NORTH_A100: 8})
    greenml_memory_provider.cloud.inject("create", "InstanceTypeUnavailable",
                                         region="memory-north-1")
    assert fleet.launch(run="python train.py").job("b").ok


def test_a_dry_run_creates_nothing(greenml_memory_provider, greenml_ledger) -> None:
    fleet = plan({NORTH_A100: 8})
    result = fleet.launch(run="python train.py", dry_run=True)
    assert result.ok and result.dry_run
    assert all(j.launch.dry_run and j.launch.description for j in result.jobs)
    assert [where(j.option) for j in result.jobs] == [where(p.option)
                                                      for p in fleet.placements]
    assert not [c for c in greenml_memory_provider.cloud.calls if c[0] == "create"]
    assert not greenml_ledger.exists()
    assert result.table().startswith("fleet: would launch 3 of 3 jobs")


class Deferring(MemoryProvider):
    """A memory cloud whose scheduler keeps a later start (``Capability.DEFER``)."""

    capabilities = MemoryProvider.capabilities | {Capability.DEFER}


def queued_pair() -> greenml.fleet.Fleet:
    """Two jobs sharing the north quota one after the other: the second starts at hour 2."""
    jobs = {"x": greenml.Job(accelerator="A100", count=8, hours=2),
            "y": greenml.Job(accelerator="A100", count=8, hours=2)}
    fleet = greenml.plan_fleet(jobs, limits={"accelerators": {NORTH_A100: 8}})
    starts = sorted((p.start - fleet.start) / timedelta(hours=1) for p in fleet.placements)
    assert starts == [0, 2] and {p.region for p in fleet.placements} == {"memory-north-1"}
    return fleet


def test_a_provider_that_defers_keeps_the_later_start(greenml_fresh_plugins,
                                                      greenml_ledger) -> None:
    from greenml import registry

    registry.default().manager.register(ProviderPlugin(Deferring()), name="greenml-defer")
    fleet = queued_pair()
    result = fleet.launch(run="python train.py")
    assert result.ok and not result.failed_over
    later = max(fleet.placements, key=lambda p: p.start)
    job = result.job(later.name)
    assert job.option.schedule is not None and job.option.schedule.start == later.start
    assert job.start == later.start


def test_a_later_start_a_cloud_cannot_keep_fails_over_within_the_limits(
        greenml_memory_provider) -> None:
    fleet = queued_pair()
    result = fleet.launch(run="python train.py")
    later = max(fleet.placements, key=lambda p: p.start)
    job = result.job(later.name)
    assert result.ok and job.failed_over
    assert where(job.option)[1] == "memory-south-1", "north's quota is held until hour 2"
    assert "cannot defer a start" in job.attempts[0].reason


def test_names_and_commands_are_checked_before_anything_is_created(
        greenml_memory_provider) -> None:
    fleet = plan({NORTH_A100: 8})
    with pytest.raises(greenml.InputError, match="name_prefix: job 'a': 'Fleet-a' is not"):
        fleet.launch(run="python train.py", name_prefix="Fleet")
    with pytest.raises(greenml.InputError, match="run: no job is named 'd'"):
        fleet.launch(run={"a": "x", "d": "y"})
    with pytest.raises(greenml.InputError, match="run: no command for job 'b'"):
        fleet.launch(run={"a": "x"})
    assert not greenml_memory_provider.cloud.calls
    result = greenml.fleet.launch_fleet(fleet, run={"a": "x", "b": "y", "c": "z"},
                                        name_prefix="wk18", dry_run=True)
    assert [j.launch_name for j in result.jobs] == ["wk18-a", "wk18-b", "wk18-c"]


JOB_FILE = """
[limits]
accelerators = { "memory/memory-north-1/A100" = 8 }

[[job]]
name = "pretrain"
accelerator = "H100"
count = 8
hours = 2

[[job]]
name = "tune"
run = "python tune.py"
accelerator = "A100"
count = 8
hours = 2
"""


def cli(tmp_path, capsys, *args: str, text: str = JOB_FILE) -> tuple[int, str, str]:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    code = main(["launch", "--jobs", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_launches_every_job_and_exits_0(greenml_memory_provider, tmp_path,
                                                    capsys) -> None:
    code, out, err = cli(tmp_path, capsys, "--run", "python train.py", "--name-prefix", "wk",
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["launched"], data["failed"]) == (2, 0)
    assert [r["launch_name"] for r in data["results"]] == ["wk-pretrain", "wk-tune"]
    assert len(greenml_memory_provider.cloud.live()) == 2


def test_the_command_exits_1_when_a_job_failed(greenml_memory_provider, tmp_path,
                                               capsys) -> None:
    # the H100 job launches first and has no other option
    greenml_memory_provider.cloud.inject("create", "InstanceTypeUnavailable",
                                         region="memory-north-1")
    code, out, err = cli(tmp_path, capsys, "--run", "python train.py")
    assert code == 1, err
    assert out.startswith("fleet: launched 1 of 2 jobs")
    assert "pretrain: could not launch 'fleet-pretrain'" in out


def test_the_command_dry_run_exits_0_and_creates_nothing(greenml_memory_provider, tmp_path,
                                                         capsys) -> None:
    code, out, _ = cli(tmp_path, capsys, "--run", "python train.py", "--dry-run")
    assert code == 0 and out.startswith("fleet: would launch 2 of 2 jobs")
    assert not greenml_memory_provider.cloud.calls


@pytest.mark.parametrize(("args", "text", "expected"), [
    (("--run", "x"), JOB_FILE.replace("hours = 2\n", "hour = 2\n", 1),
     "job 'pretrain': unknown field 'hour'"),
    (("--run", "x", "--name-prefix", "Big"), JOB_FILE, "--name-prefix: job 'pretrain': "
     "'Big-pretrain' is not a valid launch name"),
    ((), JOB_FILE, "--run: no command for job 'pretrain'"),
    (("--run", "x", "--accelerator", "A100", "--name", "n"), JOB_FILE,
     "--jobs: the jobs come from"),
    (("--run", "x"), JOB_FILE.replace('run = "python tune.py"', "run = 3"),
     "job 'tune': run: must be the command"),
])
def test_the_command_exits_2_on_bad_input(greenml_memory_provider, tmp_path, capsys, args,
                                          text, expected) -> None:
    code, out, err = cli(tmp_path, capsys, *args, text=text)
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not greenml_memory_provider.cloud.calls


def test_a_single_launch_still_needs_its_name_and_command(greenml_memory_provider,
                                                         capsys) -> None:
    assert main(["launch", "--accelerator", "A100", "--hours", "1", "--run", "x"]) == 2
    assert "--name: required" in capsys.readouterr().err


def test_planning_a_fleet_refuses_what_only_one_jobs_plan_would_use(tmp_path, capsys) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(JOB_FILE)
    assert main(["plan", "--jobs", str(path), "--accelerator", "H100", "--save",
                 str(tmp_path / "p.json"), "--explain"]) == 2
    assert capsys.readouterr().err == (
        f"greenml: error: --jobs: the jobs come from {path}: leave out --accelerator, "
        "--explain, --save (they are for one job's plan)\n")
    assert not (tmp_path / "p.json").exists()
