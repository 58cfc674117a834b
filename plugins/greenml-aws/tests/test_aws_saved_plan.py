"""A plan saved with ``greenml plan --save`` and launched with ``greenml launch --plan``:
the real CLI in subprocesses, the real boto3 against moto behind the EC2 front."""

from __future__ import annotations

import json

from aws_fake import ec2_client
from aws_regions import REGIONS

from greenml.testing import run_cli

JOB = ["--accelerator", "A100", "--count", "8", "--hours", "10", "--provider", "aws"]


def save(tmp_path, name: str = "plan.json") -> tuple[str, dict]:
    path = tmp_path / name
    result = run_cli("plan", *JOB, "--save", str(path))
    assert result.returncode == 0, result.stderr
    assert f"saved the plan ({json.loads(path.read_text())['count']} options) to {path}" \
        in result.stderr
    return str(path), json.loads(path.read_text())


def where(option: dict) -> tuple[str, str, str]:
    return option["provider"], option["region"], option["instance_type"]


def launched(fake, region: str) -> list[tuple[str, str, str]]:
    reply = ec2_client(fake, region).describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [("aws", region, i["InstanceType"]) for r in reply["Reservations"]
            for i in r["Instances"]]


def ledger() -> list[dict]:
    result = run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_saved_best_is_what_the_cli_launches(aws, tmp_path) -> None:
    path, saved = save(tmp_path)
    best = where(saved["options"][0])
    assert best[1] == REGIONS[0] and saved["format"] == "greenml.plan/1"
    dry = run_cli("launch", "--plan", path, "--name", "saved-dry", "--run", "true",
                  "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"on aws in {best[1]}" in dry.stdout and aws.calls("RunInstances") == []
    result = run_cli("launch", "--plan", path, "--name", "saved-run", "--run", "python t.py")
    assert result.returncode == 0, result.stderr
    assert launched(aws, best[1]) == [best]
    [record] = ledger()
    assert (record["provider"], record["region"], record["instance_type"]) == best
    assert record["name"] == "saved-run" and record["state"] == "running"


def test_the_saved_order_is_the_failover_order(aws, tmp_path) -> None:
    path, saved = save(tmp_path)
    aws.inject("RunInstances", "InsufficientInstanceCapacity", times=100, region=REGIONS[0])
    result = run_cli("launch", "--plan", path, "--name", "saved-failover", "--run", "true")
    assert result.returncode == 0, result.stderr
    second = next(where(o) for o in saved["options"] if o["region"] != REGIONS[0])
    assert launched(aws, second[1]) == [second]
    [record] = ledger()
    assert [a["region"] for a in record["attempts"]][-1] == second[1]
    assert record["attempts"][0]["code"] == "InsufficientInstanceCapacity"


def test_a_tampered_fingerprint_is_refused_unless_replanned(aws, tmp_path) -> None:
    path, saved = save(tmp_path)
    saved["catalog"]["fingerprint"] = "sha256:" + "0" * 64
    (tmp_path / "plan.json").write_text(json.dumps(saved))
    refused = run_cli("launch", "--plan", path, "--name", "stale", "--run", "true")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(f"greenml: error: --plan: {path} was made on another "
                                     "catalog than the installed one (fingerprint 000000000000")
    assert "--replan" in refused.stderr
    assert aws.calls("RunInstances") == [] and ledger() == []
    replanned = run_cli("launch", "--plan", path, "--replan", "--name", "fresh", "--run", "true")
    assert replanned.returncode == 0, replanned.stderr
    assert "--replan: planned its job again on the installed catalog" in replanned.stderr
    best = where(saved["options"][0])  # today's catalog is the same: the same best
    assert launched(aws, best[1]) == [best]
    assert [r["name"] for r in ledger()] == ["fresh"]
