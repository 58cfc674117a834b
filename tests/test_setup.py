"""Set-up in two commands: what the README, CI, the docs and the Makefile say agree.

CI runs the README's ``ci:run`` and ``ci:test`` blocks (``.ci/run``); the docs quickstart
gives the same set-up command; ``make plan`` installs the runtime alone (core and the four
plugins), ``make test`` adds the test and docs tools. ``make -n`` prints what make would run
without running it, so these checks cost nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PLUGINS = ("greenml-aws", "greenml-gcp", "greenml-azure", "greenml-onprem")


def block(marker: str) -> str:
    found = re.search(rf"<!-- ci:{marker} -->\n```sh\n(.*?)```", README, re.S)
    assert found, f"README.md has no ci:{marker} block"
    return found.group(1).strip()


def test_the_readme_sets_up_in_two_commands_that_ci_runs() -> None:
    assert (block("run"), block("test")) == ("make plan", "make test")
    assert "<!-- ci:install -->" not in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "for step in run test; do" in ci
    assert "git clone" in README.split("<!-- ci:run -->")[0]


def test_the_docs_quickstart_uses_the_readme_command() -> None:
    index = (ROOT / "docs" / "index.md").read_text()
    quickstart = index.split("## Quickstart", 1)[1]
    first = re.search(r"```sh\n(.*?)```", quickstart, re.S)
    assert first and first.group(1).strip() == block("run")


def dry_run(target: str, venv: Path) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # Run as a make of its own, also when the tests themselves run under ``make test``.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PLAN_ARGS", "PYTEST_ARGS")}
    done = subprocess.run([make, "--no-print-directory", "-n", "-B", target, f"VENV={venv}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_plan_installs_the_runtime_only_and_runs_the_main_job(tmp_path) -> None:
    out = dry_run("plan", tmp_path / "venv")
    installs = [line for line in out.splitlines() if "pip install" in line and " -e " in line]
    assert len(installs) == 1
    assert all(f"plugins/{p}" in installs[0] for p in PLUGINS)
    assert "[test]" not in out
    assert out.strip().splitlines()[-1].endswith(
        "/bin/greenml plan --accelerator A100 --count 8 --hours 72")


def test_make_test_adds_the_test_tools_then_runs_pytest(tmp_path) -> None:
    out = dry_run("test", tmp_path / "venv")
    assert 'pip install -q -e ".[test]"' in out
    assert out.index(".[test]") > out.index("plugins/greenml-onprem")
    assert out.strip().splitlines()[-1].endswith("/bin/pytest")
