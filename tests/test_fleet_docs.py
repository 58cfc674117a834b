"""docs/fleet.md shows a job file and the table the code prints for it, exactly."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

import greenml
from greenml.fleet import read_jobs

DOC = Path(__file__).resolve().parent.parent / "docs" / "fleet.md"

pytestmark = pytest.mark.catalogs


README = DOC.parent.parent / "README.md"


def timeless(text: str) -> str:
    """The table without what varies from run to run: the solver's times and version."""
    return re.sub(r"HiGHS [\d.]+", "HiGHS _", re.sub(r"\d+\.\d\d s\b", "_ s", text))


@pytest.mark.parametrize("page_path", [DOC, README], ids=["fleet.md", "README"])
def test_the_fleet_page_shows_what_the_code_prints(tmp_path, page_path):
    pytest.importorskip("highspy")
    page = page_path.read_text()
    toml = re.search(r"```toml\n(.*?)```", page, re.S).group(1)
    shown = re.search(r"prints, on the embedded catalog:\n\n```text\n(.*?)```", page,
                      re.S).group(1)
    path = tmp_path / "jobs.toml"
    path.write_text(toml)
    fleet = greenml.plan_fleet(read_jobs(path), now=datetime(2026, 5, 1, tzinfo=timezone.utc))
    assert timeless(fleet.table()) == timeless(shown.rstrip("\n"))
