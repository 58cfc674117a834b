"""``greenml down`` and ``greenml status`` on a ledger this process may only read, against
EC2 (moto behind the EC2 front): the instances are terminated, one line says the ledger could
not record it, and the next writable ``down`` records it.

Read-only for real, as in tests/test_ledger_readonly.py (``greenml.testing.make_read_only``
and ``unprivileged``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_fake import ec2_client

import greenml
from greenml.testing import make_read_only, make_writable, unprivileged


def restricted_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = unprivileged([str(Path(sys.executable).parent / "greenml"), *args])
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def live_ids(fake, region: str) -> list[str]:
    reply = ec2_client(fake, region).describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return sorted(i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"])


@pytest.mark.parametrize("where", ["read-only file", "read-only directory"])
def test_down_on_a_read_only_ledger(aws, where) -> None:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=16, hours=10, providers="aws"))
    launch = plan.launch(name="ro", run="true",
                            retry=greenml.RetryPolicy(attempts=2, base_delay_s=0.01))
    region = launch.option.region.name
    ids = sorted(r.resource_id for r in launch.instances)
    assert len(ids) == 2 and live_ids(aws, region) == ids
    path = Path(os.environ["GREENML_LEDGER"])
    side = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    # this process may still hold connections open (-wal and -shm then exist): theirs too
    for locked in [path if where == "read-only file" else path.parent, *side]:
        if locked.exists():
            make_read_only(locked)
    try:
        status = restricted_cli("status", "--json")
        assert status.returncode == 0, status.stderr
        assert [r["name"] for r in json.loads(status.stdout)] == ["ro"]

        down = restricted_cli("down", "ro", "--yes")
        assert down.returncode == 0, down.stderr
        said = [line.split() for line in down.stdout.splitlines()]
        assert sorted(w[3] for w in said if w[2] == "instance") == ids
        # the gang's placement group and security group go too
        assert sorted(w[2] for w in said if w[2] != "instance") == ["placement-group",
                                                                    "security-group"]
        assert down.stderr.count("\n") == 1, down.stderr
        assert down.stderr.startswith("greenml: warning: terminated 4 resource(s) of 'ro' but "
                                      f"could not record it: the ledger {path} is read-only (")
        assert "the next 'greenml down ro' on a writable ledger records them" in down.stderr
        assert live_ids(aws, region) == [], "terminated all the same"

        refreshed = restricted_cli("status", "--refresh", "--json")
        assert refreshed.returncode == 0, refreshed.stderr
    finally:
        make_writable(path.parent, path, *side)

    # (this process's own connections may checkpoint the file meanwhile: compare rows)
    [record] = greenml.status()
    assert record.state == "running", "the ledger still names them: nothing is lost"
    assert {r.state for r in record.resources} == {"created"}
    assert greenml.down("ro") != []  # already terminated: fine
    [record] = greenml.status("ro")
    assert record.state == "down" and {r.state for r in record.resources} == {"terminated"}
