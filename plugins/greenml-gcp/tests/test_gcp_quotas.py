"""Compute Engine GPU quotas: the real google-cloud-compute Regions and Projects clients over
REST against gce_fake's quota routes (gce_quotas)."""

from __future__ import annotations

import json

import greenml
from greenml.fleet.quotas import read_each


def _by_key(quotas):
    return {(q.region, q.accelerator, q.spot): q for q in quotas}


def _gcp():
    return greenml.registry.default().providers()["gcp"]


def test_region_quotas_and_the_project_total(gcp) -> None:
    gcp.set_quota("NVIDIA_A100_GPUS", 16, 4, region="europe-west4")
    gcp.set_quota("NVIDIA_A100_80GB_GPUS", 8, region="europe-west4")
    gcp.set_quota("PREEMPTIBLE_NVIDIA_A100_GPUS", 64, 8, region="europe-west4")
    gcp.set_quota("NVIDIA_H100_MEGA_GPUS", 24, region="europe-west4")
    gcp.set_quota("NVIDIA_T4_VWS_GPUS", 4, region="europe-west4")  # no catalog GPU: left out
    gcp.set_quota("NVIDIA_L4_GPUS", 8, region="us-central1")
    gcp.set_quota("GPUS_ALL_REGIONS", 32, 12)
    quotas = _gcp().quotas(["europe-west4", "us-central1"])
    got = _by_key(quotas)
    assert {k: (q.limit, q.used) for k, q in got.items()} == {
        ("europe-west4", "A100", False): (16, 4),
        ("europe-west4", "A100-80GB", False): (8, 0),
        ("europe-west4", "A100", True): (64, 8),
        ("europe-west4", "H100", False): (24, 0),
        ("us-central1", "L4", False): (8, 0),
        ("", "", False): (32, 12),
    }
    assert got[("", "", False)].source == "Compute Engine quota GPUS_ALL_REGIONS (project " \
        "greenml-test)"
    assert got[("europe-west4", "A100", True)].source.startswith(
        "Compute Engine quota PREEMPTIBLE_NVIDIA_A100_GPUS")
    assert [c["method"] for c in gcp.calls()] == ["regions.get", "regions.get", "projects.get"]


def test_without_regions_one_list_call_reads_every_region(gcp) -> None:
    gcp.set_quota("NVIDIA_T4_GPUS", 4, region="southamerica-east1")
    gcp.set_quota("NVIDIA_V100_GPUS", 8, region="us-west1")
    quotas = _gcp().quotas()
    assert {(q.region, q.accelerator, q.limit) for q in quotas} == {
        ("southamerica-east1", "T4", 4), ("us-west1", "V100", 8)}
    assert [c["method"] for c in gcp.calls()] == ["regions.list", "projects.get"]


def test_saved_limits_hold_the_provider_total(gcp, tmp_path, capsys) -> None:
    gcp.set_quota("NVIDIA_A100_GPUS", 16, region="europe-west4")
    gcp.set_quota("PREEMPTIBLE_NVIDIA_A100_GPUS", 64, region="europe-west4")
    gcp.set_quota("GPUS_ALL_REGIONS", 24)
    saved = tmp_path / "limits.toml"
    from greenml.cli import main

    assert main(["quotas", "--provider", "gcp", "--region", "europe-west4", "--save",
                 str(saved)]) == 0
    table = capsys.readouterr().out
    assert "(all)" in table and "GPUS_ALL_REGIONS" in table
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(saved.read_text() + '\n[[job]]\nname = "a"\naccelerator = "A100"\n'
                    'count = 8\nhours = 2\n')
    from greenml.fleet.jobs import read_jobs

    limits = read_jobs(jobs).limits
    assert dict(limits.accelerators) == {("gcp", "europe-west4", "A100"): 16}  # no spot
    assert dict(limits.provider_accelerators) == {"gcp": 24}
    limits.checked(greenml.registry.default_catalog(), ["a"])


def test_a_refused_call_is_one_problem_line(gcp, capsys) -> None:
    gcp.inject("projects.get", "forbidden", times=None)
    reading = read_each(["gcp"], ["europe-west4"])
    assert reading.quotas == () and "403" in reading.problems["gcp"]
    from greenml.cli import main

    assert main(["quotas", "--provider", "gcp", "--region", "europe-west4", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["problems"][0]["provider"] == "gcp"
    assert len(err.strip().splitlines()) == 1 and err.startswith("greenml: error: gcp: ")
