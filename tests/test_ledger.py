"""The ledger: intent before the call, result after, safe for several processes at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from greenml import InputError, Ledger, Resource
from greenml.launch.types import Attempt


def test_intent_then_result_is_read_back(tmp_path) -> None:
    book = Ledger(tmp_path / "ledger.sqlite3")
    book.begin_launch("L1", "bert", {"co2e_kg": 12.5, "cost_usd": 100.0, "hours": 4.0})
    book.intent("tok-0", "L1", "aws", "eu-north-1", "", "bert-0")
    [record] = book.launches()
    assert record.state == "launching" and record.planned_co2e_kg == 12.5
    assert [(r.state, r.resource_id) for r in record.resources] == [("intent", "")]
    book.result("tok-0", "created", "i-123")
    book.attempt("L1", Attempt("aws", "eu-north-1", "p4d.24xlarge", ok=True))
    [record] = book.launches()
    assert [(r.state, r.resource_id) for r in record.resources] == [("created", "i-123")]
    assert record.attempts[0].ok
    assert [r.resource_id for _, r in book.open_resources("L1")] == ["i-123"]


def test_an_id_planned_before_the_call_is_kept_until_the_result(tmp_path) -> None:
    book = Ledger(tmp_path / "ledger.sqlite3")
    book.begin_launch("L1", "bert", {})
    book.intent("tok-0", "L1", "gcp", "europe-north1", "europe-north1-a", "bert-0",
                resource_id="projects/p/zones/europe-north1-a/instances/bert-0")
    [(_, row)] = book.open_resources("L1")  # a crash here: down still knows what to delete
    assert (row.state, row.resource_id) == ("intent",
                                            "projects/p/zones/europe-north1-a/instances/bert-0")
    book.intent("tok-0", "L1", "gcp", "europe-north1", "europe-north1-a", "bert-0")  # a retry
    book.result("tok-0", "failed", reason="ZONE_RESOURCE_POOL_EXHAUSTED")
    [(_, row)] = book.open_resources("L1")
    assert row.resource_id.endswith("/instances/bert-0"), "a retry's intent does not erase it"


def test_a_live_name_cannot_be_reused(tmp_path) -> None:
    book = Ledger(tmp_path / "ledger.sqlite3")
    book.begin_launch("L1", "bert", {})
    with pytest.raises(InputError, match="still live"):
        book.begin_launch("L2", "bert", {})
    book.set_launch("L1", "down")
    book.begin_launch("L2", "bert", {})
    assert [r.launch_id for r in book.launches(name="bert")] == ["L2", "L1"]


def test_adopted_resources_are_recorded(tmp_path) -> None:
    book = Ledger(tmp_path / "ledger.sqlite3")
    book.begin_launch("L1", "bert", {})
    book.adopt("L1", Resource("aws", "us-east-1", "i-9", name="bert-0"), "terminated")
    [record] = book.launches()
    assert record.resources[0].resource_id == "i-9"
    assert record.resources[0].state == "terminated"


def test_ledger_file_is_private(tmp_path) -> None:
    book = Ledger(tmp_path / "x" / "ledger.sqlite3")
    assert (book.path.stat().st_mode & 0o777) == 0o600


def test_location_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_STATE_DIR", str(tmp_path / "state"))
    assert Ledger().path == tmp_path / "state" / "ledger.sqlite3"
    monkeypatch.setenv("GREENML_LEDGER", str(tmp_path / "other.db"))
    assert Ledger().path == tmp_path / "other.db"


WRITER = textwrap.dedent("""
    import sys
    from greenml import Ledger
    book = Ledger(sys.argv[1])
    who = sys.argv[2]
    for i in range(150):
        launch = f"{who}-{i}"
        book.begin_launch(launch, launch, {})
        book.intent(f"tok-{launch}", launch, "aws", "r", "", launch)
        book.result(f"tok-{launch}", "created", f"i-{launch}")
""")


def test_two_processes_write_at_once(tmp_path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), who],
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    records = Ledger(path).launches()
    assert len(records) == 300
    assert all(r.resources[0].state == "created" for r in records)
