"""Plugin loading: each entry point in its own try; bad plugins are reported, not fatal."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import greenml
from greenml import registry


def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str,
                   version: str = "0.3.1") -> None:
    """Put a real distribution with a ``greenml`` entry point on sys.path."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    info = tmp_path / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[greenml]\n{name} = {name}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    registry.reset()


@pytest.mark.catalogs
def test_builtin_and_installed_plugins_are_listed() -> None:
    infos = {i.name: i for i in registry.infos()}
    assert {"aws", "gcp", "azure"} <= set(infos)
    aws = infos["aws"]
    assert aws.distribution == "greenml-aws" and aws.version and aws.providers == ("aws",)
    assert "greenml_providers" in aws.hooks


@pytest.mark.catalogs
def test_plugin_that_fails_to_import_is_reported_and_planning_goes_on(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "greenml_broken", "raise ImportError('no module x')")
    failed = [i for i in registry.infos() if i.error]
    assert [(i.name, i.distribution, i.version) for i in failed] == [
        ("greenml_broken", "greenml_broken", "0.3.1")]
    assert "no module x" in failed[0].error
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10))
    assert len(plan) > 0
    assert any(e.field == "plugin" and "no module x" in e.reason for e in plan.excluded)


def test_strict_mode_re_raises(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "greenml_broken2", "raise ImportError('boom')")
    monkeypatch.setenv("GREENML_STRICT_PLUGINS", "1")
    with pytest.raises(ImportError, match="boom"):
        registry.default()


@pytest.mark.catalogs
def test_plugin_returning_bad_data_is_isolated(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "greenml_baddata", """
        import greenml

        class Broken(greenml.provider.Provider):
            name = "broken"
            def regions(self):
                return ["not a region"]
            def offers(self):
                return []

        @greenml.hookimpl
        def greenml_providers():
            return [Broken(), "not a provider"]
    """)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10))
    reasons = [e.reason for e in plan.excluded if e.field == "plugin"]
    assert any("not a provider" in r for r in reasons)
    assert any("provider 'broken'" in r and "not a Region" in r for r in reasons)
    assert "broken" not in {o.provider for o in plan.options}
    [info] = [i for i in registry.infos() if i.name == "greenml_baddata"]
    assert "not a provider" in info.error and "not a Region" in info.error


def test_hook_that_raises_is_isolated(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "greenml_raises", """
        import greenml

        @greenml.hookimpl
        def greenml_accelerators():
            raise RuntimeError("catalog server down")
    """)
    catalog = greenml.default_catalog()
    assert any("catalog server down" in e.reason for e in catalog.problems)
    assert catalog.accelerator("A100")


@pytest.mark.catalogs
def test_two_providers_with_one_name_is_an_error_naming_both_in_strict_mode(tmp_path,
                                                                            monkeypatch):
    """Without strict mode the later plugin is refused (tests/test_plugin_faults.py)."""
    monkeypatch.setenv("GREENML_STRICT_PLUGINS", "1")
    install_plugin(tmp_path, monkeypatch, "greenml_impostor", """
        import greenml

        class FakeAWS(greenml.provider.Provider):
            name = "aws"
            def regions(self):
                return []
            def offers(self):
                return []

        @greenml.hookimpl
        def greenml_providers():
            return [FakeAWS()]
    """)
    with pytest.raises(greenml.PluginError) as info:
        greenml.default_catalog()
    assert "aws" in str(info.value)
    assert "greenml_impostor" in str(info.value) and "aws," in str(info.value) + ","


@pytest.mark.catalogs
def test_plugin_can_add_a_provider_and_override_pue(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "greenml_tinycloud", """
        import greenml
        from greenml.testing import offer, region

        class Tiny(greenml.provider.Provider):
            name = "tiny"
            def regions(self):
                return [region("tiny", "iceland-1", "IS", 1.0, 1.5)]
            def offers(self):
                return [offer("tiny", "iceland-1", "a100.box", "A100", 8, 10.0)]

        @greenml.hookimpl
        def greenml_providers():
            return [Tiny()]

        @greenml.hookimpl
        def greenml_pue(region):
            if region.provider == "tiny":
                return greenml.PUE(1.05, source="tiny's own meter", year="2026")

        seen = []

        @greenml.hookimpl
        def greenml_plan_made(plan):
            seen.append(plan)
    """)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10, providers=["tiny"]))
    assert (plan.best.provider, plan.best.region.name) == ("tiny", "iceland-1")
    assert plan.best.region.pue.value == 1.05
    assert plan.best.region.pue.source == "tiny's own meter"
    import greenml_tinycloud

    assert greenml_tinycloud.seen == [plan]


def test_disable_plugins_leaves_the_core_alone(monkeypatch):
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    catalog = greenml.default_catalog()
    assert catalog.regions == () and catalog.accelerators
    with pytest.raises(greenml.NoFeasibleOption):
        greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10))


# Diagnostics for plugin authors: ``greenml plugins`` and GREENML_TRACE_HOOKS.

CLOUD_FREE_PLUGIN = """
    import greenml
    from greenml.testing import MemoryProvider

    class Lab(MemoryProvider):
        name = "lab"

    @greenml.hookimpl
    def greenml_providers():
        return [Lab()]

    @greenml.hookimpl
    def greenml_plan_made(plan):
        pass
"""


def test_greenml_plugins_shows_distribution_version_hooks_providers_and_failures(
        tmp_path, monkeypatch):
    import json

    from greenml.testing import run_cli

    install_plugin(tmp_path, monkeypatch, "greenml_lab", CLOUD_FREE_PLUGIN, version="2.5.0")
    install_plugin(tmp_path, monkeypatch, "greenml_wrecked", "raise ImportError('no labsdk')")
    env = {"PYTHONPATH": str(tmp_path)}
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    infos = {i["name"]: i for i in json.loads(listed.stdout)}
    lab, wrecked = infos["greenml_lab"], infos["greenml_wrecked"]
    assert (lab["distribution"], lab["version"], lab["providers"], lab["hooks"], lab["error"]) \
        == ("greenml_lab", "2.5.0", ["lab"], ["greenml_plan_made", "greenml_providers"], "")
    assert (wrecked["distribution"], wrecked["version"]) == ("greenml_wrecked", "0.3.1")
    assert wrecked["error"] == "ImportError: no labsdk"
    table = run_cli("plugins", env=env)
    assert table.returncode == 0, table.stderr
    [lab_row] = [line for line in table.stdout.splitlines() if line.startswith("greenml_lab ")]
    assert lab_row.split() == ["greenml_lab", "greenml_lab", "2.5.0", "lab",
                               "plan_made,providers"]
    [wrecked_row] = [line for line in table.stdout.splitlines() if "greenml_wrecked" in line]
    assert "ImportError: no labsdk" in wrecked_row


def test_trace_hooks_prints_every_hook_call_to_stderr(monkeypatch, capsys):
    from greenml.testing import MemoryProvider, ProviderPlugin

    class Auditor:
        @greenml.hookimpl
        def greenml_plan_made(self, plan):
            return "audited"

    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    monkeypatch.setenv("GREENML_TRACE_HOOKS", "1")
    pm = registry.default().manager
    pm.register(ProviderPlugin(MemoryProvider()), name="memory-plugin")
    pm.register(Auditor(), name="auditor")
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10))
    lines = capsys.readouterr().err.splitlines()
    assert ("greenml hook: greenml_providers() [memory-plugin] -> [<MemoryProvider 'memory'>]"
            in lines)
    assert any(line.startswith("greenml hook: greenml_accelerators() "
                               "[greenml.accelerators] -> (Accelerator(")
               for line in lines)
    assert f"greenml hook: greenml_plan_made(plan={plan!r}) [auditor] -> 'audited'" in lines


def test_without_trace_hooks_nothing_is_traced(monkeypatch):
    from greenml.testing import run_cli

    monkeypatch.delenv("GREENML_TRACE_HOOKS", raising=False)
    quiet = run_cli("accelerators", env={"GREENML_DISABLE_PLUGINS": "1"})
    traced = run_cli("accelerators", env={"GREENML_DISABLE_PLUGINS": "1",
                                          "GREENML_TRACE_HOOKS": "1"})
    assert quiet.returncode == traced.returncode == 0 and quiet.stdout == traced.stdout
    assert "greenml hook:" not in quiet.stderr
    assert traced.stderr.startswith("greenml hook: greenml_accelerators() "
                                    "[greenml.accelerators] -> (")
