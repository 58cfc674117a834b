"""docs/reporting.md shows what the code prints for its examples, exactly."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from greenml.cli import main

DOC = (Path(__file__).resolve().parent.parent / "docs" / "reporting.md").read_text()
SHOWN = r"\n```\n\nprints, on the embedded catalog:\n\n```text\n(.*?)```"

pytestmark = pytest.mark.catalogs


def test_every_command_example_prints_what_the_page_shows(capsys) -> None:
    examples = re.findall(r"```sh\n(greenml plan [^\n]*)" + SHOWN, DOC, re.S)
    assert len(examples) == 2  # the statement and the SkyPilot task
    for command, shown in examples:
        assert main(shlex.split(command)[1:]) == 0, command
        assert capsys.readouterr().out == shown, command


def test_the_dataframe_example_prints_what_the_page_shows() -> None:
    pytest.importorskip("pandas")
    [(code, shown)] = re.findall(r"```python\n(.*?)" + SHOWN, DOC, re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "reporting.md", "exec"), {})  # noqa: S102 - the page's own example
    assert out.getvalue() == shown


def test_the_repr_the_page_quotes() -> None:
    import greenml

    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72, countries="SE,FI,NO"))
    assert f"(`{plan!r}`)" in DOC
