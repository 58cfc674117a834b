"""greenml provider for AWS: EC2 regions and GPU/Trainium offers from package data, and launch.

Importing this module is cheap: boto3 is imported only inside launch calls, and the clients
they make are kept on the ``AWS`` object that made them (``greenml_aws.ec2`` builds the calls'
parameters and reads their errors).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import greenml
from greenml.provider import Capability
from greenml_aws import ec2
from greenml_aws.settings import AWSSettings

if TYPE_CHECKING:  # what a launch hands the provider: loaded to launch, not to plan
    from greenml.provider import Failure, InstanceRequest, Journal, Resource


class AWS(greenml.provider.CatalogProvider):
    """Amazon Web Services (EC2). Launches through boto3's default credential chain."""

    name = "aws"
    display_name = "Amazon Web Services"
    data_package = "greenml_aws.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG,
        Capability.LOGS, Capability.QUOTAS})
    settings_type = AWSSettings

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()
        self._group_lock = threading.Lock()  # one member creates a gang's groups
        self._groups: dict[tuple[str, str], tuple[str, str]] = {}
        self._session: Any = None  # boto3's session: its credential chain, read once
        self._verified = False  # STS accepted the credentials (a refusal is asked again)

    def client(self, service: str, region: str, tries: int = ec2.LOOP_TRIES) -> Any:
        """One boto3 client per (service, region, botocore tries per call), made on first
        use and shared by threads (boto3 clients are safe)."""
        with self._lock:
            key = (service, region, tries)
            if key not in self._clients:
                from botocore.config import Config

                config = Config(retries={"mode": "standard", "total_max_attempts": tries},
                                connect_timeout=10, read_timeout=60)
                self._clients[key] = self._boto_session().client(
                    service, region_name=region, config=config)
            return self._clients[key]

    def _boto_session(self) -> Any:
        """One boto3 session per provider (making one registers ~1,000 handlers: 15-20 ms)."""
        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        return self._session

    def forget_clients(self) -> None:
        """Drop the clients made so far (credentials or endpoint changed)."""
        with self._lock:
            self._clients.clear()
            self._session, self._verified = None, False

    def check_credentials(self) -> tuple[bool, str]:
        if self._verified:  # accepted once by STS for this provider's session
            return True, ""
        with self._lock:
            session = self._boto_session()
        if session.get_credentials() is None:
            return False, ("no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run 'aws configure' / "
                           "'aws sso login'")
        try:
            self.client("sts", session.region_name or "us-east-1",
                        ec2.SDK_TRIES).get_caller_identity()
        except Exception as exc:  # the reason only, never the key
            return False, ec2.credentials_problem(exc)
        self._verified = True
        return True, ""

    def create_instance(self, request: InstanceRequest,
                        journal: Journal) -> Resource:
        settings: AWSSettings = self.typed_settings(request.settings)
        region = request.option.region.name
        image = settings.image_id or self._dlami(region, request.option.offer.instance_type)
        group = self._gang_groups(request, settings, journal) if (
            request.option.instances > 1) else None
        args = ec2.run_instances_args(request, image, settings, group)  # base64 by botocore
        instance = self.client("ec2", region).run_instances(**args)["Instances"][0]
        from greenml.provider import Resource

        return Resource(self.name, region, instance["InstanceId"], "instance",
                        instance.get("Placement", {}).get("AvailabilityZone", ""),
                        request.instance_name, request.launch_id, instance["State"]["Name"])

    def _gang_groups(self, request: InstanceRequest, settings: AWSSettings,
                     journal: Journal) -> tuple[str, str]:
        """The gang's placement and security groups, made by the first member to ask."""
        from greenml_aws import gang

        key = (request.option.region.name, request.launch_id)
        with self._group_lock:
            if key not in self._groups:
                self._groups[key] = gang.create_groups(
                    self.client("ec2", key[0]), request, settings, journal)
            return self._groups[key]

    def rendezvous(self, resources: Sequence[Resource], option: greenml.Option) -> None:
        """Tag every member of a gang with its rank, the node count and the head's address."""
        if len(resources) > 1:
            from greenml_aws import gang

            gang.write_rendezvous(self.client("ec2", resources[0].region), resources)

    def _dlami(self, region: str, instance_type: str) -> str:
        """The Deep Learning AMI for this instance type, resolved through its SSM parameter."""
        name = ec2.DLAMI_PARAMETERS[ec2.architecture(instance_type)]
        return str(self.client("ssm", region).get_parameter(Name=name)["Parameter"]["Value"])

    def terminate(self, resources: Sequence[Resource]) -> None:
        """The instances, then (once they are gone) their gangs' groups."""
        from greenml_aws import gang

        by_region: dict[str, list[str]] = {}
        groups: dict[str, set[str]] = {}
        for r in resources:
            if r.kind in gang.GROUP_KINDS:
                groups.setdefault(r.region, set()).add(r.launch_id)
            elif r.resource_id:
                by_region.setdefault(r.region, []).append(r.resource_id)
        self._terminate_instances(by_region)
        for region, launch_ids in groups.items():
            gang.remove_groups(self.client("ec2", region), sorted(launch_ids),
                               by_region.get(region, []))
            with self._group_lock:
                for launch_id in launch_ids:
                    self._groups.pop((region, launch_id), None)

    def _terminate_instances(self, by_region: dict[str, list[str]]) -> None:
        for region, ids in by_region.items():
            client = self.client("ec2", region)
            try:
                client.terminate_instances(InstanceIds=ids)
            except Exception as exc:
                if ec2.error_code(exc) != "InvalidInstanceID.NotFound":
                    raise
                for one in ids:  # some are gone already: terminate the others one by one
                    try:
                        client.terminate_instances(InstanceIds=[one])
                    except Exception as inner:
                        if ec2.error_code(inner) != "InvalidInstanceID.NotFound":
                            raise

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        from greenml.provider import TAG_LAUNCH_ID, Resource

        found = []
        for region in regions:
            pages = self.client("ec2", region, ec2.SDK_TRIES).get_paginator(
                "describe_instances").paginate(Filters=[
                    {"Name": f"tag:{TAG_LAUNCH_ID}", "Values": [launch_id]},
                    {"Name": "instance-state-name",
                     "Values": ["pending", "running", "stopping", "stopped"]},
                ])
            for page in pages:
                for reservation in page["Reservations"]:
                    for inst in reservation["Instances"]:
                        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                        found.append(Resource(
                            self.name, region, inst["InstanceId"], "instance",
                            inst.get("Placement", {}).get("AvailabilityZone", ""),
                            tags.get("Name", ""), launch_id, inst["State"]["Name"]))
        return found

    def console_output(self, resource: Resource) -> str:
        """EC2 ``GetConsoleOutput``: the instance's serial console as EC2 keeps it (its last
        64 KB; botocore decodes the base64); "" while EC2 has none yet."""
        reply = self.client("ec2", resource.region, ec2.SDK_TRIES).get_console_output(
            InstanceId=resource.resource_id)
        return str(reply.get("Output") or "")

    def quotas(self, regions: Sequence[str] | None = None) -> list[greenml.provider.Quota]:
        """EC2's on-demand and spot vCPU quotas (AWS Service Quotas), in accelerators."""
        from greenml_aws import quotas

        offers = self.offers()
        wanted = regions if regions is not None else sorted({o.region for o in offers})
        return quotas.read(lambda region: self.client("service-quotas", region, ec2.SDK_TRIES),
                           offers, wanted)

    def classify(self, error: BaseException) -> Failure:
        return ec2.classify(error)

    def describe(self, request: InstanceRequest) -> str:
        return ec2.describe(request, self.typed_settings(request.settings))


@greenml.hookimpl
def greenml_providers() -> list[greenml.provider.Provider]:
    return [AWS()]
