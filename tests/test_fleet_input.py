"""Job files and fleet arguments: what is accepted, and one line naming the file, the job
or the limit for what is not; the solver loads only when a fleet is planned."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from fleet_catalogs import NOW, small_catalog

import greenml
from greenml.errors import InputError
from greenml.fleet import read_jobs
from greenml.fleet.planning import parse_weigh

GOOD = """
budget_usd = 5000

[limits]
accelerators = { "p/clean/A100" = 8 }
provider_accelerators = { q = 16 }
apart = [["ft-1", "ft-2"]]

[[job]]
name = "ft-1"
accelerator = "A100"
count = 8
hours = 2
deadline = 2026-05-01T12:00:00Z

[[job]]
name = "ft-2"
accelerator = "A100"
count = 8
hours = 2
earliest_start = "2026-05-01T01:00Z"
"""


def write(tmp_path, text):
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    return path


def test_a_job_file_reads_jobs_limits_and_budget(tmp_path):
    jobs = read_jobs(write(tmp_path, GOOD))
    assert list(jobs.jobs) == ["ft-1", "ft-2"]
    assert jobs.jobs["ft-1"].deadline == datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
    assert jobs.jobs["ft-2"].earliest_start == datetime(2026, 5, 1, 1, tzinfo=timezone.utc)
    assert jobs.budget_usd == 5000
    assert jobs.limits.accelerators == {("p", "clean", "A100"): 8}
    assert jobs.limits.apart == (("ft-1", "ft-2"),)
    pytest.importorskip("highspy")
    fleet = greenml.plan_fleet(jobs, catalog=small_catalog(), now=NOW)
    assert fleet.budget_usd == 5000 and fleet.placement("ft-2").start >= jobs.jobs[
        "ft-2"].earliest_start
    assert fleet.placement("ft-1").region != fleet.placement("ft-2").region


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("hours = 2\ndeadline", "hour = 2\ndeadline"),
     "jobs.toml: job 'ft-1': unknown field 'hour'; accepted: name, accelerator"),
    (GOOD.replace('name = "ft-2"', 'name = "ft-1"'),
     "jobs.toml: job 'ft-1': the name is used twice"),
    (GOOD.replace("budget_usd = 5000", "budget = 5000"),
     "jobs.toml: unknown key 'budget'; accepted: job, limits, budget_usd"),
    (GOOD.replace("budget_usd = 5000", "budget_usd = -5"),
     "jobs.toml: budget_usd: must be a positive number of USD, got -5"),
    (GOOD.replace("count = 8\nhours = 2\ndeadline", "count = -8\nhours = 2\ndeadline"),
     "jobs.toml: job 'ft-1': count: must be at least 1, got -8"),
    (GOOD.replace('"p/clean/A100" = 8', '"p/clean/A100" = -1'),
     "jobs.toml: limits.accelerators['p/clean/A100']: must be a whole number of "
     "accelerators, 0 or more, got -1"),
    (GOOD.replace('"p/clean/A100" = 8', '"p/clean/A100" = "lots"'),
     "must be a whole number of accelerators, 0 or more, got 'lots'"),
    (GOOD.replace("provider_accelerators", "providers"),
     "jobs.toml: limits: unknown key 'providers'"),
    (GOOD.replace("deadline = 2026-05-01T12:00:00Z", "deadline = 2026-05-01T12:00:00"),
     "jobs.toml: job 'ft-1': deadline: give a time zone"),
    (GOOD.replace('name = "ft-2"\n', ''), "jobs.toml: job #2: needs a name"),
    ("[limits]\n", "jobs.toml: no [[job]] table"),
    ("[[job]\n", "jobs.toml: not valid TOML"),
])
def test_bad_job_files_name_the_file_the_job_and_the_field(tmp_path, text, expected):
    with pytest.raises(InputError) as caught:
        read_jobs(write(tmp_path, text))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_fields_suggest_the_closest(tmp_path):
    with pytest.raises(InputError) as caught:
        read_jobs(write(tmp_path, GOOD.replace("hours = 2\ndeadline", "hour = 2\ndeadline")))
    assert caught.value.suggestions[0] == "hours"


@pytest.mark.parametrize(("limits", "expected", "hint"), [
    ({"accelerators": {"p/clen/A100": 8}}, "unknown p region 'clen'", "clean"),
    ({"accelerators": {"p/clean/A10O": 8}}, "unknown accelerator family 'A10O'", "A100"),
    ({"accelerators": {"pp/clean/A100": 8}}, "unknown provider 'pp'", "p"),
    ({"accelerators": {"clean/A100": 8}}, "a limit is named provider/region/family", None),
    ({"provider_accelerators": {"q": 2.5}}, "must be a whole number of accelerators", None),
    ({"provider_accelerators": {"q": True}}, "must be a whole number of accelerators", None),
    ({"apart": [["a", "zz"]]}, "no job is named 'zz'", None),
    ({"apart": [["a"]]}, "a group names two or more different jobs", None),
])
def test_limits_naming_unknown_things_or_bad_numbers_are_refused(limits, expected, hint):
    pytest.importorskip("highspy")
    jobs = {"a": greenml.Job(accelerator="A100", count=8, hours=2),
            "b": greenml.Job(accelerator="A100", count=8, hours=2)}
    with pytest.raises(InputError) as caught:
        greenml.plan_fleet(jobs, limits=limits, catalog=small_catalog(), now=NOW)
    assert expected in str(caught.value)
    if hint:
        assert hint in caught.value.suggestions


def test_a_job_no_option_can_serve_is_named():
    pytest.importorskip("highspy")
    jobs = {"fine": greenml.Job(accelerator="A100", count=8, hours=2),
            "huge": greenml.Job(accelerator="A100", count=8, hours=2, countries=["US"])}
    with pytest.raises(InputError, match="jobs: job 'huge': no option can serve it"):
        greenml.plan_fleet(jobs, catalog=small_catalog(), now=NOW)
    late = {"late": greenml.Job(accelerator="A100", count=8, hours=10,
                                deadline=datetime(2026, 5, 1, 5, tzinfo=timezone.utc))}
    with pytest.raises(InputError, match="job 'late': deadline: no option finishes in time"):
        greenml.plan_fleet(late, catalog=small_catalog(), now=NOW)


@pytest.mark.parametrize(("weigh", "expected"), [
    ("co2=1,dollars=2", "unknown weight 'dollars'"),
    ("co2=x", "not a number"),
    ({"usd": -1}, "must be a number, 0 or more"),
    ({"co2": 0}, "at least one weight above 0"),
    ("co2", "expected NAME=NUMBER pairs"),
])
def test_bad_weights(weigh, expected):
    with pytest.raises(InputError, match=expected):
        parse_weigh(weigh)


def cli(tmp_path, text, *extra):
    """``greenml plan --jobs FILE ...`` through the real command line."""
    from greenml.cli import main

    return main(["plan", "--jobs", str(write(tmp_path, text)), *extra])


EMBEDDED = """
[limits]
accelerators = { "gcp/europe-north1/A100" = 8 }

[[job]]
name = "ft-1"
accelerator = "A100"
count = 8
hours = 4
"""


def test_the_command_prints_the_table_or_json(tmp_path, capsys):
    pytest.importorskip("highspy")
    assert cli(tmp_path, EMBEDDED) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 jobs:") and "greedy in the given order" in out
    assert cli(tmp_path, EMBEDDED, "--json", "--weigh", "co2=1,usd=0.1") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weigh"] == {"co2": 1.0, "usd": 0.1} and data["solver"]["status"] == "optimal"


def test_the_command_refuses_bad_input_with_one_line_and_exit_2(tmp_path, capsys):
    pytest.importorskip("highspy")
    bad = EMBEDDED.replace("europe-north1", "europe-nort1")
    assert cli(tmp_path, bad) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"greenml: error: {tmp_path / 'jobs.toml'}: limits.accelerators")
    assert "unknown gcp region 'europe-nort1'" in err and "'europe-north1'" in err
    assert cli(tmp_path, EMBEDDED, "--weigh", "co2=1,eur=2") == 2
    assert capsys.readouterr().err.startswith("greenml: error: --weigh: unknown weight 'eur'")


def test_the_command_names_the_moves_of_an_infeasible_fleet(tmp_path, capsys):
    pytest.importorskip("highspy")
    text = EMBEDDED.replace('"gcp/europe-north1/A100" = 8', '"aws/eu-north-1/A100" = 4'
                            ).replace('hours = 4', 'hours = 4\nregions = ["eu-north-1"]')
    assert cli(tmp_path, text) == 1
    err = capsys.readouterr().err
    assert "raise the limit aws/eu-north-1/A100 from 4 to 8 accelerators (+4)" in err


PLAN_ONLY = """
import sys
import greenml
plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
assert callable(greenml.plan_fleet) and greenml.Fleet.__name__ == "Fleet"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("highspy", "scipy"))
assert not loaded, loaded
"""


def test_single_job_planning_never_imports_the_solver():
    result = subprocess.run([sys.executable, "-c", PLAN_ONLY], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


NO_SOLVER = """
import sys
sys.modules["highspy"] = None  # as if the fleet extra were not installed
import greenml
try:
    greenml.plan_fleet({"a": greenml.Job(accelerator="A100", count=8, hours=2)})
except greenml.fleet.SolverMissing as exc:
    print(exc)
"""


def test_without_the_solver_the_error_says_how_to_install_it():
    result = subprocess.run([sys.executable, "-c", NO_SOLVER], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'greenml[fleet]'" in result.stdout
