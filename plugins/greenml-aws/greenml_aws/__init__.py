"""greenml provider for AWS: EC2 regions and GPU/Trainium offers from package data, and launch.

Importing this module is cheap: boto3 is imported only inside launch code (``greenml_aws.ec2``).
"""

from __future__ import annotations

from collections.abc import Sequence

import greenml
from greenml.provider import Capability


class AWS(greenml.CatalogProvider):
    """Amazon Web Services (EC2). Launches through boto3's default credential chain."""

    name = "aws"
    display_name = "Amazon Web Services"
    data_package = "greenml_aws.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG})

    def check_credentials(self) -> tuple[bool, str]:
        from . import ec2

        return ec2.check_credentials()

    def create_instance(self, request: greenml.InstanceRequest,
                        journal: greenml.Journal) -> greenml.Resource:
        from . import ec2

        return ec2.create_instance(request)

    def terminate(self, resources: Sequence[greenml.Resource]) -> None:
        from . import ec2

        ec2.terminate(resources)

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[greenml.Resource]:
        from . import ec2

        return ec2.find_resources(launch_id, regions)

    def classify(self, error: BaseException) -> greenml.Failure:
        from . import ec2

        return ec2.classify(error)

    def describe(self, request: greenml.InstanceRequest) -> str:
        from . import ec2

        return ec2.describe(request)

    def settings_help(self) -> dict[str, str]:
        from . import ec2

        return dict(ec2.SETTINGS)


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [AWS()]
