"""``greenml plan --statement / --chart / --export skypilot [--run]`` as a user runs them."""

from __future__ import annotations

import json
import sys

import pytest

from greenml.cli import main

JOB = ["plan", "--accelerator", "A100", "--count", "8", "--hours", "72", "--country", "SE,FI"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*JOB, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("args", "needle"), [
    (["--statement", "xml"], "argument --statement: invalid choice: 'xml' (choose from "
                             "'markdown', 'latex', 'json')"),
    (["--export", "sky"], "argument --export: invalid choice: 'sky' (choose from 'skypilot')"),
    (["--chart", "plan.gif"], "--chart: cannot tell the format of 'plan.gif': accepted "
                              "suffixes are .svg, .png, .pdf"),
    (["--run", "python train.py"], "--run: only with --export skypilot"),
    (["--statement", "json", "--json"], "--statement: prints on stdout: not with --json"),
    (["--export", "skypilot", "--statement", "latex"], "--statement: prints on stdout: not "
                                                       "with --export"),
    (["--jobs", "jobs.toml", "--chart", "x.svg"], "--chart: describes one job's plan: not "
                                                  "with --jobs"),
])
def test_bad_output_flags_exit_2_with_one_line(capsys, args, needle) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("greenml: error: ") and needle in err


def test_a_chart_without_matplotlib_says_how_to_install_it(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(capsys, "--chart", "plan.svg")
    assert code == 2 and out == ""
    assert err == ("greenml: error: --chart needs an optional extra: "
                   "pip install 'greenml[charts]'\n")


@pytest.mark.catalogs
def test_the_statement_and_the_task_take_stdout(capsys) -> None:
    code, out, _ = run(capsys, "--statement", "json")
    assert code == 0 and json.loads(out)["kind"] == "estimate"
    code, out, _ = run(capsys, "--export", "skypilot", "--run", "python train.py")
    assert code == 0 and "\nrun: \"python train.py\"\n" in out and "kg CO2e" not in out.split(
        "\n", 2)[2]


@pytest.mark.catalogs
def test_the_chart_is_drawn_and_the_table_still_printed(capsys, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "plan.svg"
    code, out, err = run(capsys, "--chart", str(path))
    assert code == 0 and out.startswith("greenml plan: 8 x A100")
    assert err == f"greenml: drew the plan to {path}\n"
    assert "<svg" in path.read_text()
