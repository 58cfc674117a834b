"""greenml provider for Microsoft Azure: regions and NC/ND-series GPU offers, and launching.

Importing this module is cheap: the Azure SDKs (azure-identity, azure-mgmt-compute,
azure-mgmt-network, azure-mgmt-resource) are imported only inside launch code.
"""

from __future__ import annotations

from collections.abc import Sequence

import greenml
from greenml.provider import Capability


class Azure(greenml.CatalogProvider):
    """Microsoft Azure (Virtual Machines). Launches through ``DefaultAzureCredential``."""

    name = "azure"
    display_name = "Microsoft Azure"
    data_package = "greenml_azure.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG})

    def check_credentials(self) -> tuple[bool, str]:
        from . import arm

        return arm.check_credentials()

    def create_instance(self, request: greenml.InstanceRequest,
                        journal: greenml.Journal) -> greenml.Resource:
        from . import vm

        return vm.create_instance(request, journal)

    def planned_id(self, request: greenml.InstanceRequest) -> str:
        from . import vm

        return vm.planned_id(request)

    def terminate(self, resources: Sequence[greenml.Resource]) -> None:
        from . import cleanup

        cleanup.terminate(resources)

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[greenml.Resource]:
        from . import cleanup

        return cleanup.find_resources(launch_id, regions)

    def states(self, resources: Sequence[greenml.Resource]) -> dict[str, str]:
        from . import cleanup

        return cleanup.states(resources)

    def classify(self, error: BaseException) -> greenml.Failure:
        from . import failures

        return failures.classify(error)

    def describe(self, request: greenml.InstanceRequest) -> str:
        from . import vm

        return vm.describe(request)

    def settings_help(self) -> dict[str, str]:
        from . import config

        return dict(config.SETTINGS)


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [Azure()]
