"""``-o KEY=VALUE``: every provider declares its settings in one place (``settings_help``), and
a key no provider declares exits 2 naming the closest known key, before anything is created
(also with ``--dry-run``), instead of launching without the setting it meant."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

import greenml
from greenml.launch.loop import provider_settings
from greenml.provider import check_settings
from greenml.testing import MemoryProvider, run_cli

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.catalogs

#: provider -> (a typo of one of its settings, the setting it meant)
TYPOS = {
    "aws": ("subent_id", "subnet_id"),
    "gcp": ("projet", "project"),
    "azure": ("subnet", "subnet_id"),
    "onprem": ("acount", "account"),
}


def launch(*options: str, provider: str = "aws", dry_run: bool = True, ledger: Path,
           ) -> tuple[int, str]:
    result = run_cli("launch", "--accelerator", "A100", "--count", "8", "--hours", "1",
                     "--provider", provider, "--name", "typo", "--run", "true",
                     *(["--dry-run"] if dry_run else []), *options,
                     env={"GREENML_LEDGER": str(ledger)})
    return result.returncode, result.stderr


def launches_in(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with sqlite3.connect(ledger) as db:
        return db.execute("select count(*) from launches").fetchone()[0]


@pytest.mark.parametrize("provider", sorted(TYPOS))
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_misspelt_provider_setting_exits_2_naming_the_closest(provider, dry_run,
                                                                tmp_path) -> None:
    typo, meant = TYPOS[provider]
    code, stderr = launch("-o", f"{provider}.{typo}=x", provider="aws", dry_run=dry_run,
                          ledger=tmp_path / "ledger.sqlite3")
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"greenml: error: --set: unknown setting '{provider}.{typo}': "
                             f"{provider} takes "), stderr
    assert stderr.rstrip().endswith(f"(did you mean '{provider}.{meant}'?)"), stderr
    assert launches_in(tmp_path / "ledger.sqlite3") == 0


@pytest.mark.parametrize(("setting", "hint"), [
    ("subent_id=x", "did you mean 'subnet_id'?"),
    ("asw.subnet_id=x", "unknown provider 'asw'; installed: aws, azure, gcp, onprem "
                        "(did you mean 'aws.subnet_id'?)"),
    ("AWS.subnet_id=x", "did you mean 'aws.subnet_id'?"),
    ("aws.=x", "aws takes"),
])
def test_unknown_plain_keys_and_providers_exit_2(setting, hint, tmp_path) -> None:
    code, stderr = launch("-o", setting, ledger=tmp_path / "ledger.sqlite3")
    assert code == 2 and stderr.count("\n") == 1 and hint in stderr, stderr


def test_known_settings_of_every_provider_are_accepted(tmp_path) -> None:
    """A plain key one provider takes, and keys for providers the launch does not use."""
    code, stderr = launch("-o", "subnet_id=subnet-1", "-o", "gcp.project=p",
                          "-o", "azure.public_ip=no", "-o", "onprem.account=a",
                          "-o", "aws.key_name=k", ledger=tmp_path / "ledger.sqlite3")
    assert code == 0, stderr


def test_the_api_refuses_an_unknown_key_before_anything_is_recorded(tmp_path) -> None:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=1, providers="aws"))
    ledger = tmp_path / "ledger.sqlite3"
    for dry_run in (True, False):
        with pytest.raises(greenml.InputError) as info:
            plan.launch(name="typo", run="true", dry_run=dry_run, ledger=ledger,
                           settings={"aws.subent_id": "subnet-1"})
        assert info.value.field == "settings"
        assert info.value.suggestions == ("aws.subnet_id",)
    assert launches_in(ledger) == 0


def test_each_provider_declares_every_setting_it_reads() -> None:
    """settings_help() is the one declaration: every key a plugin's code reads from its
    settings (by name from a mapping, or as a field of its typed settings) is in it, so no
    setting the plugin honours is ever refused."""
    providers = greenml.default_catalog().providers
    for name in ("aws", "gcp", "azure", "onprem"):
        package = ROOT / "plugins" / f"greenml-{name}" / f"greenml_{name}"
        read = set()
        for path in package.glob("*.py"):
            text = path.read_text()
            read |= set(re.findall(r"""settings(?:\.get\(|\[|, )\s*["'](\w+)["']""", text))
            read |= set(re.findall(r"\bsettings\.(\w+)\b(?!\()", text))
        declared = set(providers[name].settings_help())
        assert read, name
        assert read <= declared, f"{name} reads undeclared settings {read - declared}"


def test_keys_reach_only_their_provider() -> None:
    settings = {"key_name": "k", "aws.subnet_id": "s", "gcp.project": "p"}
    check_settings(settings, greenml.default_catalog().providers)
    assert provider_settings("aws", settings) == {"key_name": "k", "subnet_id": "s"}
    assert provider_settings("gcp", settings) == {"key_name": "k", "project": "p"}


def test_a_provider_with_a_broken_settings_help_takes_no_settings() -> None:
    class Broken(MemoryProvider):
        def settings_help(self):
            raise RuntimeError("a plugin bug")

    providers = {"memory": Broken(), **greenml.default_catalog().providers}
    with pytest.raises(greenml.InputError, match="memory takes no settings"):
        check_settings({"memory.pool": "a"}, providers)
    assert check_settings({"aws.key_name": "k"}, providers) == {"aws.key_name": "k"}
