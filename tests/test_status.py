"""``greenml status``: the ledger's view, and with ``refresh`` what the providers say now."""

from __future__ import annotations

import json

import pytest

import greenml
from greenml.cli import main

JOB = greenml.Job(accelerator="A100", count=16, hours=10)  # a gang of two 8-GPU instances


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch):
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")


def launched() -> greenml.Launch:
    return greenml.plan(JOB).launch(name="bert", run="python train.py")


def test_without_refresh_only_the_ledger_is_read(greenml_memory_provider) -> None:
    launch = launched()
    calls = len(greenml_memory_provider.cloud.calls)
    [record] = greenml.status()
    assert record.launch_id == launch.launch_id
    assert [r.live_state for r in record.resources] == ["", ""]
    assert len(greenml_memory_provider.cloud.calls) == calls, "the provider was not asked"


def test_refresh_reports_what_became_of_each_instance(greenml_memory_provider) -> None:
    cloud = greenml_memory_provider.cloud
    launch = launched()
    [record] = greenml.status(refresh=True)
    assert {r.resource_id: r.live_state for r in record.resources} == {
        r.resource_id: "running" for r in launch.instances}

    gone = launch.instances[0]
    cloud.delete(gone.region, gone.resource_id)  # terminated behind greenml's back
    [record] = greenml.status(refresh=True)
    states = {r.resource_id: r.live_state for r in record.resources}
    assert states[gone.resource_id] == "gone"
    assert states[launch.instances[1].resource_id] == "running"
    assert record.state == "running", "refreshing reads; it never rewrites the ledger"


def test_a_launch_whose_every_instance_has_ended_is_marked_ended(
        greenml_memory_provider) -> None:
    cloud = greenml_memory_provider.cloud
    launch = launched()
    for r in launch.instances:
        cloud.delete(r.region, r.resource_id)
    [record] = greenml.status(refresh=True)
    assert record.state == "ended"
    assert {r.live_state for r in record.resources} == {"gone"}
    assert greenml.status() == [], "no longer listed as live"
    [kept] = greenml.status("bert")
    assert kept.state == "ended" and kept.launch_id == launch.launch_id
    again = launched()  # the name is free again
    assert again.launch_id != launch.launch_id
    greenml.down("bert")
    assert {r.state for r in greenml.status("bert", all_launches=True)} == {"down"}


def test_unknown_is_never_taken_for_ended(greenml_memory_provider) -> None:
    launched()
    greenml_memory_provider.cloud.inject("find", "Unauthorized")
    [record] = greenml.status(refresh=True)
    assert record.state == "running"


def test_a_provider_that_cannot_answer_gives_unknown_with_the_reason(
        greenml_memory_provider) -> None:
    launched()
    greenml_memory_provider.cloud.inject("find", "Unauthorized")
    [record] = greenml.status(refresh=True)
    assert {r.live_state for r in record.resources} == {
        "unknown: MemoryCloudError: Unauthorized: injected into find in memory-north-1"}


def test_down_launches_are_not_asked_about(greenml_memory_provider) -> None:
    launched()
    greenml.down("bert")
    calls = len(greenml_memory_provider.cloud.calls)
    [record] = greenml.status("bert", refresh=True)
    assert [r.live_state for r in record.resources] == ["", ""]
    assert len(greenml_memory_provider.cloud.calls) == calls


def test_cli_refresh_adds_a_live_column_and_json_field(greenml_memory_provider,
                                                       capsys) -> None:
    launch = launched()
    assert main(["status"]) == 0
    assert "live" not in capsys.readouterr().out.splitlines()[0]

    gone = launch.instances[1]
    greenml_memory_provider.cloud.delete(gone.region, gone.resource_id)
    assert main(["status", "--refresh"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()[:3]
    assert header.split()[-2:] == ["live", "exit"]  # exit: the run's code, from its console
    assert "running 1, gone 1" in row

    assert main(["status", "--refresh", "--json"]) == 0
    [data] = json.loads(capsys.readouterr().out)
    assert sorted(r["live_state"] for r in data["resources"]) == ["gone", "running"]


def test_cli_names_a_provider_that_cannot_answer_on_stderr(greenml_memory_provider,
                                                          capsys) -> None:
    launched()
    greenml_memory_provider.cloud.inject("find", "Unauthorized")
    assert main(["status", "--refresh"]) == 1, "a provider that could not answer: non-zero"
    out, err = capsys.readouterr()
    assert out.splitlines()[2].endswith("unknown")
    assert err.splitlines() == ["greenml status: memory: unknown: MemoryCloudError: "
                                "Unauthorized: injected into find in memory-north-1"]
