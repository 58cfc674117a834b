"""``greenml logs`` (issue 14, 3): the run's output read from each member's console, the exit
code from its ``greenml-exit=N`` line, one node or all, secrets masked, ``--follow`` until the
exit line; and the conformance kit's checks of ``Capability.LOGS``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import ClassVar

import pytest
from console_double import ConsoleMemory

import greenml
from greenml.cli import main
from greenml.launch.logs import exit_code, new_part
from greenml.provider import Capability, Resource
from greenml.testing import MemoryCloud, MemoryProvider, provider_problems

pytestmark = pytest.mark.usefixtures("builtins_only")  # no installed cloud plugins

GANG = greenml.Job(accelerator="A100", count=16, hours=10)  # two 8-GPU instances
ONE = greenml.Job(accelerator="A100", count=8, hours=10)
FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01, jitter=False)


def launch(job: greenml.Job, name: str = "bert") -> list[str]:
    made = greenml.launch(greenml.plan(job), name=name, run="python train.py", retry=FAST)
    return [r.resource_id for r in sorted(made.instances, key=lambda r: r.name)]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_each_member_prints_its_console_with_the_exit_code(console) -> None:
    head, worker = launch(GANG)
    console.consoles = {head: ["rank 0 training\nloss 0.1\ngreenml-exit=0\n"],
                        worker: ["rank 1 training\n[  88.1] cloud-init: greenml-exit=3\n"]}
    logs = greenml.logs("bert")
    assert [(log.node, log.nodes, log.resource.resource_id) for log in logs] == [
        (0, 2, head), (1, 2, worker)]
    assert logs[0].text == "rank 0 training\nloss 0.1\ngreenml-exit=0\n"
    assert [log.exit_code for log in logs] == [0, 3]
    [only] = greenml.logs("bert", node=1)
    assert only.text.startswith("rank 1") and only.exit_code == 3


def test_the_cli_prefixes_each_line_with_its_node_when_there_are_several(console,
                                                                         capsys) -> None:
    head, worker = launch(GANG)
    console.consoles = {head: ["a\nb\n"], worker: ["c"]}
    code, out, err = cli(capsys, "logs", "bert")
    assert (code, err) == (0, "")
    assert out == "[node 0] a\n[node 0] b\n[node 1] c\n"
    code, out, _ = cli(capsys, "logs", "bert", "--node", "1")
    assert (code, out) == (0, "c\n")
    code, out, _ = cli(capsys, "logs", "bert", "--json")
    data = json.loads(out)
    assert [(d["node"], d["text"], d["exit_code"]) for d in data] == [(0, "a\nb\n", None),
                                                                      (1, "c", None)]
    assert data[1]["resource"]["resource_id"] == worker


def test_a_single_instance_is_printed_as_it_is(console, capsys) -> None:
    [only] = launch(ONE)
    console.consoles = {only: ["step 1\nstep 2\ngreenml-exit=0\n"]}
    assert cli(capsys, "logs", "bert") == (0, "step 1\nstep 2\ngreenml-exit=0\n", "")


def test_a_secret_the_console_echoes_is_masked(console, capsys, monkeypatch) -> None:
    secret = "em-token-0123456789abcdef"
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", secret)
    [only] = launch(ONE)
    console.consoles = {only: [f"curl -H 'auth-token: {secret}' ...\n"]}
    [log] = greenml.logs("bert")
    assert secret not in log.text and "auth-token: ***" in log.text
    code, out, _ = cli(capsys, "logs", "bert")
    assert code == 0 and secret not in out and "***" in out


def test_an_unknown_name_exits_2_naming_the_closest(console, capsys) -> None:
    launch(ONE, name="bert-large")
    code, out, err = cli(capsys, "logs", "bert-lage")
    assert (code, out) == (2, "")
    assert err == ("greenml: error: --name: no launch named 'bert-lage' (did you mean "
                   "'bert-large'?)\n")
    with pytest.raises(greenml.InputError, match="did you mean 'bert-large'"):
        greenml.logs("bert-lage")


def test_a_node_the_launch_does_not_have_is_refused(console, capsys) -> None:
    launch(GANG)
    code, _, err = cli(capsys, "logs", "bert", "--node", "2")
    assert code == 2 and err == ("greenml: error: --node: 'bert' has no node 2; its nodes are "
                                 "0, 1\n")
    code, _, err = cli(capsys, "logs", "bert", "--node", "-1")
    assert code == 2 and "--node must be 0 or more" in err


def test_follow_prints_only_new_text_and_stops_at_the_exit_line(console, capsys,
                                                                monkeypatch) -> None:
    monkeypatch.setenv("GREENML_LOGS_INTERVAL_S", "0.01")
    [only] = launch(ONE)
    console.consoles = {only: ["boot\n", "boot\nepoch 1\n", "boot\nepoch 1\n",
                               "boot\nepoch 1\nepoch 2\ngreenml-exit=0\n", "never read\n"]}
    code, out, err = cli(capsys, "logs", "bert", "--follow")
    assert (code, err) == (0, "")
    assert out == "boot\nepoch 1\nepoch 2\ngreenml-exit=0\n"
    assert len(console.reads) == 4, "stopped at the read that showed the exit line"


def test_follow_waits_for_every_member_and_keeps_lines_whole(console, capsys,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("GREENML_LOGS_INTERVAL_S", "0.01")
    head, worker = launch(GANG)
    console.consoles = {head: ["a", "ab\ngreenml-exit=0\n"],
                        worker: ["w\n", "w\n", "w\nx\n", "w\nx\ngreenml-exit=1\n"]}
    code, out, _ = cli(capsys, "logs", "bert", "-f")
    assert code == 0
    assert out.splitlines() == ["[node 1] w", "[node 0] ab", "[node 0] greenml-exit=0",
                                "[node 1] x", "[node 1] greenml-exit=1"]


def test_new_part_follows_a_console_that_drops_its_oldest_text() -> None:
    assert new_part("", "abc") == "abc"
    assert new_part("line 1\nline 2\n", "line 1\nline 2\nline 3\n") == "line 3\n"
    assert new_part("x" * 10 + "step 2 of 9\n", "step 2 of 9\nstep 3 of 9\n") == "step 3 of 9\n"
    long = "".join(f"step {i} of 900\n" for i in range(900))
    assert new_part(long, long[5000:] + "done\n") == "done\n", "EC2 keeps the last 64 KB"
    assert new_part("old\n", "all new\n") == "all new\n"
    assert exit_code("greenml-exit=0\n...\ngreenml-exit=137\n") == 137
    assert exit_code("echo greenml-exit=$rc") is None


def test_a_provider_without_logs_says_so_in_one_line(greenml_memory_provider,
                                                     capsys) -> None:
    launch(ONE)
    code, out, err = cli(capsys, "logs", "bert")
    assert code == 2 and out == ""
    assert err == ("greenml: error: provider 'memory' cannot show logs: it does not read its "
                   "instances' console output (no 'logs' capability)\n")
    with pytest.raises(greenml.GreenmlError, match="cannot show logs"):
        MemoryProvider().console_output(Resource("memory", "r", "i-1"))


def test_a_console_that_cannot_be_read_is_one_line_naming_the_provider(console,
                                                                      capsys) -> None:
    [only] = launch(ONE)

    def broken(resource: Resource) -> str:
        raise ConnectionError("no route to the memory cloud")

    console.console_output = broken  # type: ignore[method-assign]
    code, _, err = cli(capsys, "logs", "bert")
    assert code == 2
    assert err == (f"greenml: error: memory: could not read the console of {only}: "
                   "ConnectionError: no route to the memory cloud\n")


def test_status_refresh_shows_the_runs_exit_code(console, capsys) -> None:
    head, worker = launch(GANG)
    console.consoles = {head: ["greenml-exit=0\n"], worker: ["still running\n"]}
    [record] = greenml.status("bert", refresh=True)
    assert record.exit_code is None, "one member still runs"
    console.consoles[worker] = ["greenml-exit=0\n"]
    [record] = greenml.status("bert", refresh=True)
    assert record.exit_code == 0
    console.consoles[worker] = ["greenml-exit=2\n"]
    code, out, _ = cli(capsys, "status", "--refresh")
    assert code == 0
    header, _, row = out.splitlines()[:3]
    assert header.split()[-1] == "exit" and row.split()[-1] == "2"
    [record] = greenml.status("bert")
    assert record.exit_code is None, "only --refresh asks the consoles"


def test_the_conformance_kit_checks_logs_when_declared() -> None:
    cloud = MemoryCloud()
    assert provider_problems(lambda: ConsoleMemory(cloud), double=contextlib.nullcontext) == []

    class Claims(MemoryProvider):
        capabilities: ClassVar[frozenset[str]] = (MemoryProvider.capabilities
                                                  | {Capability.LOGS})

    class Hides(ConsoleMemory):
        capabilities: ClassVar[frozenset[str]] = MemoryProvider.capabilities

    class Fails(ConsoleMemory):
        def console_output(self, resource: Resource) -> str:
            raise RuntimeError("console unavailable")

    assert "declares 'logs' but does not implement console_output" in provider_problems(
        Claims)
    assert any("implements console_output but does not declare 'logs'" in p
               for p in provider_problems(Hides))
    problems: Sequence[str] = provider_problems(lambda: Fails(MemoryCloud()),
                                                double=contextlib.nullcontext)
    assert any("console_output(" in p and "RuntimeError: console unavailable" in p
               for p in problems), problems
