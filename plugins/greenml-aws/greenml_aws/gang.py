"""What an EC2 gang shares: a cluster placement group, a security group that lets members reach
each other, and the rendezvous tags each member's boot script reads through IMDSv2.

Why here: torchrun across instances needs low latency between them (the placement group),
open ports between them (the security group) and, on each, its rank, the node count and the
head's private address, which exist only once every member does. The groups are recorded in
the ledger (``Journal.intent``) before they are created and removed by ``terminate`` once
the instances are gone; both are named after the launch (``greenml-<launch id>``), so a
crash between a create and its record still leaves them findable by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenml.provider import TAG_INDEX, InstanceRequest, Journal, Resource
from greenml_aws.ec2 import error_code
from greenml_aws.settings import AWSSettings
from greenml_aws.tags import TAG_HEAD

PLACEMENT_GROUP = "placement-group"
SECURITY_GROUP = "security-group"
GROUP_KINDS = (PLACEMENT_GROUP, SECURITY_GROUP)
#: How long ``terminate`` waits for a gang's instances to be gone before removing its groups.
WAIT_DELAY_S, WAIT_ATTEMPTS = 5, 60


def group_name(launch_id: str) -> str:
    return f"greenml-{launch_id}"


def create_groups(client: Any, request: InstanceRequest, settings: AWSSettings,
                  journal: Journal) -> tuple[str, str]:
    """The gang's placement group and security group, created (or found: a retry, another
    member) and recorded; returns (placement group name, security group id)."""
    from concurrent.futures import ThreadPoolExecutor

    name = group_name(request.launch_id)
    tags = [{"Key": k, "Value": v} for k, v in sorted(request.tags.items())
            if k != TAG_INDEX]
    with ThreadPoolExecutor(max_workers=1) as pool:  # the two groups at once: a gang waits
        placement = pool.submit(_placement_group, client, name, tags, journal)  # on both
        group_id = _security_group(client, name, tags, settings, journal)
        placement.result()
    return name, group_id


def _placement_group(client: Any, name: str, tags: list[dict[str, str]],
                     journal: Journal) -> None:
    token = journal.intent(PLACEMENT_GROUP, name, name)
    try:
        client.create_placement_group(GroupName=name, Strategy="cluster", TagSpecifications=[
            {"ResourceType": "placement-group", "Tags": tags}])
    except Exception as exc:
        if error_code(exc) != "InvalidPlacementGroup.Duplicate":
            raise
    journal.created(token, name)


def _security_group(client: Any, name: str, tags: list[dict[str, str]],
                    settings: AWSSettings, journal: Journal) -> str:
    """The gang's security group, letting every member reach every other; created, or found
    when a retry or another member made it already."""
    vpc = _vpc(client, settings)
    token = journal.intent(SECURITY_GROUP, name)
    try:
        group_id = client.create_security_group(
            GroupName=name, VpcId=vpc, TagSpecifications=[
                {"ResourceType": "security-group", "Tags": tags}],
            Description="greenml gang: every member reaches every other")["GroupId"]
    except Exception as exc:
        if error_code(exc) != "InvalidGroup.Duplicate":
            raise
        group_id = _find_security_group(client, name, vpc)
    try:
        client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]}])
    except Exception as exc:
        if error_code(exc) != "InvalidPermission.Duplicate":
            raise
    journal.created(token, group_id)
    return str(group_id)


def _vpc(client: Any, settings: AWSSettings) -> str:
    """The VPC the instances land in: the subnet's, else the region's default VPC."""
    if settings.subnet_id:
        subnet = client.describe_subnets(SubnetIds=[settings.subnet_id])["Subnets"][0]
        return str(subnet["VpcId"])
    vpcs = client.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ValueError("this region has no default VPC: give aws.subnet_id=... for a gang")
    return str(vpcs[0]["VpcId"])


def _find_security_group(client: Any, name: str, vpc: str | None = None) -> str:
    filters = [{"Name": "group-name", "Values": [name]}]
    if vpc:
        filters.append({"Name": "vpc-id", "Values": [vpc]})
    found = client.describe_security_groups(Filters=filters)["SecurityGroups"]
    return str(found[0]["GroupId"]) if found else ""


def write_rendezvous(client: Any, instances: Sequence[Resource]) -> None:
    """Tag every member with the head's (rank 0's) private address, in one call: each
    member's rank and the node count were tagged when it was created (``ec2``), and the boot
    scripts wait for all three."""
    ids = [r.resource_id for r in instances]
    reply = client.describe_instances(InstanceIds=ids[:1])
    head = next((i.get("PrivateIpAddress", "") for r in reply["Reservations"]
                 for i in r["Instances"]), "")
    if not head:
        raise ValueError(f"the gang's head {ids[0]} has no private address yet")
    client.create_tags(Resources=ids, Tags=[{"Key": TAG_HEAD, "Value": head}])


def remove_groups(client: Any, launch_ids: Sequence[str], instance_ids: Sequence[str]) -> None:
    """Once ``instance_ids`` are terminated, delete each launch's security group and
    placement group; gone already is fine. A group still in use raises (retried)."""
    if instance_ids:
        try:
            client.get_waiter("instance_terminated").wait(
                InstanceIds=list(instance_ids),
                WaiterConfig={"Delay": WAIT_DELAY_S, "MaxAttempts": WAIT_ATTEMPTS})
        except Exception as exc:  # long gone: EC2 no longer knows the instance
            last = getattr(exc, "last_response", None) or {}
            if last.get("Error", {}).get("Code") != "InvalidInstanceID.NotFound":
                raise
    for launch_id in launch_ids:
        name = group_name(launch_id)
        group_id = _find_security_group(client, name)
        if group_id:
            try:
                client.delete_security_group(GroupId=group_id)
            except Exception as exc:
                if error_code(exc) != "InvalidGroup.NotFound":
                    raise
        try:
            client.delete_placement_group(GroupName=name)
        except Exception as exc:
            if error_code(exc) not in ("InvalidPlacementGroup.Unknown",
                                       "InvalidPlacementGroup.NotFound"):
                raise
