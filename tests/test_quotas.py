"""``greenml quotas`` and ``greenml.fleet.read_quotas``: every provider that can read quotas
answers, one that fails is one line, and ``--save`` writes limits a job file reads back."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

import pytest

import greenml
from greenml.cli import main
from greenml.errors import QuotaWarning
from greenml.fleet.jobs import read_jobs
from greenml.fleet.quotas import Quota, limits_table, read_quotas
from greenml.provider import Capability
from greenml.testing import MemoryProvider, ProviderPlugin


class Quoting(MemoryProvider):
    """A memory cloud whose account has A100 and H100 quotas, and a provider-wide total."""

    name = "quoting"
    capabilities = MemoryProvider.capabilities | {Capability.QUOTAS}

    def quotas(self, regions: Sequence[str] | None = None) -> list[Quota]:
        asked = list(regions) if regions is not None else ["memory-north-1", "memory-south-1"]
        out = [Quota(self.name, r, "A100", 16, 8, False, f"test quota A100 in {r}")
               for r in asked]
        out.append(Quota(self.name, "memory-north-1", "H100", 8, None, True, "spot H100"))
        out.append(Quota(self.name, "", "", 24, 8, False, "all regions"))
        return [q for q in out if not q.region or q.region in asked]


class Failing(MemoryProvider):
    name = "failing"
    capabilities = MemoryProvider.capabilities | {Capability.QUOTAS}

    def quotas(self, regions: Sequence[str] | None = None) -> list[Quota]:
        raise PermissionError("AccessDenied:\n  the role may not read quotas")


@pytest.fixture
def clouds(greenml_fresh_plugins):
    manager = greenml.registry.default().manager
    for provider in (Quoting(), Failing(), MemoryProvider()):
        manager.register(ProviderPlugin(provider), name=f"greenml-{provider.name}")


def test_the_table_lists_each_quota(clouds, capsys) -> None:
    assert main(["quotas", "--provider", "quoting"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PROVIDER", "REGION", "ACCELERATOR", "KIND", "LIMIT", "USED",
                                "SOURCE"]
    assert lines[1].split()[:6] == ["quoting", "(all)", "(any)", "on-demand", "24", "8"]
    assert any(line.split()[:5] == ["quoting", "memory-north-1", "H100", "spot", "8"]
               for line in lines)


def test_json_and_regions(clouds, capsys) -> None:
    assert main(["quotas", "--provider", "quoting", "--region", "memory-south-1",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problems"] == [] and data["providers"] == ["quoting"]
    assert {(q["region"], q["accelerator"], q["limit"]) for q in data["quotas"]} == {
        ("memory-south-1", "A100", 16), ("", "", 24)}


def test_a_failing_provider_is_one_line_the_others_answer_and_exit_1(clouds, capsys) -> None:
    assert main(["quotas", "--provider", "quoting,failing"]) == 1
    out, err = capsys.readouterr()
    assert err == ("greenml: error: failing: cannot read quotas: PermissionError: "
                   "AccessDenied: the role may not read quotas\n")
    assert "memory-south-1" in out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quotas = read_quotas(["quoting", "failing"])
    assert [str(w.message) for w in caught if w.category is QuotaWarning] == [
        "failing: PermissionError: AccessDenied: the role may not read quotas"]
    assert {q.provider for q in quotas} == {"quoting"}


def test_saved_limits_are_what_a_job_file_reads(clouds, tmp_path, capsys) -> None:
    saved = tmp_path / "limits.toml"
    assert main(["quotas", "--provider", "quoting", "--save", str(saved)]) == 0
    assert f"saved the on-demand quotas as [limits] to {saved}" in capsys.readouterr().out
    text = saved.read_text()
    assert "# Spot / preemptible quotas" in text and "spot H100" in text
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(text + '\n[[job]]\nname = "a"\naccelerator = "A100"\ncount = 8\n'
                           'hours = 2\n')
    limits = read_jobs(jobs).limits
    assert dict(limits.accelerators) == {("quoting", "memory-north-1", "A100"): 16,
                                         ("quoting", "memory-south-1", "A100"): 16}
    assert dict(limits.provider_accelerators) == {"quoting": 24}
    assert limits.checked(greenml.registry.default_catalog(), ["a"]).accelerators == \
        limits.accelerators


def test_separate_pools_on_one_key_add_up() -> None:
    quotas = [Quota("p", "r", "A100", 16), Quota("p", "r", "A100", 4),
              Quota("p", "r", "A100", 99, spot=True)]
    assert limits_table(quotas) == {"accelerators": {"p/r/A100": 20}}


@pytest.mark.parametrize(("args", "message"), [
    (["--provider", "quotng"], "--provider: unknown provider 'quotng'"),
    (["--provider", "memory"], "--provider: provider 'memory' cannot read quotas"),
    (["--provider", "quoting", "--region", "memory-nort-1"],
     "--region: unknown region 'memory-nort-1'"),
])
def test_bad_input_exits_2_with_one_line(clouds, capsys, args, message) -> None:
    assert main(["quotas", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"greenml: error: {message}") and err.count("\n") == 1
    if "unknown" in message:
        assert "did you mean" in err


def test_a_provider_without_quotas_says_so() -> None:
    with pytest.raises(greenml.GreenmlError, match="provider 'memory' cannot read quotas"):
        MemoryProvider().quotas()
