"""mypy --strict (``strict = true`` in pyproject.toml) passes on the core and on each plugin.

Run here so that the README's one test command also type-checks, as tox's ``type`` env does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ["aws", "gcp", "azure", "onprem"]


def mypy(*targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *targets],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module", autouse=True)
def _mypy_installed() -> None:
    pytest.importorskip("mypy", reason="mypy comes with the test extra")


def test_the_core_is_strictly_typed() -> None:
    done = mypy("greenml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_is_strictly_typed_and_ships_py_typed(name: str) -> None:
    package = ROOT / "plugins" / f"greenml-{name}" / f"greenml_{name}"
    assert (package / "py.typed").is_file()
    done = mypy(str(package.relative_to(ROOT)))
    assert done.returncode == 0, done.stdout + done.stderr
