"""A plan saved to a file launches exactly what was reviewed, or says why it will not.

The in-memory provider (``greenml.testing.MemoryProvider``) stands in for a cloud; the AWS
plugin's tests do the same round trip through the CLI against the EC2 double.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import greenml
from greenml import Plan, registry
from greenml.carbon import CarbonSource, Reading
from greenml.plan.compute import replan
from greenml.testing import MemoryProvider, ProviderPlugin, offer, run_cli

HOUR = timedelta(hours=1)
JOB = greenml.Job(accelerator="A100", count=8, hours=10)


@pytest.fixture(autouse=True)
def _memory_only(monkeypatch, greenml_fresh_plugins, greenml_ledger):
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")


def register(provider: MemoryProvider) -> MemoryProvider:
    registry.default().manager.register(ProviderPlugin(provider), name="memory-plugin")
    return provider


class Dearer(MemoryProvider):
    """The same cloud a month later: the north region's A100s cost more."""

    def offers(self):
        first, *rest = super().offers()
        return (offer(self.name, first.region, first.instance_type, "A100", 8, 45.0, 12.0),
                *rest)


def test_a_saved_plan_reads_back_equal_and_launches_its_best(greenml_ledger) -> None:
    provider = register(MemoryProvider())
    plan = greenml.plan(JOB)
    loaded = Plan.from_json(plan.to_json(), source="plan.json")
    assert loaded.options == plan.options and loaded.pareto == plan.pareto
    assert loaded.job == plan.job and loaded.baseline == plan.baseline
    assert loaded.to_dict() == plan.to_dict() and loaded.table() == plan.table()
    assert loaded.stale() == ""
    launch = loaded.launch(name="saved", run="python train.py")
    assert launch.option == plan.best
    [instance] = provider.cloud.live()
    assert (instance["region"], instance["instance_type"]) == (
        plan.best.region.name, plan.best.offer.instance_type)
    [record] = greenml.status(ledger=greenml_ledger)
    assert (record.name, record.provider, record.region, record.instance_type) == (
        "saved", "memory", plan.best.region.name, plan.best.offer.instance_type)


def test_a_saved_plan_fails_over_in_the_order_reviewed() -> None:
    provider = register(MemoryProvider())
    plan = greenml.plan(JOB)
    loaded = Plan.from_json(plan.to_json())
    provider.cloud.inject("create", "QuotaExceeded", region=plan.best.region.name)
    launch = loaded.launch(name="failover", run="true")
    next_region = next(o for o in plan.options if o.region.name != plan.best.region.name)
    assert launch.option == next_region
    assert [a.region for a in launch.attempts] == [plan.best.region.name,
                                                   next_region.region.name]


def test_a_plan_saved_on_another_catalog_is_refused_and_can_be_replanned() -> None:
    register(MemoryProvider())
    text = greenml.plan(JOB).to_json()
    registry.reset()
    provider = register(Dearer())
    loaded = Plan.from_json(text, source="old-plan.json")
    assert "old-plan.json was made on another catalog than the installed one" in loaded.stale()
    with pytest.raises(greenml.InputError, match=r"^plan: old-plan.json was made on another "
                       r"catalog .* greenml.plan\(plan.job\)\)$"):
        loaded.launch(name="stale", run="true", dry_run=True)
    assert provider.cloud.calls == []
    fresh = replan(loaded)
    assert fresh.stale() == "" and fresh.best.estimate.cost_usd != loaded.best.estimate.cost_usd
    assert fresh.launch(name="fresh", run="true").option == fresh.best


def tampered(text: str, change) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(text)
    change(data)
    return json.dumps(data)


def test_a_plan_whose_dataset_changed_is_refused() -> None:
    register(MemoryProvider())
    text = greenml.plan(JOB).to_json()
    assert json.loads(text)["catalog"]["carbon_data"]["name"] == greenml.datasets.default_name()

    def older(data: dict[str, Any]) -> None:
        data["catalog"]["carbon_data"]["version"] = "sha256:0123456789ab"

    with pytest.raises(greenml.InputError, match="another version of the dataset "
                       "electricitymaps-"):
        Plan.from_json(tampered(text, older), "p.json").launch(name="xx", run="true")

    def gone(data: dict[str, Any]) -> None:
        data["catalog"]["carbon_data"]["name"] = "electricitymaps-1999"

    assert "which this greenml does not have" in Plan.from_json(tampered(text, gone)).stale()


class Forecast(CarbonSource):
    name = "handmade"
    signal = "average"

    def forecast(self, region, start, end=None):
        now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        return [Reading(now + i * HOUR, 300.0 - 5 * i, "average", "forecast", self.name,
                        region.name, 3600) for i in range(24)]


def test_a_time_shifted_plan_keeps_its_schedules_to_the_second() -> None:
    register(MemoryProvider())
    job = greenml.Job(accelerator="A100", count=8, hours=2,
                      deadline=datetime.now(timezone.utc) + 30 * HOUR)
    plan = greenml.plan(job, carbon_sources=[Forecast()])
    loaded = Plan.from_json(plan.to_json())
    assert [o.schedule for o in loaded.options] == [o.schedule for o in plan.options]
    assert loaded.best.schedule.earliest_start.microsecond == \
        plan.best.schedule.earliest_start.microsecond
    assert loaded.window == plan.window and "window: from" in loaded.table()
    assert loaded.carbon_sources == ("handmade",)


def mangle(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    if value is KeyError:
        del data[path[-1]]
    else:
        data[path[-1]] = value


@pytest.mark.parametrize(("path", "value", "why"), [
    (("format",), KeyError, "p.json: format: missing: not a saved plan"),
    (("format",), "greenml.plan/9", "p.json: format: 'greenml.plan/9' is not a format"),
    (("job", "count"), 0, "p.json: job.count: "),
    (("catalog", "fingerprint"), 7, "p.json: catalog.fingerprint: must be text"),
    (("options", 0, "saved", "offer", "instance_type"), KeyError,
     "p.json: options[0].saved.offer.instance_type: missing"),
    (("options", 0, "saved", "offer", "colour"), "green",
     "p.json: options[0].saved.offer.colour: not a field this greenml knows"),
    (("options", 1, "rank"), 5, "p.json: options[1].rank: must be 2"),
    (("options", 0, "co2e_kg"), "lots", "p.json: options[0].co2e_kg: must be a number"),
    (("options", 0, "region"), "atlantis", "p.json: options[0].region: memory/atlantis is not"),
    (("options", 0, "saved", "schedule"), {"start": "soon"},
     "p.json: options[0].saved.schedule.start: must be an ISO 8601 time"),
    (("options",), [], "p.json: options: empty"),
    (("regions", 0, "pue", "value"), 0.5, "p.json: regions[0].pue: must be at least 1.0"),
])
def test_a_bad_file_names_the_file_and_the_field(path, value, why) -> None:
    register(MemoryProvider())
    data = json.loads(greenml.plan(JOB).to_json())
    mangle(data, path, value)
    with pytest.raises(greenml.InputError) as error:
        Plan.from_json(json.dumps(data), source="p.json")
    assert error.value.field == "plan" and str(error.value).startswith(f"plan: {why}")


def test_text_that_is_no_plan_is_refused_with_one_line(tmp_path) -> None:
    with pytest.raises(greenml.InputError, match="p.json: the file: not JSON"):
        Plan.from_json("{", "p.json")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"job": {}, "options": []}))
    for args, why in [
        (["--plan", str(report)], f"--plan: {report}: format: missing: not a saved plan"),
        (["--plan", str(tmp_path / "none.json")], f"--plan: cannot read {tmp_path}/none.json"),
        (["--plan", str(report), "--hours", "3"], f"--plan: the job comes from {report}: "
                                                   "leave out --hours"),
        (["--replan", "--hours", "3"], "--replan: only with --plan FILE"),
    ]:
        result = run_cli("launch", "--name", "xx", "--run", "true", *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"greenml: error: {why}"), result.stderr
