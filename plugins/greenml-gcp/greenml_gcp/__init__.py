"""greenml provider for Google Cloud: Compute Engine regions, GPU and TPU offers, and launch.

GPU prices are published in parts (host VM, GPUs); the catalog composes full VM prices and
says so in each offer's ``price_basis``. A TPU slice is planned like any other offer and
launched as one Cloud TPU VM node; several slices for one job (Multislice) are refused before
anything is created. Importing this module is cheap: google-cloud-compute and
google-cloud-tpu are imported only inside launch calls, and the clients they make are kept on
the ``GCP`` object that made them (``greenml_gcp.compute`` and ``greenml_gcp.tpu`` drive the
two APIs with them; ``greenml_gcp.spec`` says what each VM or node is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import greenml
from greenml.provider import Capability, CatalogProvider, Provider
from greenml_gcp.settings import DEFAULT_OPERATION_TIMEOUT_S, GCPSettings

if TYPE_CHECKING:  # the launch modules load when a launch calls them, not to plan
    from greenml.provider import Failure, InstanceRequest, Journal, Resource
    from greenml_gcp.clients import GoogleClients
    from greenml_gcp.compute import ComputeEngine
    from greenml_gcp.tpu import CloudTPU


class GCP(CatalogProvider):
    """Google Cloud Platform: Compute Engine GPU VMs and Cloud TPU VM slices."""

    name = "gcp"
    display_name = "Google Cloud"
    data_package = "greenml_gcp.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG,
        Capability.LOGS, Capability.QUOTAS})
    settings_type = GCPSettings

    def __init__(self) -> None:
        self._launchers: tuple[GoogleClients, ComputeEngine, CloudTPU] | None = None

    def forget_clients(self) -> None:
        """Drop the clients made so far and what they looked up (credentials or endpoint
        changed)."""
        if self._launchers is not None:
            self._launchers[0].forget()

    def _made(self) -> tuple[GoogleClients, ComputeEngine, CloudTPU]:
        """The clients and the two launchers, made on first use: planning imports none."""
        if self._launchers is None:
            from greenml_gcp.clients import GoogleClients
            from greenml_gcp.compute import ComputeEngine
            from greenml_gcp.tpu import CloudTPU

            made = GoogleClients()
            self._launchers = made, ComputeEngine(made), CloudTPU(made)
        return self._launchers

    @property
    def _clients(self) -> GoogleClients:
        return self._made()[0]

    @property
    def _vms(self) -> ComputeEngine:
        return self._made()[1]

    @property
    def _tpus(self) -> CloudTPU:
        return self._made()[2]

    def check_credentials(self) -> tuple[bool, str]:
        """Whether Compute Engine calls can be authorised here; never shows a secret."""
        from greenml_gcp import clients, spec

        if clients.anonymous():
            return True, ""
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests

        try:
            credentials, _ = google.auth.default(scopes=[spec.CLOUD_PLATFORM_SCOPE])
        except google.auth.exceptions.DefaultCredentialsError:
            return False, ("no Google Cloud credentials found: run 'gcloud auth "
                           "application-default login', or set GOOGLE_APPLICATION_CREDENTIALS "
                           "to a service-account key file")
        try:
            refresh: Any = credentials.refresh  # google-auth does not type it
            refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.GoogleAuthError as exc:  # the kind only, not the token
            return False, f"Google refused the credentials ({type(exc).__name__})"
        return True, ""

    def can_launch(self, option: greenml.Option) -> tuple[bool, str]:
        from greenml_gcp import spec

        why = spec.why_not_launchable(option)
        return not why, why

    def create_instance(self, request: InstanceRequest, journal: Journal) -> Resource:
        """A TPU slice through the Cloud TPU API, anything else as a Compute Engine VM."""
        from greenml_gcp import spec

        settings: GCPSettings = self.typed_settings(request.settings)
        if spec.is_tpu(request.option):
            return self._tpus.create(request, settings)
        return self._vms.create(request, settings)

    def rendezvous(self, resources: Sequence[Resource], option: greenml.Option) -> None:
        """A gang of VMs gets its rank, node count and head address as metadata; a single
        VM needs none, and a TPU slice's runtime does its own."""
        from greenml_gcp import spec

        if len(resources) > 1 and not spec.is_tpu(option):
            self._vms.rendezvous([r.resource_id for r in resources], DEFAULT_OPERATION_TIMEOUT_S)

    def planned_id(self, request: InstanceRequest) -> str:
        """The VM's self-link path (a TPU node's resource name), known before the insert:
        greenml names it itself. With it in the ledger, ``down`` after a crash needs no
        project to search in."""
        from greenml_gcp import clients, spec

        settings: GCPSettings = self.typed_settings(request.settings)
        path = spec.node_path if spec.is_tpu(request.option) else spec.self_link_path
        return path(clients.project(settings.project), request.zone or "",
                    spec.instance_name(request))

    def terminate(self, resources: Sequence[Resource]) -> None:
        """Delete the TPU nodes, then the VMs, waiting for each; gone already is fine."""
        from greenml_gcp import spec

        ids = [r.resource_id for r in resources if r.resource_id]
        nodes = [i for i in ids if spec.parse_node_path(i)]
        if nodes:
            self._tpus.terminate(nodes, DEFAULT_OPERATION_TIMEOUT_S)
        self._vms.terminate([i for i in ids if i not in nodes], DEFAULT_OPERATION_TIMEOUT_S)

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        """Every VM and TPU node labelled with ``launch_id`` in ``regions``, in each project
        searched (the environment's or ADC's, and every one this provider created in). With
        no project to search, nothing is found rather than failing, so a gang's clean-up
        still deletes what it knows it created."""
        projects = self._clients.projects()
        with_tpus = {o.region for o in self.offers() if o.instance_type.startswith("tpu-")}
        searched = set(regions) & with_tpus
        zones = [z for r in self.regions() if r.name in searched for z in r.zones]
        return [*self._tpus.find(launch_id, zones, projects),
                *self._vms.find(launch_id, regions, projects)]

    def console_output(self, resource: Resource) -> str:
        """A VM's serial port 1 (Compute Engine ``getSerialPortOutput``); a TPU slice's
        console is not served by the Cloud TPU API, which says so."""
        from greenml_gcp import spec

        if spec.parse_node_path(resource.resource_id):
            raise greenml.GreenmlError(
                f"gcp: the Cloud TPU API does not serve a TPU VM's console "
                f"({resource.resource_id}); read the run's output on the slice itself")
        return self._vms.console(resource.resource_id)

    def quotas(self, regions: Sequence[str] | None = None) -> list[greenml.provider.Quota]:
        """Compute Engine's regional GPU quotas and GPUS_ALL_REGIONS, in GPUs."""
        from greenml_gcp import clients, quotas

        offers = self.offers()
        return quotas.read(clients.project(""), regions, {o.accelerator for o in offers},
                           {o.region for o in offers}, self._clients.client)

    def classify(self, error: BaseException) -> Failure:
        from greenml_gcp import errors

        return errors.classify(error)

    def describe(self, request: InstanceRequest) -> str:
        from greenml_gcp import clients, spec

        settings: GCPSettings = self.typed_settings(request.settings)
        return spec.describe(request, settings, clients.describe_project(settings.project))


@greenml.hookimpl
def greenml_providers() -> list[Provider]:
    return [GCP()]
