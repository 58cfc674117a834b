"""The example plugin in docs/examples installs, passes its own tests (the conformance kit among
them) and shows up in ``greenml plugins``, so the docs' walk-through is known to work.

It is installed into a throwaway virtual environment that sees this one's packages, never into
this one: a fictional provider must not join every real plan.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "greenml-example-provider"

pytest.importorskip("hatchling", reason="building the example needs hatchling (test extra)")
pytest.importorskip("pip", reason="installing the example needs pip")


@pytest.fixture(scope="module")
def example_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the example installed, seeing greenml, pytest and pip from this one.

    ``--system-site-packages`` would show the base interpreter's packages, not this venv's,
    so a ``.pth`` file adds this environment's site-packages (with its own .pth files) instead.
    """
    venv = tmp_path_factory.mktemp("example-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_path('purelib'))"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "greenml-host.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(host)))
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-cache-dir", str(EXAMPLE)], capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    return python


def run(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENML_", "PYTEST_"))}
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def test_the_example_passes_its_own_tests_with_the_kit(example_venv: Path) -> None:
    result = run(example_venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_greenml_plugins_lists_the_example_with_its_distribution(example_venv: Path) -> None:
    result = run(example_venv, "-m", "greenml.cli", "plugins", "--json")
    assert result.returncode == 0, result.stderr
    [info] = [i for i in json.loads(result.stdout) if i["name"] == "example"]
    assert (info["distribution"], info["version"]) == ("greenml-example-provider", "0.1.0")
    assert info["providers"] == ["example"] and info["hooks"] == ["greenml_providers"]
    assert info["error"] == ""


def test_this_environment_does_not_carry_the_example() -> None:
    from importlib.metadata import entry_points

    assert "example" not in {e.name for e in entry_points(group="greenml")}
