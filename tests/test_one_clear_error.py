"""One clear error (issue 14, 5): a provider that cannot be used (credentials, a permission,
no answer) is passed over at once and named once; ``down`` and ``status --refresh`` say one
line per failing provider, exit 1, and keep every ledger row for the next ``down``."""

from __future__ import annotations

import json

import pytest
from test_plugins import install_plugin

import greenml
from greenml.cli import main
from greenml.errors import DownIncomplete
from greenml.launch.progress import LaunchEvent
from greenml.retry import RetryPolicy
from greenml.testing import MemoryProvider, ProviderPlugin, region, run_cli

JOB = greenml.Job(accelerator="A100", count=8, hours=10)
GANG = greenml.Job(accelerator="A100", count=16, hours=10)
HINT = "memory cloud: credentials switched off (MemoryProvider(credentials=False))"


pytestmark = pytest.mark.usefixtures("builtins_only")  # no installed cloud plugins


class Lab(MemoryProvider):
    """A second provider whose regions emit more, so that memory's options come first."""

    name = "lab"

    def regions(self):
        return (region(self.name, "memory-north-1", "PL", 700.0, 1.5),
                region(self.name, "memory-south-1", "PL", 700.0, 1.5))


def register(*providers: MemoryProvider) -> None:
    from greenml import registry

    registry.default().manager.register(ProviderPlugin(*providers), name="greenml-test-two")


def test_missing_credentials_are_said_once_and_nothing_is_tried(greenml_memory_provider
                                                                ) -> None:
    greenml_memory_provider.credentials = False
    plan = greenml.plan(JOB)
    assert len([o for o in plan.options if o.provider == "memory"]) >= 2
    events: list[LaunchEvent] = []
    with pytest.raises(greenml.LaunchError) as info:
        plan.launch(name="nocreds", run="true", progress=events.append)
    text = str(info.value)
    assert text == f"launch 'nocreds' stopped: memory: {HINT}"
    assert len(info.value.attempts) == 1
    assert greenml_memory_provider.cloud.calls == []
    assert [(e.kind, e.provider) for e in events] == [("skipped", "memory")]


def test_refused_credentials_stop_that_provider_at_the_first_create(greenml_memory_provider
                                                                   ) -> None:
    cloud = greenml_memory_provider.cloud
    cloud.inject("create", "Unauthorized", times=100)
    with pytest.raises(greenml.LaunchError) as info:
        greenml.plan(JOB).launch(name="refused", run="true")
    text = str(info.value)
    assert text.startswith("launch 'refused' stopped: memory: Unauthorized: injected")
    assert text.count("Unauthorized") == 1, text
    creates = [c for c, _ in cloud.calls if c == "create"]
    assert creates == ["create"], "no other option of it was tried"


def test_an_unreachable_provider_is_named_once_among_the_other_failures(
        greenml_memory_provider) -> None:
    cloud = greenml_memory_provider.cloud
    cloud.inject("create", "NoCapacity", times=1)  # zone a: full
    cloud.inject("create", "Unreachable", times=100)  # then no answer at all
    with pytest.raises(greenml.LaunchError) as info:
        greenml.plan(JOB).launch(name="offline", run="true")
    text = str(info.value)
    assert text.startswith("launch 'offline' stopped: memory: cannot reach the memory cloud "
                           "(Unreachable: ")
    assert text.count("cannot reach") == 1 and "NoCapacity" in text
    assert [a.code for a in info.value.attempts] == ["NoCapacity", "Unreachable"]


def test_a_provider_without_credentials_hands_over_to_the_next(greenml_fresh_plugins,
                                                               greenml_ledger) -> None:
    memory, lab = MemoryProvider(credentials=False), Lab()
    register(memory, lab)
    plan = greenml.plan(JOB)
    assert plan.best.provider == "memory"
    events: list[LaunchEvent] = []
    launch = plan.launch(name="next", run="true", progress=events.append)
    assert launch.option.provider == "lab" and memory.cloud.calls == []
    assert [str(a) for a in launch.attempts[:-1]] == [
        f"memory/memory-north-1 mem.a100x8: {HINT}"]
    assert events[0].kind == "skipped" and events[0].message == (
        f"memory: {HINT}; none of its options will be tried")


def test_refused_credentials_on_create_also_hand_over(greenml_fresh_plugins,
                                                      greenml_ledger) -> None:
    memory, lab = MemoryProvider(), Lab()
    memory.cloud.inject("create", "Unauthorized", times=100)
    register(memory, lab)
    launch = greenml.plan(JOB).launch(name="next", run="true")
    assert launch.option.provider == "lab"
    assert [a.code for a in launch.attempts if not a.ok] == ["Unauthorized"]


def test_a_reason_repeated_is_said_once_and_counted(greenml_memory_provider) -> None:
    greenml_memory_provider.cloud.inject("create", "NoCapacity", times=100)
    with pytest.raises(greenml.LaunchError) as info:
        greenml.plan(JOB).launch(name="full", run="true")
    text = str(info.value)
    assert text.startswith("could not launch 'full': every option failed: ")
    assert len(info.value.attempts) == 3, "each zone and region was tried"
    assert text == (
        "could not launch 'full': every option failed: memory/memory-north-1/memory-north-1a "
        "mem.a100x8: NoCapacity: injected into create in memory-north-1 (and 1 more with the "
        "same reason); memory/memory-south-1 mem.a100x8: NoCapacity: injected into create in "
        "memory-south-1")


# down and status --refresh


def launched(name: str = "bert") -> greenml.Launch:
    return greenml.plan(GANG).launch(name=name, run="true")


def open_rows(name: str = "bert") -> list[str]:
    [record] = greenml.status(name, all_launches=True)
    return sorted(r.resource_id for r in record.resources if r.state == "created")


def test_down_without_credentials_keeps_every_row_then_succeeds(greenml_memory_provider
                                                                ) -> None:
    provider, cloud = greenml_memory_provider, greenml_memory_provider.cloud
    launch = launched()
    ids = sorted(r.resource_id for r in launch.instances)
    provider.credentials = False
    cloud.inject("find", "Unauthorized", times=1)
    with pytest.raises(DownIncomplete) as info:
        greenml.down("bert")
    assert list(info.value.failures) == ["memory"] and info.value.removed == []
    line = info.value.failures["memory"]
    assert line == (f"memory: could not look for what 'bert' left there ({HINT}); nothing "
                    "there was terminated and the ledger still lists its 2 resource(s): run "
                    "'greenml down bert' again once that is fixed")
    assert isinstance(info.value, greenml.GreenmlError)
    assert open_rows() == ids and len(cloud.live()) == 2
    [record] = greenml.status("bert")
    assert record.state == "running", "not down: a later down finds it"

    provider.credentials = True
    removed = greenml.down("bert")
    assert sorted(r.resource_id for r in removed) == ids and cloud.live() == []
    assert open_rows() == []
    assert {r.state for r in greenml.status("bert", all_launches=True)} == {"down"}


def test_down_whose_terminate_keeps_failing_keeps_the_rows(greenml_memory_provider,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("GREENML_RETRY_BASE_DELAY_S", "0.001")
    cloud = greenml_memory_provider.cloud
    launched()
    cloud.inject("delete", "Unreachable", times=1000)
    with pytest.raises(DownIncomplete) as info:
        greenml.down("bert")
    assert info.value.failures["memory"].startswith(
        f"could not terminate 2 resource(s) of 'bert' on memory after {RetryPolicy().attempts} "
        "tries (cannot reach the "
        "memory cloud")
    assert len(open_rows()) == 2 and len(cloud.live()) == 2
    cloud.clear_faults()
    assert len(greenml.down("bert")) == 2 and cloud.live() == []


class Exploding(MemoryProvider):
    """A provider whose SDK raises something no classify foresaw."""

    broken = True

    def find_resources(self, launch_id, regions):
        if self.broken:
            raise RuntimeError("the SDK exploded")
        return super().find_resources(launch_id, regions)


def test_any_exception_of_a_provider_is_that_providers_failure(greenml_fresh_plugins,
                                                               greenml_ledger, capsys) -> None:
    provider = Exploding()
    register(provider)
    launched()
    assert main(["down", "bert", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "internal error" not in err
    assert err.splitlines() == [
        "greenml: error: memory: could not look for what 'bert' left there (RuntimeError: the "
        "SDK exploded); nothing there was terminated and the ledger still lists its 2 "
        "resource(s): run 'greenml down bert' again once that is fixed"]
    assert main(["status", "--refresh"]) == 1
    out, err = capsys.readouterr()
    assert err == "greenml status: memory: unknown: RuntimeError: the SDK exploded\n"

    provider.broken = False
    assert main(["down", "bert", "--yes", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_a_missing_plugin_is_named_and_its_rows_kept(greenml_memory_provider) -> None:
    launched()
    with pytest.raises(DownIncomplete) as info:
        greenml.down("bert", providers={})
    assert info.value.failures["memory"].startswith(
        "memory: the plugin is not installed, was disabled, or failed to load")
    assert len(open_rows()) == 2
    assert len(greenml.down("bert")) == 2


def test_the_cli_down_and_status_say_one_line_and_exit_1(greenml_memory_provider,
                                                         capsys) -> None:
    provider = greenml_memory_provider
    launched()
    provider.credentials = False
    provider.cloud.inject("find", "Unauthorized", times=2)
    assert main(["status", "--refresh"]) == 1
    _, err = capsys.readouterr()
    assert err == f"greenml status: memory: unknown: {HINT}\n"
    assert main(["down", "bert", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.count(HINT) == 1
    assert err.startswith("greenml: error: memory: could not look for what 'bert' left")

    provider.credentials = True
    assert main(["down", "bert", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert out.count("terminated memory instance") == 2 and err == ""


def test_the_cli_launch_says_the_credentials_problem_once(tmp_path, monkeypatch) -> None:
    install_plugin(tmp_path, monkeypatch, "greenml_refused", """
        import greenml
        from greenml.testing import MemoryCloud, MemoryProvider

        cloud = MemoryCloud()
        cloud.inject("create", "Unauthorized", times=1000)

        @greenml.hookimpl
        def greenml_providers():
            return [MemoryProvider(cloud)]
    """)
    monkeypatch.delenv("GREENML_DISABLE_PLUGINS")
    result = run_cli("launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
                     "--provider", "memory", "--name", "refused", "--run", "true",
                     env={"PYTHONPATH": str(tmp_path),
                          "GREENML_LEDGER": str(tmp_path / "ledger.sqlite3")})
    assert result.returncode != 0 and "internal error" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.count("Unauthorized") == 1
    assert result.stderr.startswith("greenml: error: launch 'refused' stopped: memory: "
                                    "Unauthorized: ")
