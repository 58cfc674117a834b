"""Runs that end themselves and gangs that meet, through the real boto3 against moto: the
RunInstances request's shutdown behaviour and metadata options, a gang's placement and
security groups, the rendezvous tags, --keep, and down removing the groups."""

from __future__ import annotations

from aws_fake import ec2_client

import greenml

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def plan(count: int) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=10, providers="aws"))


def tags_of(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_a_run_ends_itself_through_terminate_on_shutdown(aws) -> None:
    launch = plan(8).launch(name="ends", run="true", retry=FAST)
    [call] = [c["params"] for c in aws.calls("RunInstances")]
    assert call["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert call["MetadataOptions"] == {"HttpTokens": "required",
                                       "InstanceMetadataTags": "enabled"}
    assert "Placement" not in call or "GroupName" not in call["Placement"]
    assert aws.calls("CreatePlacementGroup") == []  # one instance: no gang resources
    [record] = greenml.status()
    assert record.kept is False and launch.instances


def test_keep_omits_the_termination(aws) -> None:
    greenml.launch(plan(8), name="kept", run="true", retry=FAST, keep=True)
    [call] = [c["params"] for c in aws.calls("RunInstances")]
    assert "InstanceInitiatedShutdownBehavior" not in call
    [record] = greenml.status()
    assert record.kept is True


def test_a_gang_shares_groups_and_gets_distinct_ranks_with_one_head(aws) -> None:
    launch = plan(24).launch(name="gang", run="true", retry=FAST)
    region = launch.option.region.name
    name = f"greenml-{launch.launch_id}"
    assert aws.placement_groups == {(region, name): "cluster"}
    client = ec2_client(aws, region)
    [group] = client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    [rule] = group["IpPermissions"]
    assert rule["IpProtocol"] == "-1"
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [group["GroupId"]]
    for call in [c["params"] for c in aws.calls("RunInstances")]:
        assert call["Placement"]["GroupName"] == name
        assert call["SecurityGroupId"] == [group["GroupId"]]
    ids = [r.resource_id for r in launch.instances]
    reply = client.describe_instances(InstanceIds=ids)
    found = {i["InstanceId"]: i for r in reply["Reservations"] for i in r["Instances"]}
    tags = [tags_of(found[i]) for i in ids]
    assert [t["greenml-rank"] for t in tags] == ["0", "1", "2"]
    assert {t["greenml-nodes"] for t in tags} == {"3"}
    assert {t["greenml-head-addr"] for t in tags} == {found[ids[0]]["PrivateIpAddress"]}
    # every group was recorded in the ledger, like the instances
    [record] = greenml.status()
    assert sorted(r.kind for r in record.resources if r.kind != "instance") == [
        "placement-group", "security-group"]

    greenml.down("gang")
    assert aws.placement_groups == {}
    assert client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"] == []
