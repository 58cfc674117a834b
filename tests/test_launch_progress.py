"""Launch progress (issue 14, 4): each step as it happens, as events to a callback and to the
``greenml.launch`` logger, and as lines on a terminal's stderr; nothing for --json or a pipe."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_plugins import install_plugin

import greenml
from greenml.cli import main
from greenml.launch.progress import KINDS, LaunchEvent
from greenml.testing import MemoryProvider, run_cli

ONE = greenml.Job(accelerator="A100", count=8, hours=10)  # one 8-GPU instance
GANG = greenml.Job(accelerator="A100", count=16, hours=10)  # a gang of two
FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01, jitter=False)


pytestmark = pytest.mark.usefixtures("builtins_only")  # no installed cloud plugins


def launch(job: greenml.Job, name: str = "bert", **kwargs) -> tuple[greenml.Launch,
                                                                     list[LaunchEvent]]:
    events: list[LaunchEvent] = []
    result = greenml.launch(greenml.plan(job), name=name, run="python train.py",
                            progress=events.append, retry=FAST, **kwargs)
    return result, events


def test_a_gang_reports_each_member_asked_for_and_up(greenml_memory_provider) -> None:
    result, events = launch(GANG)
    assert [e.kind for e in events][:1] == ["trying"]
    assert sorted(e.kind for e in events[1:-2]) == ["creating", "creating", "up", "up"]
    assert [e.kind for e in events[-2:]] == ["rendezvous", "launched"]
    assert events[-2].message == ("rendezvous written: 2 members know their rank and the "
                                  "head's address")
    trying = events[0]
    assert (trying.rank, trying.provider, trying.region, trying.zone, trying.total) == (
        1, "memory", "memory-north-1", "memory-north-1a", 2)
    assert trying.message.startswith("trying option 1: 2 x mem.a100x8 on "
                                     "memory/memory-north-1/memory-north-1a (")
    creating = [e for e in events if e.kind == "creating"]
    assert sorted(e.index for e in creating) == [1, 2] and {e.total for e in creating} == {2}
    assert any(e.message.startswith("creating member 2 of 2 (bert-1): mem.a100x8 on ")
               for e in creating)
    ups = [e.message.split(" (")[0] for e in events if e.kind == "up"]
    assert ups == ["members up: 1 of 2", "members up: 2 of 2"]
    assert events[-1].message == ("launched 'bert': 2 x mem.a100x8 on "
                                  "memory/memory-north-1/memory-north-1a")
    assert all(e.kind in KINDS and e.elapsed_s >= 0 for e in events)
    assert len(result.instances) == 2


def test_failing_over_is_reported_with_the_reason(greenml_memory_provider) -> None:
    greenml_memory_provider.cloud.inject("create", "NoCapacity", times=1)
    result, events = launch(ONE)
    kinds = [e.kind for e in events]
    assert kinds == ["trying", "creating", "failed", "trying", "creating", "up", "launched"]
    failed = events[2]
    assert failed.zone == "memory-north-1a" and failed.message.endswith("; failing over")
    assert "NoCapacity" in failed.message
    assert events[3].zone == "memory-north-1b" == result.instances[0].zone
    assert events[5].message == f"{result.instances[0].resource_id} is up"


def test_a_gang_rolled_back_says_so(greenml_memory_provider) -> None:
    greenml_memory_provider.cloud.inject("create", "NoCapacity", times=1)
    result, events = launch(GANG)
    [rolled] = [e for e in events if e.kind == "rolled-back"]
    assert rolled.message == ("rolled back: removed the 1 member(s) created on "
                              "memory/memory-north-1/memory-north-1a")
    assert [e.kind for e in events].index("rolled-back") < [e.kind for e in events].index(
        "failed"), "removed, then failing over"
    assert result.instances[0].zone == "memory-north-1b"


def test_a_throttled_create_reports_its_wait(greenml_memory_provider) -> None:
    greenml_memory_provider.cloud.inject("create", "Throttled", times=1)
    _, events = launch(ONE)
    [retrying] = [e for e in events if e.kind == "retrying"]
    assert retrying.wait_s == pytest.approx(0.01) and retrying.index == 1
    assert "Throttled" in retrying.message and "trying again in 0.0 s" in retrying.message


class Slow(MemoryProvider):
    """Creates only once the launch has said it is waiting (or after a minute at most)."""

    def __init__(self) -> None:
        super().__init__()
        self.heard = threading.Event()

    def create_instance(self, request, journal):
        self.heard.wait(60)
        return super().create_instance(request, journal)


def test_a_long_create_is_reported_while_it_is_waited_on(monkeypatch, greenml_ledger,
                                                         greenml_fresh_plugins) -> None:
    from greenml import registry
    from greenml.testing import ProviderPlugin

    monkeypatch.setenv("GREENML_PROGRESS_INTERVAL_S", "0.05")
    slow = Slow()
    registry.default().manager.register(ProviderPlugin(slow), name="greenml-slow")
    events: list[LaunchEvent] = []

    def heard(event: LaunchEvent) -> None:
        events.append(event)
        if event.kind == "waiting":
            slow.heard.set()

    greenml.launch(greenml.plan(ONE), name="slow", run="true", progress=heard)
    [first, *_] = [e for e in events if e.kind == "waiting"]
    assert first.message.startswith("waiting for 1 of 1 member(s) on "
                                    "memory/memory-north-1/memory-north-1a (")
    assert first.message.endswith(" so far)") and first.elapsed_s > 0
    assert events[-1].kind == "launched"


def test_the_same_events_go_to_the_log(greenml_memory_provider, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="greenml.launch"):
        _, events = launch(ONE)
    logged = [r for r in caplog.records if r.name == "greenml.launch"]
    assert [r.getMessage() for r in logged] == [e.message for e in events]
    assert [r.greenml_event for r in logged] == events


def test_a_callback_that_raises_changes_nothing_and_is_said_once(greenml_memory_provider,
                                                                 caplog) -> None:
    calls = []

    def broken(event: LaunchEvent) -> None:
        calls.append(event)
        raise RuntimeError("my dashboard is down")

    with caplog.at_level(logging.WARNING, logger="greenml.launch"):
        result = greenml.plan(GANG).launch(name="bert", run="true", progress=broken)
    assert len(result.instances) == 2 and len(calls) == 1
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == ("the progress callback raised RuntimeError: my dashboard is down; it "
                       "is not called again")


def test_progress_must_be_callable(greenml_memory_provider) -> None:
    with pytest.raises(greenml.InputError, match="progress") as info:
        greenml.plan(ONE).launch(name="bert", run="true", progress="loud")
    assert info.value.field == "progress"
    assert greenml_memory_provider.cloud.calls == [], "refused before anything was created"


def test_a_bad_interval_is_refused_before_anything_is_created(greenml_memory_provider,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("GREENML_PROGRESS_INTERVAL_S", "soon")
    with pytest.raises(greenml.InputError, match="GREENML_PROGRESS_INTERVAL_S"):
        greenml.plan(ONE).launch(name="bert", run="true")
    assert greenml_memory_provider.cloud.calls == []


def test_the_cli_prints_progress_on_a_terminal_only(greenml_memory_provider, capsys,
                                                    monkeypatch) -> None:
    args = ["launch", "--accelerator", "A100", "--count", "16", "--hours", "10",
            "--name", "bert", "--run", "true"]
    assert main(args) == 0
    assert capsys.readouterr().err == "", "stderr is not a terminal: quiet"

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main([*args[:-4], "--name", "bert2", "--run", "true"]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[0].startswith("greenml: trying option 1: 2 x mem.a100x8 on memory/")
    assert "greenml: members up: 2 of 2" in "\n".join(lines)
    assert lines[-1].startswith("greenml: launched 'bert2': 2 x mem.a100x8")
    assert out.startswith("launched 'bert2'")

    for quiet in ("--json", "--quiet"):
        assert main([*args[:-4], "--name", f"bert{len(quiet)}", "--run", "true", quiet]) == 0
        assert capsys.readouterr().err == "", quiet


def test_a_real_terminal_gets_the_lines_and_a_pipe_does_not(tmp_path, monkeypatch) -> None:
    from test_plugins import CLOUD_FREE_PLUGIN

    install_plugin(tmp_path, monkeypatch, "greenml_lab", CLOUD_FREE_PLUGIN)
    monkeypatch.delenv("GREENML_DISABLE_PLUGINS")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "GREENML_LEDGER":
           str(tmp_path / "ledger.sqlite3")}
    args = ["launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
            "--provider", "lab", "--run", "true"]
    piped = run_cli(*args, "--name", "piped", env=env)
    assert piped.returncode == 0, piped.stderr
    assert "trying option" not in piped.stderr

    leader, follower = os.openpty()
    script = Path(sys.executable).parent / "greenml"
    with subprocess.Popen([str(script), *args, "--name", "tty"], env=env,
                          stdout=subprocess.PIPE, stderr=follower, text=True) as process:
        os.close(follower)
        out, _ = process.communicate(timeout=120)
    said = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        said += chunk
    os.close(leader)
    assert process.returncode == 0, said
    text = said.decode().replace("\r\n", "\n")
    assert text.startswith("greenml: trying option 1: 1 x mem.a100x8 on lab/")
    assert "greenml: launched 'tty'" in text and out.startswith("launched 'tty'")
