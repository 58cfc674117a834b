"""The documentation keeps up with the code: the site builds with warnings as errors, the hook
reference states every hook's exact signature, every hook has a test named after it, and
the CLI and API references cover every flag and public name."""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import attrs
import pytest

import greenml
from greenml import hookspecs
from greenml.testing import MemoryProvider, ProviderPlugin

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def hookspec_functions() -> dict[str, types.FunctionType]:
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("greenml_")}


def signature_text(fn: types.FunctionType) -> str:
    """``greenml_pue(region: Region) -> PUE | None``, as written in hookspecs.py."""
    sig = inspect.signature(fn)  # annotations stay text: hookspecs.py uses __future__ annotations
    params = ", ".join(p.name if p.annotation is inspect.Parameter.empty
                       else f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"


def section(text: str, heading: str) -> str:
    """The body of a ``## heading`` section, up to the next heading of level two."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1)


def test_the_site_builds_with_warnings_as_errors(tmp_path) -> None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the docs need the test extra's mkdocs packages")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr
    hooks_page = (tmp_path / "hooks" / "index.html").read_text()
    assert all(name in hooks_page for name in hookspec_functions())
    assert 'id="greenml.plan.plan"' in (tmp_path / "api" / "index.html").read_text()


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    specs = hookspec_functions()
    assert len(specs) >= 7
    text = (DOCS / "hooks.md").read_text()
    for name, fn in specs.items():
        body = section(text, name)
        assert f"```python\n{signature_text(fn)}\n```" in body, name
        assert "**Arguments**" in body and "**Example**" in body, name
        assert f"def {name}(" in body, f"the example of {name} implements it"
    documented = set(re.findall(r"^## (greenml_\w+)$", text, re.M))
    assert documented == set(specs), "the reference documents exactly the hookspecs"


def test_the_signature_text_is_derived_from_the_spec() -> None:
    assert signature_text(hookspecs.greenml_pue) == "greenml_pue(region: Region) -> PUE | None"
    assert signature_text(hookspecs.greenml_providers) == \
        "greenml_providers() -> Iterable[Provider]"


def test_every_hook_has_a_test_named_after_it() -> None:
    tree = ast.parse((ROOT / "tests" / "test_hooks.py").read_text())
    tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    missing = {f"test_{name}" for name in hookspec_functions()} - tests
    assert not missing, f"tests/test_hooks.py has no {sorted(missing)}"


def test_the_cli_reference_lists_every_command_and_flag() -> None:
    from greenml.cli import build_parser
    from greenml.cli.arguments import add_job_arguments

    text = (DOCS / "cli.md").read_text()
    job_parser = argparse.ArgumentParser()
    add_job_arguments(job_parser)
    job_flags = {s for a in job_parser._actions for s in a.option_strings} - {"-h", "--help"}
    job_section = section(text, "Job options")
    assert all(f"`{flag}" in job_section for flag in job_flags)
    parser = build_parser()
    assert "greenml --version" in text
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) >= {"plan", "launch", "down", "plugins"}
    summary = text.split("```")[1]  # the page's opening list names every command
    assert {line.split()[1] for line in summary.splitlines() if line.startswith("greenml ")
            and not line.split()[1].startswith("-")} == set(commands.choices)
    for command, sub in commands.choices.items():
        body = section(text, f"greenml {command}")
        flags = {s for a in sub._actions for s in a.option_strings}
        takes_a_job = job_flags <= flags
        if takes_a_job:
            assert "[job options](#job-options)" in body, command
        for action in sub._actions:
            for name in action.option_strings or [action.dest.upper()]:
                if name in ("-h", "--help") or (takes_a_job and name in job_flags):
                    continue
                assert f"`{name}" in body, f"cli.md: 'greenml {command}' lacks {name}"


def test_the_api_reference_covers_every_public_name() -> None:
    text = (DOCS / "api.md").read_text()
    for name in greenml.__all__:
        if name != "__version__":
            module = greenml._EXPORTS.get(name, name)  # the verbs live in their own package
            assert f"::: greenml.{module}.{name}\n" in text, f"api.md lacks greenml.{name}"


def test_the_aws_settings_are_documented() -> None:
    ec2 = pytest.importorskip("greenml_aws.ec2")
    text = section((DOCS / "configuration.md").read_text(), "AWS")
    for key in greenml.provider.settings_help(ec2.AWSSettings):
        assert f"| `{key}` |" in text, key


def test_the_carbon_source_example_runs_as_written(tmp_path, monkeypatch) -> None:
    page = (DOCS / "writing-a-carbon-source.md").read_text()
    code = re.search(r"```python\n(.*?)```", section(page, "Example"), re.S).group(1)
    example = types.ModuleType("meterfile_example")
    exec(compile(code, "writing-a-carbon-source.md", "exec"), example.__dict__)

    class GridZoned(MemoryProvider):
        def regions(self):
            return [attrs.evolve(r, grid_zone=r.country) for r in super().regions()]

    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    pm = greenml.registry.default().manager
    pm.register(example, name="meterfile-example")
    pm.register(ProviderPlugin(GridZoned()), name="memory")
    meter = tmp_path / "meter.csv"
    meter.write_text("zone,start,g_per_kwh\nSE,2026-03-01T10:00+00:00,30\n"
                     "SE,2026-03-01T11:00+00:00,12.5\n")
    job = greenml.Job(accelerator="A100", count=8, hours=10)
    source = example.MeterFile()
    assert source.check_credentials() == (False, "not configured: set METERFILE_PATH")
    monkeypatch.setenv("METERFILE_PATH", str(meter))
    plan = greenml.plan(job, carbon_sources=["meterfile", "embedded"])
    by_region = {o.region.name: o for o in plan.options}
    assert by_region["memory-north-1"].estimate.intensity_g_per_kwh == 12.5
    south = by_region["memory-south-1"]
    # no ES readings: the dataset's figure for the region's zone
    assert south.estimate.intensity_g_per_kwh == greenml.datasets.get(None).figures["ES"]
    assert any("meterfile" in note for note in south.notes)
    monkeypatch.setenv("METERFILE_PATH", str(tmp_path / "missing.csv"))
    with pytest.raises(greenml.CarbonSourceError, match="cannot read the meter file"):
        source.latest(plan.best.region)
