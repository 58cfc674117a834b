"""greenml provider for Google Cloud: Compute Engine regions, GPU and TPU offers, and launch.

GPU prices are published in parts (host VM, GPUs); the catalog composes full VM prices and
says so in each offer's ``price_basis``. Importing this module is cheap: google-cloud-compute
and google-cloud-tpu are imported only inside launch code (``greenml_gcp.compute``,
``greenml_gcp.tpu``). A TPU slice is planned like any other offer and launched as one Cloud
TPU VM node; several slices for one job (Multislice) are refused before anything is created.
"""

from __future__ import annotations

from collections.abc import Sequence

import greenml
from greenml.provider import Capability


class GCP(greenml.CatalogProvider):
    """Google Cloud Platform: Compute Engine GPU VMs and Cloud TPU VM slices."""

    name = "gcp"
    display_name = "Google Cloud"
    data_package = "greenml_gcp.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG})

    def check_credentials(self) -> tuple[bool, str]:
        from . import compute

        return compute.check_credentials()

    def can_launch(self, option: greenml.Option) -> tuple[bool, str]:
        from . import spec

        why = spec.why_not_launchable(option)
        return not why, why

    def create_instance(self, request: greenml.InstanceRequest,
                        journal: greenml.Journal) -> greenml.Resource:
        from . import compute, spec, tpu

        if spec.is_tpu(request.option):
            return tpu.create_node(request)
        return compute.create_instance(request)

    def planned_id(self, request: greenml.InstanceRequest) -> str:
        from . import compute

        return compute.planned_id(request)

    def terminate(self, resources: Sequence[greenml.Resource]) -> None:
        from . import compute

        compute.terminate(resources)

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[greenml.Resource]:
        from . import compute

        return compute.find_resources(launch_id, regions)

    def classify(self, error: BaseException) -> greenml.Failure:
        from . import errors

        return errors.classify(error)

    def describe(self, request: greenml.InstanceRequest) -> str:
        from . import compute, spec

        return spec.describe(request, compute.describe_project(request.settings))

    def settings_help(self) -> dict[str, str]:
        from . import spec

        return dict(spec.SETTINGS)


@greenml.hookimpl
def greenml_providers() -> list[greenml.Provider]:
    return [GCP()]
