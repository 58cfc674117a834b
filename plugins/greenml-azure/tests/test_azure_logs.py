"""``greenml logs`` on Azure: boot diagnostics enabled at creation (managed storage), read
with ``retrieveBootDiagnosticsData`` through the real azure-mgmt-compute client and a GET of
the serial console blob's SAS URL, against the ARM fake."""

from __future__ import annotations

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def gang(name: str = "bert") -> list[str]:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=2, hours=10, providers="azure"))
    made = plan.launch(name=name, run="python train.py", retry=FAST)
    return [r.name for r in sorted(made.instances, key=lambda r: r.name)]


def test_vms_are_created_with_managed_boot_diagnostics(azure) -> None:
    gang()
    for call in [c for c in azure.calls("PUT", "virtualMachines")]:
        assert call["body"]["properties"]["diagnosticsProfile"] == {
            "bootDiagnostics": {"enabled": True}}


def test_logs_return_each_vms_serial_console_with_the_exit_code(azure) -> None:
    head, worker = vms = gang()
    azure.set_serial_console(head, "cloud-init: epoch 1\ncloud-init: greenml-exit=0\n")
    azure.set_serial_console(worker, "rank 1 training\n")
    logs = greenml.logs("bert")
    assert [log.node for log in logs] == [0, 1]
    assert logs[0].text == "cloud-init: epoch 1\ncloud-init: greenml-exit=0\n"
    assert logs[0].exit_code == 0
    blobs = azure.calls("GET", "blob")
    assert blobs and all(c["authorization"] == "" for c in blobs), "no ARM token to storage"
    assert len(azure.calls("POST", "retrieveBootDiagnosticsData")) == len(vms)


def test_the_cli_masks_secrets_and_follows_to_the_exit(azure) -> None:
    vms = gang()
    secret = "em-token-azure-0123456789"
    for vm in vms:
        azure.set_serial_console(vm, f"token {secret}\ngreenml-exit=5\n")
    env = {"ELECTRICITYMAPS_API_TOKEN": secret, "GREENML_LOGS_INTERVAL_S": "0.01"}
    one = run_cli("logs", "bert", "--node", "0", env=env)
    assert (one.returncode, one.stdout, one.stderr) == (0, "token ***\ngreenml-exit=5\n", "")
    follow = run_cli("logs", "bert", "--follow", env=env)
    assert follow.returncode == 0 and secret not in follow.stdout
    assert follow.stdout.rstrip().endswith("greenml-exit=5")
    status = run_cli("status", "--refresh", "--json", env=env)
    assert '"exit_code": 5' in status.stdout
