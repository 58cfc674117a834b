"""``greenml launch --provider azure``, ``status`` and ``down`` as a user runs them, against
the tests' ARM; and a real kill -9 in the middle of a launch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from greenml.testing import run_cli

JOB = ("--accelerator", "A100", "--count", "2", "--hours", "10", "--provider", "azure")


def test_cli_launch_status_down(azure) -> None:
    result = run_cli("launch", *JOB, "--name", "cli-run", "--run", "python train.py",
                     "-o", "azure.public_ip=yes")
    assert result.returncode == 0, result.stderr
    assert "launched 'cli-run'" in result.stdout and "swedencentral" in result.stdout
    assert "Standard_NC24ads_A100_v4" in result.stdout
    assert len(azure.resources("virtualMachines")) == 2
    status = json.loads(run_cli("status", "--json").stdout)
    assert [(s["name"], s["provider"], s["state"]) for s in status] == [
        ("cli-run", "azure", "running")]
    refreshed = run_cli("status", "--refresh", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    live = {r["kind"]: r["live_state"] for r in json.loads(refreshed.stdout)[0]["resources"]}
    assert live == {**{kind: "Succeeded" for kind in ("instance", "nic", "public-ip", "disk")},
                    "role-assignment": "exists"}  # a role has no provisioning state
    refused = run_cli("down", "cli-run")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    down = run_cli("down", "cli-run", "--yes")
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("terminated azure instance") == 2
    for kind in ("virtualMachines", "networkInterfaces", "disks", "publicIPAddresses"):
        assert azure.resources(kind) == [], kind
    assert azure.role_assignments() == []
    again = run_cli("down", "cli-run", "--yes")
    assert again.returncode == 0 and "nothing left" in again.stdout
    everything = result.stdout + result.stderr + down.stdout + down.stderr
    assert azure.client_secret not in everything
    assert not any(token in everything for token in azure.tokens)


def test_cli_dry_run_and_bad_settings(azure) -> None:
    dry = run_cli("launch", *JOB, "--name", "dry", "--run", "true", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "azure: VM dry-0-" in dry.stdout and "microsoft-dsvm:ubuntu-hpc:2204" in dry.stdout
    bad = run_cli("launch", *JOB, "--name", "badimage", "--run", "true", "--dry-run",
                  "-o", "azure.image=ubuntu")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "azure.image" in bad.stderr and "publisher:offer:sku:version" in bad.stderr
    stopped = run_cli("launch", *JOB, "--name", "badgroup", "--run", "true",
                      "-o", "azure.resource_group=no/slashes")
    assert stopped.returncode == 2 and stopped.stderr.count("\n") == 1
    assert "azure.resource_group" in stopped.stderr
    assert azure.calls("PUT") == []


def test_cli_missing_credentials_one_line(azure) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AZURE_CLIENT_SECRET"}
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "greenml"),
                             "launch", *JOB, "--name", "nocreds", "--run", "true"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "AZURE_CLIENT_SECRET not set" in result.stderr


def polling_the_vm(fake) -> bool:
    """Whether the launch is waiting on the VM's creation (its operation is being read)."""
    calls = fake.calls()
    put = next((i for i, c in enumerate(calls)
                if c["method"] == "PUT" and c["kind"].endswith("virtualmachines")), None)
    return put is not None and any(c["kind"] == "operations" for c in calls[put:])


def test_kill_9_mid_launch_leaves_nothing_down_cannot_find(azure) -> None:
    """A real kill -9 while the VM is being created: the VM, its NIC and its disk exist, the
    ledger knows the NIC and disk but not the VM's id; down finds the VM by tag."""
    azure.slow_operations("virtualMachines", polls=10**9)
    env = {**os.environ, "GREENML_AZURE_POLL_INTERVAL_S": "0.05"}
    child = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "greenml"), "launch", "--accelerator",
         "A100", "--count", "1", "--hours", "10", "--provider", "azure", "--name", "crashy",
         "--run", "true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not polling_the_vm(azure) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert polling_the_vm(azure), "the launch never reached the VM's operation"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    [vm] = azure.resources("virtualMachines")
    [record] = json.loads(run_cli("status", "--json").stdout)
    assert record["state"] == "launching"
    rows = {r["kind"]: (r["state"], bool(r["resource_id"])) for r in record["resources"]}
    assert rows == {"instance": ("intent", True), "nic": ("created", True),
                    "disk": ("created", True)}
    [planned] = [r["resource_id"] for r in record["resources"] if r["kind"] == "instance"]
    assert planned.lower() == vm["id"].lower(), "the VM's id was recorded before its PUT"
    down = run_cli("down", "crashy", "--yes")
    assert down.returncode == 0, down.stderr
    for kind in ("virtualMachines", "networkInterfaces", "disks"):
        assert azure.resources(kind) == [], kind
    [record] = json.loads(run_cli("status", "crashy", "--json").stdout)
    assert record["state"] == "down"
    assert {r["state"] for r in record["resources"]} == {"terminated"}
