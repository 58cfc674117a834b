"""What a cold ``greenml`` pays before it plans: plugin discovery and numpy's BLAS threads.

Discovery reads the installed distributions itself (``greenml.entry_points``) and must find
exactly what ``importlib.metadata`` finds, installed or removed a moment before. The command
(never the library) makes numpy's OpenBLAS start one thread, without leaving the setting
for what the command starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from greenml import entry_points, plugins


def found(group: str) -> list[tuple[str, str, str, str]]:
    return sorted((e.name, e.value, e.dist.metadata["Name"], e.dist.version)
                  for e in entry_points.find(group))


def expected(group: str) -> list[tuple[str, str, str, str]]:
    return sorted((e.name, e.value, e.dist.metadata["Name"], e.dist.version)
                  for e in metadata.entry_points(group=group))


def dist_info(folder: Path, name: str, version: str, entries: str) -> Path:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   "\nName: not-a-header\n")
    (info / "entry_points.txt").write_text(entries)
    return info


@pytest.mark.parametrize("group", ["greenml", "console_scripts", "pytest11"])
def test_discovery_finds_what_importlib_metadata_finds(group: str) -> None:
    assert found(group) == expected(group)


def test_a_plugin_installed_or_removed_shows_at_once(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = found("greenml")
    info = dist_info(tmp_path, "greenml_fresh", "1.2", "# a comment\n[greenml]\n"
                     "fresh = greenml_fresh.plugin:hooks [extra]\n\n[other]\nx = y\n")
    assert found("greenml") == expected("greenml")
    assert ("fresh", "greenml_fresh.plugin:hooks [extra]", "greenml_fresh", "1.2") in found(
        "greenml")
    assert "fresh" in {e.name for e in plugins._entry_points()}
    for path in info.iterdir():
        path.unlink()
    info.rmdir()
    assert found("greenml") == before == expected("greenml")


def test_the_first_distribution_of_a_name_on_sys_path_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    dist_info(first, "Shadowed.Plugin", "2.0", "[greenml]\nshadow = shadow_two\n")
    dist_info(second, "shadowed_plugin", "1.0", "[greenml]\nshadow = shadow_one\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    assert found("greenml") == expected("greenml")
    assert [e.value for e in entry_points.find("greenml") if e.name == "shadow"] == ["shadow_two"]


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-0.1.dist-info/METADATA", "Name: zipped\nVersion: 0.1\n")
        z.writestr("zipped-0.1.dist-info/entry_points.txt", "[greenml]\nzipped = zipped\n")
    monkeypatch.syspath_prepend(str(archive))
    assert ("zipped", "zipped", "zipped", "0.1") in found("greenml")
    assert found("greenml") == expected("greenml")


def test_an_entry_point_loads_the_object_it_names(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "named_target.py").write_text("class Outer:\n    class Inner:\n        x = 1\n")
    dist_info(tmp_path, "named_target", "1.0",
              "[greenml]\nmodule = named_target\nnested = named_target:Outer.Inner\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = {e.name: e.load() for e in entry_points.find("greenml")
              if e.dist.metadata["Name"] == "named_target"}
    assert loaded["module"].__name__ == "named_target" and loaded["nested"].x == 1


PROBE = """
import io, os, sys
from greenml.cli import _OneBlasThread, main
_OneBlasThread.install()  # as an earlier command of this process that loaded no numpy did
out, sys.stdout = sys.stdout, io.StringIO()
code = main(["plan", "--accelerator", "A100", "--count", "8", "--hours", "72"])
sys.stdout = out
threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else -1
print(code, "numpy" in sys.modules, os.environ.get("OPENBLAS_NUM_THREADS"), threads)
"""


def probe(env: dict[str, str], script: str = PROBE) -> list[str]:
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env=env, cwd=Path(__file__).parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}


@pytest.mark.catalogs
def test_the_command_loads_numpy_with_one_blas_thread_and_leaves_no_setting() -> None:
    code, numpy_loaded, setting, threads = probe(clean_env())
    assert (code, numpy_loaded, setting) == ("0", "True", "None")
    if threads != "-1":
        assert threads == "1"  # OpenBLAS started no thread pool


@pytest.mark.catalogs
def test_a_users_own_blas_setting_is_kept() -> None:
    code, _, setting, _ = probe({**clean_env(), "OPENBLAS_NUM_THREADS": "2"})
    assert (code, setting) == ("0", "2")


def test_the_library_leaves_blas_alone() -> None:
    script = ("import os, sys, greenml, greenml.cli\n"
              "finders = [type(f).__name__ for f in sys.meta_path]\n"
              "import numpy\n"
              "print(os.environ.get('OPENBLAS_NUM_THREADS'), '_OneBlasThread' in finders)")
    assert probe(clean_env(), script) == ["None", "False"]


def _options(parser: object, command: str) -> list[tuple[str, ...]]:
    sub = next(a for a in parser._actions if getattr(a, "choices", None))  # type: ignore[attr-defined]
    return [tuple(a.option_strings) or (a.dest,) for a in sub.choices[command]._actions]


def test_a_command_built_alone_takes_exactly_the_arguments_of_the_whole_parser() -> None:
    from greenml.cli import COMMANDS, build_parser

    whole = build_parser()
    for command in COMMANDS:
        alone = build_parser(command)
        assert _options(alone, command) == _options(whole, command), command
        others = [c for c in COMMANDS if c != command]
        assert all(_options(alone, c) == [("-h", "--help"), ("--disable-plugin",)]
                   for c in others), command


@pytest.mark.parametrize(("argv", "command"), [
    (["plan", "--hours", "1"], "plan"),
    (["--disable-plugin", "plan", "regions"], "regions"),
    (["--disable-plugin=aws", "down", "x"], "down"),
    (["launch", "--name", "plan"], "launch"),
    (["--version"], None),
    (["plna"], None),
])
def test_the_command_is_the_first_word_that_names_one(argv: list[str],
                                                      command: str | None) -> None:
    from greenml.cli import command_named

    assert command_named(argv) == command
