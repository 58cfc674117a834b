"""A ledger this process may only read: ``status`` works, ``down`` terminates and says in one
line what it could not record, the next writable ``down`` records it, and nothing is launched.

Read-only for real (``greenml.testing.make_read_only`` and ``unprivileged``): the kernel
refuses the writes, also when the tests run as root. Each test first checks that the refusal
is real, so none passes without exercising the path.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import greenml
from greenml import Ledger
from greenml.launch.types import TAG_LAUNCH_ID
from greenml.testing import (
    MemoryCloud,
    MemoryProvider,
    make_read_only,
    make_writable,
    unprivileged,
)

IDS = ["mem-000001", "mem-000002"]


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GREENML_DISABLE_PLUGINS": "1", **env}
    return subprocess.run(unprivileged(command), capture_output=True, text=True, env=full,
                          timeout=120)


def greenml_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run([str(Path(sys.executable).parent / "greenml"), *args], **env)


def assert_refused(probe: str) -> None:
    """The restricted process really cannot write there (else the test proves nothing)."""
    result = run([sys.executable, "-c", probe])
    assert result.returncode != 0 and "PermissionError" in result.stderr, result


def seed(path: Path) -> None:
    """A running launch of two instances, written through the ledger's own API."""
    book = Ledger(path)
    book.begin_launch("L1", "bert", {"co2e_kg": 12.5, "cost_usd": 100.0, "hours": 4.0})
    for i, instance_id in enumerate(IDS):
        book.intent(f"tok-{i}", "L1", "memory", "memory-north-1", "", f"bert-{i}")
        book.result(f"tok-{i}", "created", instance_id)
    book.set_launch("L1", "running")
    book.close()


def instances(state: str = "running") -> list[dict]:
    return [{"id": i, "state": state, "region": "memory-north-1", "zone": "",
             "name": f"bert-{n}", "instance_type": "mem.a100x8", "spot": False,
             "tags": {TAG_LAUNCH_ID: "L1"}} for n, i in enumerate(IDS)]


@pytest.fixture(params=["read-only file", "read-only directory"])
def ledger(request, tmp_path):
    """A seeded ledger that restricted processes may read but not write."""
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "ledger.sqlite3"
    seed(path)
    assert not Path(f"{path}-wal").exists(), "a clean close leaves no -wal file"
    if request.param == "read-only file":
        make_read_only(path)
        assert_refused(f"open({str(path)!r}, 'ab')")
    else:
        # the file itself stays writable: only sqlite's side files cannot be made
        make_read_only(folder)
        assert_refused(f"open({str(folder / 'probe')!r}, 'w')")
    yield path
    make_writable(folder, path, Path(f"{path}-wal"), Path(f"{path}-shm"))


def status_json(path: Path, *args: str) -> list[dict]:
    result = greenml_cli("status", "--json", "--ledger", str(path), *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_reads_it(ledger) -> None:
    before = ledger.read_bytes()
    [record] = status_json(ledger)
    assert (record["name"], record["state"]) == ("bert", "running")
    assert [r["resource_id"] for r in record["resources"]] == IDS
    assert [r["name"] for r in status_json(ledger, "--all")] == ["bert"]
    table = greenml_cli("status", "--ledger", str(ledger))
    assert table.returncode == 0 and "bert" in table.stdout and "2/2" in table.stdout
    assert table.stderr == ""
    assert ledger.read_bytes() == before


DOWN = textwrap.dedent("""
    import json, sys, warnings
    import greenml
    from greenml.testing import MemoryCloud, MemoryProvider
    cloud = MemoryCloud()
    cloud.instances.update({i["id"]: i for i in json.loads(sys.argv[2])})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        removed = greenml.down("bert", ledger=sys.argv[1],
                               providers={"memory": MemoryProvider(cloud)})
    print(json.dumps({"removed": sorted(r.resource_id for r in removed),
                      "live": [i["id"] for i in cloud.live()],
                      "warnings": [(w.category.__name__, str(w.message)) for w in caught]}))
""")


def test_down_terminates_says_so_once_and_the_next_writable_down_records_it(ledger) -> None:
    result = run([sys.executable, "-c", DOWN, str(ledger), json.dumps(instances())])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["removed"] == IDS and out["live"] == [], "everything it named was terminated"
    [(category, message)] = out["warnings"]
    assert category == "LedgerWarning" and "\n" not in message
    assert "terminated 2 resource(s) of 'bert' but could not record it" in message
    assert f"the ledger {ledger} is read-only (" in message
    assert "the next 'greenml down bert' on a writable ledger records them" in message

    make_writable(ledger.parent, ledger)
    [record] = greenml.status(ledger=ledger)  # nothing was lost: it still names them
    assert record.state == "running"
    assert {r.state for r in record.resources} == {"created"}

    cloud = MemoryCloud()  # the cloud as the read-only down left it: both terminated
    cloud.instances.update({i["id"]: i for i in instances("terminated")})
    removed = greenml.down("bert", ledger=ledger, providers={"memory": MemoryProvider(cloud)})
    assert sorted(r.resource_id for r in removed) == IDS
    [record] = greenml.status("bert", ledger=ledger)
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}


LAUNCH = textwrap.dedent("""
    import json, sys
    import greenml
    from greenml import registry
    from greenml.testing import MemoryProvider, ProviderPlugin
    provider = MemoryProvider()
    registry.default().manager.register(ProviderPlugin(provider), name="greenml-memory")
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=1, providers="memory"))
    try:
        plan.launch(name="bert2", run="true", ledger=sys.argv[1])
        error = None
    except greenml.GreenmlError as exc:
        error = [type(exc).__name__, str(exc)]
    print(json.dumps({"error": error, "calls": len(provider.cloud.calls)}))
""")


def test_launch_creates_nothing_and_says_why(ledger) -> None:
    result = run([sys.executable, "-c", LAUNCH, str(ledger)])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["calls"] == 0, "nothing was created without a record"
    kind, message = out["error"]
    assert kind == "LedgerReadOnly"
    assert message.startswith(f"launch 'bert2' not started: the ledger {ledger} is read-only (")
    assert "--ledger or GREENML_LEDGER" in message


def test_a_ledger_a_writer_holds_open_is_read_with_its_latest_commits(tmp_path) -> None:
    """With -wal and -shm present (another greenml is running), the read-only reader must
    see commits still in the -wal file: sqlite's read-only mode, not immutable."""
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "ledger.sqlite3"
    seed(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT INTO launches (launch_id, name, state, created_at, updated_at) "
                   "VALUES ('L2', 'gpt', 'launching', 2e9, 2e9)")
    side = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    try:
        assert all(s.exists() for s in side) and side[0].stat().st_size > 0
        for p in (folder, path, *side):
            make_read_only(p)
        assert_refused(f"open({str(side[0])!r}, 'ab')")
        names = [r["name"] for r in status_json(path)]
        assert names == ["gpt", "bert"], "the commit in the -wal file is seen"
    finally:
        writer.close()
        make_writable(folder, path, *side)


def test_a_missing_ledger_in_a_read_only_directory_is_an_empty_one(tmp_path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    make_read_only(folder)
    try:
        assert_refused(f"open({str(folder / 'probe')!r}, 'w')")
        path = folder / "ledger.sqlite3"
        result = greenml_cli("status", "--ledger", str(path))
        assert result.returncode == 0 and "no live launches" in result.stdout, result.stderr
        down = greenml_cli("down", "bert", "--yes", "--ledger", str(path))
        assert down.returncode == 2 and down.stderr.count("\n") == 1
        assert "no launch named 'bert'" in down.stderr
        assert not path.exists()
    finally:
        make_writable(folder)
