"""Azure GPU quotas: the real ComputeManagementClient's usages and resource-SKU lists over
HTTPS against arm_fake (azure_quotas), converted from vCPUs to accelerators."""

from __future__ import annotations

import greenml
from greenml.fleet.quotas import read_each


def _azure():
    return greenml.registry.default().providers()["azure"]


def test_family_usages_become_accelerators(azure) -> None:
    azure.set_usage("eastus", "standardNDASv4_A100Family", 200, 96)
    azure.set_usage("eastus", "StandardNCADSA100v4Family", 100)
    azure.set_usage("eastus", "standardNCASv3_T4Family", 10)
    azure.set_usage("eastus", "lowPriorityCores", 192)
    quotas = _azure().quotas(["eastus"])
    got = sorted((q.accelerator, q.limit, q.used) for q in quotas if not q.spot)
    assert got == [
        ("A100", 4, 0),  # 100 vCPUs: four NC24ads_A100_v4 (24 vCPUs, 1 GPU)
        ("A100", 16, 8),  # 200 vCPUs: two ND96asr_v4 (96 vCPUs, 8 A100); 96 used
        ("T4", 2, 0),  # 10 vCPUs: two NC4as_T4_v3
    ]
    spot = {q.accelerator: q.limit for q in quotas if q.spot}  # every GPU size shares it
    assert spot["A100"] == 16  # 192 low-priority vCPUs: two 8-GPU sizes
    assert spot["T4"] == 48  # forty-eight NC4as_T4_v3
    assert {"H100", "V100"} <= set(spot)
    nd = next(q for q in quotas if q.limit == 16 and not q.spot)
    assert nd.source == ("Azure compute usage standardNDASv4_A100Family (eastus: 200 vCPUs; "
                         "Standard_ND96asr_v4: 96 vCPUs, 8 A100)")
    assert [c["kind"] for c in azure.calls()].count("usages") == 1


def test_saved_limits_add_separate_family_pools(azure, tmp_path, capsys) -> None:
    azure.set_usage("eastus", "standardNDASv4_A100Family", 200)
    azure.set_usage("eastus", "StandardNCADSA100v4Family", 100)
    saved = tmp_path / "limits.toml"
    from greenml.cli import main

    assert main(["quotas", "--provider", "azure", "--region", "eastus", "--save",
                 str(saved)]) == 0
    assert "standardNDASv4_A100Family" in capsys.readouterr().out
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(saved.read_text() + '\n[[job]]\nname = "a"\naccelerator = "A100"\n'
                    'count = 8\nhours = 2\n')
    from greenml.fleet.jobs import read_jobs

    limits = read_jobs(jobs).limits
    assert limits.accelerators[("azure", "eastus", "A100")] == 20
    limits.checked(greenml.registry.default_catalog(), ["a"])


def test_a_refused_usage_list_is_one_problem(azure) -> None:
    azure.inject("GET", "usages", "AuthorizationFailed", status=403, times=None,
                 message="The client does not have authorization to perform action "
                         "'Microsoft.Compute/locations/usages/read'.")
    reading = read_each(["azure"], ["eastus"])
    assert reading.quotas == ()
    assert "AuthorizationFailed" in reading.problems["azure"]
    assert "\n" not in reading.problems["azure"]
