"""Every plugin owns its catalog builder: run alone, each rebuilds exactly the catalog its plugin
ships, writing nothing else, and ``plugins/build_catalogs.py`` runs one for every plugin that
ships built data."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGINS = REPO / "plugins"
SHARED = REPO.parent / "shared" / "data"
PROVIDERS = ("aws", "gcp", "azure")
FILES = ("offers.columns.json", "offers.csv", "regions.csv")


def package_data(provider: str) -> Path:
    return PLUGINS / f"greenml-{provider}" / f"greenml_{provider}" / "data"


def stamps() -> dict[Path, int]:
    """Modification times of every shipped data file (core and plugins)."""
    folders = [REPO / "greenml" / "data", *PLUGINS.glob("greenml-*/greenml_*/data")]
    return {path: path.stat().st_mtime_ns for folder in folders for path in folder.iterdir()}


@pytest.mark.skipif(not (SHARED / "instance_types.csv").is_file(),
                    reason=f"needs the shared reference data in {SHARED}")
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_plugin_builder_alone_rebuilds_exactly_its_shipped_catalog(
    provider: str, tmp_path: Path
) -> None:
    before = stamps()
    result = subprocess.run(
        [sys.executable, str(PLUGINS / f"greenml-{provider}" / "build_catalog.py"),
         "--shared", str(SHARED), "--data", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == list(FILES)
    for name in FILES:
        built = (tmp_path / name).read_bytes()
        shipped = (package_data(provider) / name).read_bytes()
        assert built == shipped, f"{provider} {name} differs: run python plugins/build_catalogs.py"
    assert stamps() == before  # nothing written outside --data
    regions = (tmp_path / "regions.csv").read_text(encoding="utf-8").count("\n") - 1
    assert f"{tmp_path / 'regions.csv'}: {regions} rows" in result.stdout


def test_the_entry_point_runs_a_builder_for_every_plugin_with_built_data(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    entry = runpy.run_path(str(PLUGINS / "build_catalogs.py"))
    builders = [entry["load_builder"](path) for path in entry["PLUGIN_BUILDERS"]]
    assert [b.provider for b in builders] == list(PROVIDERS)
    shipping = {p.parents[2].name for p in PLUGINS.glob("greenml-*/greenml_*/data/offers.csv")}
    assert {f"greenml-{b.provider}" for b in builders} == shipping
    for builder in builders:
        assert builder.data == package_data(builder.provider)
