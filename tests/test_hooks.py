"""Every hook in greenml.hookspecs, exercised for real through a registered plugin object.

There is one test per hook, named after it (tests/test_docs.py checks that). Installed plugins
are switched off, and launching goes to greenml.testing's in-memory provider: no cloud here.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import greenml
from greenml import registry
from greenml.testing import MemoryProvider, ProviderPlugin, accelerator, offer

JOB = greenml.Job(accelerator="A100", count=8, hours=10)


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch, tmp_path):
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    monkeypatch.setenv("GREENML_LEDGER", str(tmp_path / "ledger.sqlite3"))


def register(*plugin_objects: object) -> None:
    """Register plugin objects as an installed plugin is, each named after its class."""
    pm = registry.default().manager
    for p in plugin_objects:
        pm.register(p, name=type(p).__name__)


def test_greenml_providers() -> None:
    register(ProviderPlugin(MemoryProvider()))
    catalog = greenml.default_catalog()
    assert isinstance(catalog.providers["memory"], MemoryProvider)
    assert catalog.owners["memory"] == "ProviderPlugin"
    plan = greenml.plan(JOB)
    assert (plan.best.provider, plan.best.region.name) == ("memory", "memory-north-1")
    [info] = [i for i in registry.infos() if i.name == "ProviderPlugin"]
    assert (info.providers, info.hooks) == (("memory",), ("greenml_providers",))


def test_greenml_accelerators(monkeypatch) -> None:
    class Accelerators:
        @greenml.hookimpl
        def greenml_accelerators(self):
            return [accelerator("TESTX", power_w=250, tflops=500)]

    class TestXCloud(MemoryProvider):
        def offers(self):
            return [offer(self.name, "memory-north-1", "mem.testx4", "TESTX", 4, 10.0)]

    register(Accelerators(), ProviderPlugin(TestXCloud()))
    assert greenml.default_catalog().accelerator("testx").tdp_w == 250
    best = greenml.plan(greenml.Job(accelerator="TESTX", count=4, hours=10)).best
    assert (best.offer.instance_type, best.estimate.power_w) == ("mem.testx4", 250)
    assert best.estimate.energy_kwh == pytest.approx(10 * 4 * 250 * 1.1 / 1000)

    class Again:
        @greenml.hookimpl
        def greenml_accelerators(self):
            return [accelerator("TestX", power_w=300)]

    registry.reset()  # a name taken already is refused for the later plugin, with the reason
    register(Accelerators(), Again())
    catalog = greenml.default_catalog()
    assert catalog.accelerator("testx").tdp_w == 250
    assert ("accelerator name or alias 'testx' refused: plugin Accelerators"
            in [e.reason.partition(" (")[0] for e in catalog.problems])
    monkeypatch.setenv("GREENML_STRICT_PLUGINS", "1")
    registry.reset()
    register(Accelerators(), Again())
    with pytest.raises(greenml.PluginError, match="'testx' is registered by more than one"):
        greenml.default_catalog()


def test_greenml_carbon_sources() -> None:
    class SteadyGrid(greenml.CarbonSource):
        name, signal = "steady-grid", "average"

        def latest(self, region):
            return greenml.Reading(datetime(2026, 1, 1, tzinfo=timezone.utc), 5.0, "average",
                                   "measured", self.name, zone=region.name)

    class Sources:
        @greenml.hookimpl
        def greenml_carbon_sources(self):
            return [SteadyGrid()]

    register(Sources(), ProviderPlugin(MemoryProvider()))
    assert "steady-grid" in {s.name for s in greenml.default_catalog().carbon_sources}
    plan = greenml.plan(JOB, carbon_sources=["steady-grid"])
    assert {o.estimate.intensity_g_per_kwh for o in plan.options} == {5.0}
    # by default the dataset's figure for the region's grid zone (SE-SE1 for the test region)
    best = greenml.plan(JOB).best
    assert best.estimate.intensity_g_per_kwh == greenml.datasets.get(None).figures[
        best.region.grid_zone]
    [info] = [i for i in registry.infos() if i.name == "Sources"]
    assert info.carbon_sources == ("steady-grid (average): ready; ",)


def test_greenml_pue() -> None:
    asked = []

    class Meter:
        @greenml.hookimpl
        def greenml_pue(self, region):
            asked.append(region.name)
            if region.name == "memory-south-1":
                return greenml.PUE(1.05, source="the site's own meter", year="2026")
            return None

    class Fallback:
        @greenml.hookimpl
        def greenml_pue(self, region):
            return greenml.PUE(1.9, source="never used for the south", year="2026")

    register(Fallback(), Meter(), ProviderPlugin(MemoryProvider()))
    regions = {r.name: r for r in greenml.default_catalog().regions}
    assert regions["memory-south-1"].pue == greenml.PUE(1.05, "the site's own meter", "2026")
    assert regions["memory-north-1"].pue.value == 1.9  # None from one plugin asks the next
    assert sorted(asked) == ["memory-north-1", "memory-south-1"]


def test_greenml_plan_made() -> None:
    made = []

    class Auditor:
        @greenml.hookimpl
        def greenml_plan_made(self, plan):
            made.append(plan)

    register(Auditor(), ProviderPlugin(MemoryProvider()))
    plan = greenml.plan(JOB)
    assert made == [plan]
    greenml.plan(JOB, notify=False)
    assert made == [plan]


def test_greenml_launched() -> None:
    provider = MemoryProvider()
    seen = []

    class Notifier:
        @greenml.hookimpl
        def greenml_launched(self, launch):
            seen.append((launch.name, launch.option.region.name,
                         sorted(r.resource_id for r in launch.instances)))

    register(Notifier(), ProviderPlugin(provider))
    launch = greenml.plan(greenml.Job(accelerator="A100", count=16, hours=10)).launch(
        name="hooked", run="python train.py")
    ids = sorted(i["id"] for i in provider.cloud.live())
    assert len(ids) == 2 and seen == [("hooked", "memory-north-1", ids)]
    assert launch.instances and seen[0][2] == sorted(r.resource_id for r in launch.instances)


def test_greenml_terminated() -> None:
    provider = MemoryProvider()
    seen = []

    class Notifier:
        @greenml.hookimpl
        def greenml_terminated(self, launch):
            seen.append((launch.name, launch.region, provider.cloud.live()))

    register(Notifier(), ProviderPlugin(provider))
    greenml.plan(JOB).launch(name="hooked", run="true")
    assert seen == []
    greenml.down("hooked")
    assert seen == [("hooked", "memory-north-1", [])]  # called once everything is gone
    greenml.down("hooked")
    assert len(seen) == 1  # nothing left to terminate: not called again
