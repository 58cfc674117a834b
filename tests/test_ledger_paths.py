"""An unusable ledger path is bad input: exit 2 with one line naming the option or variable
and what is accepted, and the documented error type from the Python API (never sqlite's)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import greenml
from greenml import GreenmlError, InputError, Ledger
from greenml.testing import run_cli


def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a ledger\n" * 20)
    return path


def foreign(tmp_path: Path) -> Path:
    path = tmp_path / "other-app.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    return path


#: (what, how to make the bad path, what the one line must say)
BAD_FILES = [
    ("a directory", lambda tmp: tmp, "is a directory"),
    ("/dev/null", lambda tmp: Path(os.devnull), "not a regular file"),
    ("a text file", garbage, "not a greenml ledger"),
    ("another program's sqlite file", foreign, "not a greenml ledger"),
]


def one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize(("what", "make", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
@pytest.mark.parametrize("command", [["status"], ["status", "--all"], ["down", "bert", "--yes"]])
def test_the_ledger_option(tmp_path, what, make, says, command) -> None:
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    line = one_error_line(run_cli(*command, "--ledger", str(path)))
    assert line.startswith("greenml: error: --ledger: ") and says in line
    assert str(path) in line and "give a ledger file" in line
    if before is not None:
        assert path.read_bytes() == before, "the file was left as it was"


@pytest.mark.parametrize(("what", "make", "says"), BAD_FILES[:3], ids=[b[0] for b in BAD_FILES[:3]])
def test_the_ledger_variable(tmp_path, what, make, says) -> None:
    path = make(tmp_path)
    line = one_error_line(run_cli("status", env={"GREENML_LEDGER": str(path)}))
    assert line.startswith("greenml: error: GREENML_LEDGER: ") and says in line


def test_a_state_directory_that_is_a_file(tmp_path) -> None:
    state = garbage(tmp_path)
    env = {"GREENML_STATE_DIR": str(state), "GREENML_LEDGER": ""}
    for command in (["status"], ["down", "bert", "--yes"]):
        line = one_error_line(run_cli(*command, env=env))
        assert line.startswith("greenml: error: GREENML_STATE_DIR: ")
        assert f"{state} is not a directory" in line and "give a directory" in line


@pytest.mark.catalogs
def test_launch_refuses_the_ledger_before_creating_anything(tmp_path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "",
           "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    result = run_cli("launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
                     "--provider", "aws", "--name", "bert", "--run", "true",
                     "--ledger", str(tmp_path), env=env)
    line = one_error_line(result)
    assert line.startswith("greenml: error: --ledger: ") and "is a directory" in line


@pytest.mark.parametrize(("what", "make", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_the_python_api_raises_the_documented_error(tmp_path, what, make, says) -> None:
    path = make(tmp_path)
    for call in (lambda: greenml.status(ledger=path),
                 lambda: greenml.status(ledger=str(path), all_launches=True),
                 lambda: greenml.down("bert", ledger=path),
                 lambda: Ledger(path)):
        with pytest.raises(InputError) as info:
            call()
        assert isinstance(info.value, GreenmlError)
        assert not isinstance(info.value, sqlite3.Error)
        assert info.value.field == "ledger" and says in str(info.value)


def test_the_api_names_the_variable_the_path_came_from(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GREENML_LEDGER", str(tmp_path))
    with pytest.raises(InputError) as info:
        greenml.status()
    assert info.value.field == "GREENML_LEDGER"
    monkeypatch.delenv("GREENML_LEDGER")
    monkeypatch.setenv("GREENML_STATE_DIR", str(garbage(tmp_path)))
    with pytest.raises(InputError) as info:
        greenml.status()
    assert info.value.field == "GREENML_STATE_DIR"


@pytest.mark.parametrize("bad", [123, b"/tmp/x", "", "   "])
def test_a_ledger_argument_that_is_no_path(bad) -> None:
    with pytest.raises(InputError, match="ledger: expected the path of a ledger file"):
        greenml.status(ledger=bad)


def test_a_good_new_path_still_makes_a_private_ledger(tmp_path) -> None:
    path = tmp_path / "state" / "deeper" / "ledger.sqlite3"
    assert greenml.status(ledger=path) == []
    assert (path.stat().st_mode & 0o777) == 0o600
    assert Ledger(path).read_only is False
