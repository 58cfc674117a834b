"""A broken third-party plugin never stands between a user and ``greenml down`` (issue 17, 1).

Each broken plugin is a real distribution (a dist-info with a ``greenml`` entry point, see
``test_plugins.install_plugin``) on the ``PYTHONPATH`` of a real ``greenml`` subprocess. The
launch it must not block is a real one: the docs' example provider, installed with pip into a
scratch directory, launching against its local Example Cloud over HTTP, recorded in a ledger
file of the test's own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_plugins import CLOUD_FREE_PLUGIN, install_plugin

from greenml.testing import run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "greenml-example-provider"

pytestmark = pytest.mark.catalogs  # the duplicate-name cases need the real greenml-aws

# Broken plugins, each as a user might meet one: name -> (source, what `greenml plugins` says).
BROKEN = {
    "greenml_exits": ("import sys\nsys.exit(3)\n", "SystemExit: the plugin called sys.exit(3)"),
    "greenml_interrupts": ("raise KeyboardInterrupt\n",
                           "KeyboardInterrupt raised by the plugin's own code"),
    "greenml_hook_exits": ("""
        import greenml

        @greenml.hookimpl
        def greenml_providers():
            raise SystemExit("no cloud today")
    """, "greenml_providers failed in plugin greenml_hook_exits: SystemExit"),
    "greenml_hook_interrupts": ("""
        import greenml

        @greenml.hookimpl
        def greenml_accelerators():
            raise KeyboardInterrupt
    """, "greenml_accelerators failed in plugin greenml_hook_interrupts: KeyboardInterrupt"),
    "greenml_impostor": ("""
        import greenml
        from greenml.testing import MemoryProvider

        class FakeAWS(MemoryProvider):
            name = "aws"

        @greenml.hookimpl
        def greenml_providers():
            return [FakeAWS()]
    """, "provider 'aws' refused: plugin aws (greenml-aws "),
    "greenml_bad_regions": ("""
        import sys
        import greenml
        from greenml.testing import MemoryProvider

        class Flaky(MemoryProvider):
            name = "flaky"
            def regions(self):
                sys.exit("flaky catalog server is down")

        @greenml.hookimpl
        def greenml_providers():
            return [Flaky()]
    """, "provider 'flaky' (greenml_bad_regions) returned bad data: SystemExit"),
}


LAUNCH = """
import greenml
from greenml.testing import accelerator, offer, region
from greenml_example import ExampleCloud

catalog = greenml.Catalog([region("example", "example-north-1", "NO", 25.0, 1.1)],
                          [offer("example", "example-north-1", "ex.a100x8", "A100", 8, 10.0)],
                          [accelerator("A100", 400, 312)], providers={"example": ExampleCloud()})
plan = greenml.plan(greenml.Job(accelerator="A100", count=16, hours=10), catalog=catalog)
plan.launch(name="bert", run="python train.py")
"""


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example provider, pip-installed (a real dist-info) into a directory of its own."""
    pytest.importorskip("hatchling", reason="building the example needs hatchling (test extra)")
    pytest.importorskip("pip", reason="installing the example needs pip")
    site = tmp_path_factory.mktemp("example-site")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-cache-dir", "--target", str(site), str(EXAMPLE)],
        capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    return site


@pytest.fixture
def example_cloud() -> Any:
    """The example's own local Example Cloud (tests/example_cloud_fake.py), serving HTTP."""
    spec = importlib.util.spec_from_file_location(
        "example_cloud_fake", EXAMPLE / "tests" / "example_cloud_fake.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.ExampleCloudFake() as fake:
        yield fake


class Scratch:
    """A scratch environment: the example provider, broken plugins, a ledger, the cloud."""

    def __init__(self, tmp_path: Path, site: Path, cloud: Any,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.plugins_dir = tmp_path / "plugins"
        self.plugins_dir.mkdir()
        self.site, self.cloud, self.monkeypatch = site, cloud, monkeypatch
        self.env = {"GREENML_LEDGER": str(tmp_path / "ledger.sqlite3"),
                    "EXAMPLE_CLOUD_URL": cloud.url, "EXAMPLE_CLOUD_TOKEN": cloud.token,
                    "PYTHONPATH": os.pathsep.join([str(self.plugins_dir), str(site)])}

    def install(self, name: str, source: str) -> None:
        install_plugin(self.plugins_dir, self.monkeypatch, name, source)

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={**self.env, **env}, timeout=120)

    def launch(self) -> list[str]:
        """Launch a gang of two on Example Cloud, recorded in the ledger; the ids it made.

        The plan is made over a catalog of the example's one offer, so that what the launch
        needs is the provider alone, whatever the installed catalogs hold.
        """
        made = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True,
                              env={**os.environ, **self.env}, timeout=120)
        assert made.returncode == 0, made.stderr
        running = [i["id"] for i in self.cloud.running()]
        assert len(running) == 2
        return running

    def infos(self, *args: str, **env: str) -> dict[str, dict[str, Any]]:
        listed = self.cli("plugins", "--json", *args, **env)
        assert listed.returncode == 0, listed.stderr
        return {i["name"]: i for i in json.loads(listed.stdout)}


@pytest.fixture
def scratch(tmp_path: Path, example_site: Path, example_cloud: Any,
            monkeypatch: pytest.MonkeyPatch) -> Scratch:
    for key in [k for k in os.environ if k.startswith("GREENML_")]:
        monkeypatch.delenv(key)
    return Scratch(tmp_path, example_site, example_cloud, monkeypatch)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_down_and_status_work_with_a_broken_plugin_installed(scratch: Scratch, name: str
                                                             ) -> None:
    ids = scratch.launch()
    source, error = BROKEN[name]
    scratch.install(name, source)

    status = scratch.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert [r["name"] for r in json.loads(status.stdout)] == ["bert"]
    refreshed = scratch.cli("status", "--refresh", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    [record] = json.loads(refreshed.stdout)
    assert sorted(r["live_state"] for r in record["resources"]) == ["running", "running"]

    down = scratch.cli("down", "bert", "--yes")
    assert down.returncode == 0, down.stderr
    assert sorted(line.split()[3] for line in down.stdout.splitlines()) == sorted(ids)
    assert scratch.cloud.running() == []
    after = scratch.cli("status", "bert", "--json")
    assert [r["state"] for r in json.loads(after.stdout)] == ["down"]

    listed = scratch.infos()  # and `greenml plugins` says what is wrong with the plugin
    assert error in listed[name]["error"]
    assert listed["example"]["providers"] == ["example"]


def test_a_taken_provider_name_is_refused_for_the_later_plugin_only(scratch: Scratch) -> None:
    scratch.install("greenml_impostor", BROKEN["greenml_impostor"][0])
    infos = scratch.infos()
    assert (infos["aws"]["distribution"], infos["aws"]["providers"]) == ("greenml-aws", ["aws"])
    assert infos["aws"]["error"] == ""
    impostor = infos["greenml_impostor"]
    assert impostor["providers"] == []
    assert impostor["error"].startswith("provider 'aws' refused: plugin aws (greenml-aws ")
    assert impostor["error"].endswith("provides it already")

    regions = scratch.cli("regions", "--provider", "aws", "--json")
    assert regions.returncode == 0, regions.stderr
    names = {r["name"] for r in json.loads(regions.stdout)}
    assert "us-east-1" in names and "memory-north-1" not in names


def _listed_without(infos: dict[str, dict[str, Any]], *off: str) -> None:
    """Only the plugins in ``off`` are switched off: they are listed as disabled and were never
    imported (an import would have recorded their error); the rest load as before."""
    for name in off:
        assert infos[name]["disabled"] is True and infos[name]["error"] == "", infos[name]
    assert infos["greenml_lab"]["providers"] == ["lab"] and not infos["greenml_lab"]["disabled"]
    assert infos["aws"]["providers"] == ["aws"] and infos["aws"]["error"] == ""


@pytest.mark.parametrize("where", ["subcommand", "global", "environment"])
def test_disable_plugin_switches_off_just_the_plugins_named(scratch: Scratch, where: str
                                                            ) -> None:
    scratch.install("greenml_lab", CLOUD_FREE_PLUGIN)
    for name in ("greenml_exits", "greenml_impostor"):
        scratch.install(name, BROKEN[name][0])
    assert scratch.infos()["greenml_exits"]["error"], "loaded, the plugin is broken"
    if where == "subcommand":
        infos = scratch.infos("--disable-plugin", "greenml_exits",
                              "--disable-plugin", "greenml-impostor")
    elif where == "global":
        listed = scratch.cli("--disable-plugin", "greenml_exits", "plugins", "--json",
                             "--disable-plugin", "greenml_impostor")
        assert listed.returncode == 0, listed.stderr
        infos = {i["name"]: i for i in json.loads(listed.stdout)}
    else:
        infos = scratch.infos(GREENML_DISABLE_PLUGINS="greenml_exits, greenml-impostor")
    _listed_without(infos, "greenml_exits", "greenml_impostor")


def test_disable_plugin_works_on_down(scratch: Scratch) -> None:
    scratch.launch()
    scratch.install("greenml_exits", BROKEN["greenml_exits"][0])
    down = scratch.cli("down", "bert", "--yes", "--disable-plugin", "greenml_exits")
    assert down.returncode == 0, down.stderr
    assert scratch.cloud.running() == []


def test_an_unknown_plugin_name_to_disable_is_a_usage_error(scratch: Scratch) -> None:
    scratch.install("greenml_exits", BROKEN["greenml_exits"][0])
    wrong = scratch.cli("plugins", "--disable-plugin", "greenml_exit")
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("greenml: error: --disable-plugin: no installed plugin "
                                   "named 'greenml_exit'")
    assert "greenml_exits" in wrong.stderr


def test_disable_plugins_1_still_means_every_installed_plugin(scratch: Scratch) -> None:
    scratch.install("greenml_lab", CLOUD_FREE_PLUGIN)
    infos = scratch.infos(GREENML_DISABLE_PLUGINS="1")
    assert infos["aws"]["disabled"] and infos["greenml_lab"]["disabled"]
    assert infos["greenml.accelerators"]["hooks"]


def test_a_real_ctrl_c_while_plugins_load_still_interrupts(scratch: Scratch) -> None:
    """A SIGINT that arrives while a plugin imports is the user's: greenml stops (exit 130)
    instead of recording the plugin as broken and going on."""
    scratch.install("greenml_slow", """
        import os, signal, time
        os.kill(os.getpid(), signal.SIGINT)  # as a terminal's Ctrl-C: a real signal
        time.sleep(60)
    """)
    interrupted = scratch.cli("plugins")
    assert interrupted.returncode == 130, interrupted.stderr
    assert interrupted.stderr == "greenml: error: interrupted\n"
