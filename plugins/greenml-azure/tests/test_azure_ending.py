"""Runs that end themselves and gangs that meet on Azure, through the real SDK clients against
the tests' ARM: each VM's system-assigned identity and the role assignment on the VM alone
(recorded in the ledger, removed by ``down``), ``--keep`` leaving both out, and a gang's rank,
node count and head address written as each member's tags once all are up."""

from __future__ import annotations

import base64

import pytest

import greenml

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"


def a100_plan(count: int = 1) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10,
                                    providers="azure"))


def test_a_vm_may_delete_itself_through_its_own_identity(azure) -> None:
    greenml.launch(a100_plan(), name="ends", run="true", retry=FAST, max_hours=2)
    [put] = [c for c in azure.calls("PUT", "virtualMachines")]
    assert put["body"]["identity"] == {"type": "SystemAssigned"}
    [vm] = azure.resources("virtualMachines")
    [role] = azure.role_assignments()
    props = role["properties"]
    assert props["scope"] == vm["id"]  # the VM alone: nothing else in the group or beyond
    assert props["principalId"] == vm["identity"]["principalId"]
    assert props["principalType"] == "ServicePrincipal"
    assert props["roleDefinitionId"] == (f"/subscriptions/{azure.subscription_id}/providers/"
                                         f"Microsoft.Authorization/roleDefinitions/"
                                         f"{VM_CONTRIBUTOR}")
    script = base64.b64decode(vm["properties"]["osProfile"]["customData"]).decode()
    assert " sleep 7200 >/dev/null 2>&1 </dev/null & greenml_sleep=$!" in script  # watchdog
    [record] = greenml.status()
    [granted] = [r for r in record.resources if r.kind == "role-assignment"]
    assert (granted.resource_id, granted.state) == (role["id"], "created")
    assert record.kept is False


def test_keep_leaves_out_the_identity_and_the_role(azure) -> None:
    greenml.launch(a100_plan(), name="kept", run="true", retry=FAST, keep=True)
    [put] = [c for c in azure.calls("PUT", "virtualMachines")]
    assert "identity" not in put["body"]
    assert azure.role_assignments() == [] and azure.calls("PUT", "roleassignment") == []
    [vm] = azure.resources("virtualMachines")
    script = base64.b64decode(vm["properties"]["osProfile"]["customData"]).decode()
    assert "greenml_end() {  # end this machine (and its billing)\n  :\n}" in script
    [record] = greenml.status()
    assert record.kept is True


def test_down_removes_the_role_assignment_with_the_vm(azure) -> None:
    a100_plan(count=2).launch(name="downme", run="true", retry=FAST)
    assert len(azure.role_assignments()) == 2
    greenml.down("downme")
    assert azure.resources("virtualMachines") == []
    assert azure.role_assignments() == []  # Azure would keep them, orphaned


def test_a_role_whose_record_was_lost_goes_with_its_vm(azure) -> None:
    """A crash between the grant and its record: down derives the id from the VM's."""
    launch = a100_plan().launch(name="lost", run="true", retry=FAST)
    [vm] = launch.instances
    greenml.default_catalog().providers["azure"].terminate([vm])
    assert azure.role_assignments() == []


def test_a_refused_grant_removes_the_vm_and_says_why(azure) -> None:
    azure.inject("PUT", "roleassignment", "AuthorizationFailed", status=403, times=None)
    with pytest.raises(greenml.LaunchError, match="AuthorizationFailed") as info:
        a100_plan().launch(name="nogrant", run="true", retry=FAST)
    assert "roleAssignments/write" in str(info.value) and "--keep" in str(info.value)
    assert azure.resources("virtualMachines") == []


def test_a_gang_gets_distinct_ranks_and_one_head_through_tags(azure) -> None:
    launch = a100_plan(count=3).launch(name="gang", run="torchrun train.py", retry=FAST)
    vms = {v["id"]: v for v in azure.resources("virtualMachines")}
    members = [vms[r.resource_id] for r in launch.instances]
    nic_id = members[0]["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
    [nic] = [n for n in azure.resources("networkInterfaces") if n["id"] == nic_id]
    head = nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    tags = [m["tags"] for m in members]
    assert [t["greenml-rank"] for t in tags] == ["0", "1", "2"]
    assert {t["greenml-nodes"] for t in tags} == {"3"}
    assert {t["greenml-head-addr"] for t in tags} == {head}
    assert all(t["greenml-launch-id"] == launch.launch_id for t in tags)  # kept
    assert len(azure.calls("PATCH", "virtualMachines")) == 3


def test_a_single_vm_needs_no_rendezvous(azure) -> None:
    a100_plan().launch(name="one", run="true", retry=FAST)
    assert azure.calls("PATCH", "virtualMachines") == []
