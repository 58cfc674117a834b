"""EC2 GPU quotas: real boto3 Service Quotas calls against the EC2 front (servicequotas_fake),
converted from vCPUs to accelerators with the plugin's offers."""

from __future__ import annotations

import json

import greenml
from greenml.fleet.quotas import read_each

P = ("L-417A185B", "Running On-Demand P instances")
G = ("L-DB2E81BA", "Running On-Demand G and VT instances")
SPOT_P2_4 = ("L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests")
SPOT_P5 = ("L-C4BD4855", "All P5 Spot Instance Requests")


def _by_key(quotas):
    return {(q.region, q.accelerator, q.spot): q for q in quotas}


def test_vcpu_quotas_become_accelerators_per_family(aws) -> None:
    aws.set_service_quota("us-east-1", *P, 400)
    aws.set_service_quota("us-east-1", *G, 64)
    quotas = greenml.registry.default().providers()["aws"].quotas(["us-east-1"])
    got = {k: q.limit for k, q in _by_key(quotas).items()}
    # 400 vCPUs: four p4d.24xlarge (96 vCPUs, 8 A100) = 32; p5.4xlarge (16 vCPUs, 1 H100) 25
    # beats two p5.48xlarge (16); p3.2xlarge (8 vCPUs, 1 V100) 50 beats p3dn (32).
    assert got[("us-east-1", "A100", False)] == 32
    assert got[("us-east-1", "H100", False)] == 25
    assert got[("us-east-1", "H200", False)] == 16
    assert got[("us-east-1", "V100", False)] == 50
    # 64 vCPUs of G: sixteen g4dn.xlarge (4 vCPUs, 1 T4); Graviton gr6 and g6 hold L4.
    assert got[("us-east-1", "T4", False)] == 16
    assert got[("us-east-1", "L4", False)] == 16
    assert not any(spot for _, _, spot in got)  # no spot quota was set
    a100 = _by_key(quotas)[("us-east-1", "A100", False)]
    assert a100.source.startswith("AWS Service Quotas L-417A185B (Running On-Demand P "
                                  "instances: 400 vCPUs; p4d.24xlarge: 96 vCPUs, 8 A100)")
    assert a100.used is None and a100.provider == "aws"


def test_spot_quotas_follow_their_own_instance_groups(aws) -> None:
    aws.set_service_quota("us-east-1", *SPOT_P2_4, 96)
    aws.set_service_quota("us-east-1", *SPOT_P5, 192)
    got = {k: q.limit for k, q in
           _by_key(greenml.registry.default().providers()["aws"].quotas(["us-east-1"])).items()}
    assert got[("us-east-1", "A100", True)] == 8  # one p4d.24xlarge
    assert got[("us-east-1", "V100", True)] == 12  # twelve p3.2xlarge
    assert got[("us-east-1", "H100", True)] == 12  # P5 group: twelve p5.4xlarge
    assert got[("us-east-1", "H200", True)] == 8
    assert ("us-east-1", "B200", True) not in got  # p6 is in neither group
    assert not any(not spot for _, _, spot in got)


def test_every_page_is_read_and_each_region_asked(aws) -> None:
    for region in ("us-east-1", "eu-north-1"):
        aws.set_service_quota(region, *P, 192)
        aws.set_service_quota(region, *G, 8)
        aws.set_service_quota(region, *SPOT_P5, 192)
    quotas = greenml.registry.default().providers()["aws"].quotas(["us-east-1", "eu-north-1"])
    calls = aws.calls("ListServiceQuotas")
    assert {c["region"] for c in calls} == {"us-east-1", "eu-north-1"}
    assert len(calls) == 4  # four quotas each (with Standard), two per page
    assert {q.region for q in quotas} == {"us-east-1", "eu-north-1"}
    assert _by_key(quotas)[("eu-north-1", "H100", True)].limit > 0


def test_a_failing_provider_is_one_line_and_the_cli_exits_1(aws, capsys) -> None:
    aws.set_service_quota("us-east-1", *P, 96)
    reading = read_each(["aws"], ["us-east-1"])
    assert reading.problems == {} and reading.quotas
    aws.inject("ListServiceQuotas", "AccessDeniedException", status=400, times=None,
               message="User is not authorized to perform: servicequotas:ListServiceQuotas")
    reading = read_each(["aws"], ["us-east-1"])
    assert reading.quotas == ()
    assert "(AccessDeniedException) when calling the ListServiceQuotas" in reading.problems["aws"]
    from greenml.cli import main

    assert main(["quotas", "--provider", "aws", "--region", "us-east-1", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["problems"][0]["provider"] == "aws"
    assert len(err.strip().splitlines()) == 1 and "AccessDeniedException" in err


def test_saved_limits_are_read_back_by_a_job_file(aws, tmp_path, capsys) -> None:
    aws.set_service_quota("us-east-1", *P, 96)
    aws.set_service_quota("us-east-1", *SPOT_P5, 192)
    saved = tmp_path / "limits.toml"
    from greenml.cli import main

    assert main(["quotas", "--provider", "aws", "--region", "us-east-1",
                 "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "A100" in out and "spot" in out and f"to {saved}" in out
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(saved.read_text() + '\n[[job]]\nname = "a"\naccelerator = "A100"\n'
                    'count = 8\nhours = 2\n')
    from greenml.fleet.jobs import read_jobs

    limits = read_jobs(jobs).limits
    assert limits.accelerators[("aws", "us-east-1", "A100")] == 8
    assert ("aws", "us-east-1", "H100") in limits.accelerators  # P covers p5 on demand
    checked = limits.checked(greenml.registry.default_catalog(), ["a"])
    assert checked.accelerators == limits.accelerators  # every name is the catalog's
