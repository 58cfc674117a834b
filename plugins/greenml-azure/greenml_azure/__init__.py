"""greenml provider for Microsoft Azure: regions and NC/ND-series GPU offers, and launching.

Importing this module is cheap: the Azure SDKs (azure-identity, azure-mgmt-compute,
azure-mgmt-network, azure-mgmt-resource) are imported only inside launch calls, and the
credential and clients they make are kept on the ``Azure`` object that made them
(``greenml_azure.clients``). ``greenml_azure.vm`` says what each VM is, ``cleanup`` what
removing a launch takes, ``failures`` what an error means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import greenml
from greenml import GreenmlError, InputError
from greenml.provider import Capability, CatalogProvider, Provider
from greenml_azure.settings import DEFAULT_OPERATION_TIMEOUT_S, AzureSettings

if TYPE_CHECKING:  # the launch modules load when a launch calls them, not to plan
    from greenml.provider import Failure, InstanceRequest, Journal, Resource
    from greenml_azure import cleanup
    from greenml_azure.clients import ArmClients


class Azure(CatalogProvider):
    """Microsoft Azure (Virtual Machines). Launches through ``DefaultAzureCredential``."""

    name = "azure"
    display_name = "Microsoft Azure"
    data_package = "greenml_azure.data"
    capabilities = frozenset({
        Capability.PLAN, Capability.LAUNCH, Capability.DOWN, Capability.SPOT, Capability.GANG,
        Capability.LOGS, Capability.QUOTAS})
    settings_type = AzureSettings

    def __init__(self) -> None:
        self._arm_clients: ArmClients | None = None  # made on first launch call

    def forget_clients(self) -> None:
        """Drop the credential and clients made so far (the environment changed)."""
        if self._arm_clients is not None:
            self._arm_clients.forget()

    @property
    def _arm(self) -> ArmClients:
        """The credential and clients, made on first use: planning imports no SDK code."""
        if self._arm_clients is None:
            from greenml_azure.clients import ArmClients

            self._arm_clients = ArmClients()
        return self._arm_clients

    def check_credentials(self) -> tuple[bool, str]:
        """Whether a token can be had and the default subscription (if any) is visible.

        The subscription may also come from a launch setting, which this check cannot see; a
        launch with none at all stops with a message naming ``AZURE_SUBSCRIPTION_ID``.
        """
        from greenml_azure import arm, config, credentials

        try:
            conn = arm.connection()
            subscription = config.default_subscription()
        except InputError as exc:
            return False, str(exc)
        try:
            arm.bounded(lambda: self._arm.credential(conn).get_token(conn.scope),
                        credentials.CREDENTIAL_TIMEOUT_S)
        except TimeoutError:
            return False, credentials.no_token_in_time()
        except Exception as exc:
            return False, credentials.credential_problem(exc)
        if subscription:
            try:
                self._arm.read_subscription(subscription)
            except Exception as exc:
                return False, credentials.subscription_problem(subscription, exc, conn)
        return True, ""

    def create_instance(self, request: InstanceRequest, journal: Journal) -> Resource:
        """One VM with its NIC (and public IP): recorded before each is created, tagged for
        ``find_resources``; a failure raises the SDK's error for ``classify``."""
        from greenml_azure import arm, config, gang, network, vm

        settings: AzureSettings = self.typed_settings(request.settings)
        option = request.option
        region, size = option.region.name, option.offer.instance_type
        target = config.resolve(settings, region)
        sub, group = target.subscription_id, target.resource_group
        deadline_s = settings.operation_timeout_s
        n = vm.names(request)
        vm.check_sku(self._arm.skus(sub, region), size, region, request.zone)
        network.ensure_resource_group(self._arm.resources(sub), group, region,
                                      self._arm.ground_lock(sub, group))
        net = self._arm.network(sub)
        subnet_id = settings.subnet_id or network.ensure_subnet(
            net, group, region, deadline_s,
            self._arm.ground_lock(sub, group, network.vnet_name(region)))
        ip_id = None
        if settings.public_ip:
            token = journal.intent("public-ip", n.ip, vm.arm_id(sub, group, vm.IP_TYPE, n.ip))
            ip = arm.wait(net.public_ip_addresses.begin_create_or_update(
                group, n.ip, vm.ip_body(request, n)), f"public IP {n.ip}", deadline_s)
            journal.created(token, str(ip.id))
            ip_id = str(ip.id)
        token = journal.intent("nic", n.nic, vm.arm_id(sub, group, vm.NIC_TYPE, n.nic))
        nic = arm.wait(net.network_interfaces.begin_create_or_update(
            group, n.nic, vm.nic_body(request, n, subnet_id, ip_id)), f"NIC {n.nic}",
            deadline_s)
        journal.created(token, str(nic.id))
        compute = self._arm.compute(sub)
        disk_token = journal.intent("disk", n.disk, vm.arm_id(sub, group, vm.DISK_TYPE, n.disk))
        poller = compute.virtual_machines.begin_create_or_update(
            group, n.vm, vm.vm_body(request, settings, target, n, str(nic.id)))
        # Accepted: Azure makes the OS disk under the name greenml gave it, even if the VM
        # fails.
        journal.created(disk_token, vm.arm_id(sub, group, vm.DISK_TYPE, n.disk))
        made = arm.wait(poller, f"virtual machine {n.vm}", deadline_s)
        # ARM does not copy a VM's tags onto its OS disk: tag it, so a stray disk is found too.
        arm.wait(compute.disks.begin_update(
            group, n.disk, {"tags": {**request.tags, vm.TAG_VM: n.vm}}),
            f"tags of disk {n.disk}", deadline_s)
        if not request.keep:  # the VM's own identity may delete it (greenml_azure.boot)
            vm_id = str(made.id)
            token = journal.intent(gang.ROLE_ASSIGNMENT, n.vm, gang.role_assignment_id(vm_id))
            journal.created(token, gang.grant(self._arm.resources(sub), vm_id, sub,
                                              str(made.identity.principal_id)))
        from greenml.provider import Resource

        return Resource(self.name, region, str(made.id), "instance", request.zone or "", n.vm,
                        request.launch_id, str(made.provisioning_state or ""))

    def rendezvous(self, resources: Sequence[Resource], option: greenml.Option) -> None:
        """Tag every member of a gang with its rank, the node count and the head's address,
        which its boot script reads from IMDS ``tagsList``."""
        from greenml_azure import cleanup, gang

        aid = cleanup.ArmId.parse(resources[0].resource_id) if len(resources) > 1 else None
        if aid is not None:
            gang.write_rendezvous(self._arm.compute(aid.subscription),
                                  self._arm.network(aid.subscription), resources,
                                  DEFAULT_OPERATION_TIMEOUT_S)

    def planned_id(self, request: InstanceRequest) -> str:
        """The VM's ARM id, known before anything is created: greenml names everything
        itself. With it in the ledger, ``down`` after a crash does not wait for ARM's lagging
        tag search."""
        from greenml_azure import config, vm

        target = config.resolve(self.typed_settings(request.settings),
                                request.option.region.name)
        return vm.arm_id(target.subscription_id, target.resource_group, vm.VM_TYPE,
                         vm.names(request).vm)

    def terminate(self, resources: Sequence[Resource]) -> None:
        """Delete these resources and everything greenml created for them, in dependency
        order; gone already is fine, and one error lists every delete that failed. A VM's
        role assignment goes first (recorded or not: its id follows from the VM's)."""
        from greenml_azure import cleanup, gang

        roles = {r.resource_id for r in resources if gang.is_role_assignment(r.resource_id)}
        wanted = cleanup.targets([r for r in resources if r.resource_id not in roles])
        cleanup.expand(wanted, self._arm.get)
        roles |= {gang.role_assignment_id(aid.text) for aid in wanted[cleanup.VM].values()}
        for rid in sorted(roles):
            sub = rid.split("/")[2]
            gang.revoke(self._arm.resources(sub), rid)
        for rtype in cleanup.KINDS:
            self._delete_all(list(wanted[rtype].values()), DEFAULT_OPERATION_TIMEOUT_S)

    def _delete_all(self, ids: Sequence[cleanup.ArmId], deadline_s: float) -> None:
        """Start every delete, then wait for each."""
        from azure.core.exceptions import ResourceNotFoundError

        from greenml_azure import arm, credentials, failures

        pollers: list[tuple[cleanup.ArmId, Any]] = []
        problems: list[tuple[cleanup.ArmId, BaseException]] = []
        for aid in ids:
            try:
                pollers.append((aid, self._arm.begin_delete(aid)))
            except ResourceNotFoundError:
                continue
            except Exception as exc:
                problems.append((aid, exc))
        for aid, poller in pollers:
            try:
                arm.wait(poller, f"delete of {aid.name}", deadline_s)
            except ResourceNotFoundError:
                continue
            except Exception as exc:
                problems.append((aid, exc))
        if problems:
            lines = []
            for aid, problem in problems:
                code, message, status, _ = failures.read_error(problem)
                lines.append(f"{aid.name}: {code or status or type(problem).__name__}: "
                             f"{message}")
            raise GreenmlError(credentials.redact("azure: could not delete "
                                                  + "; ".join(lines)))

    def find_resources(self, launch_id: str, regions: Sequence[str]) -> list[Resource]:
        """VMs tagged with ``launch_id`` in ``regions``, and any tagged NIC, IP or disk whose
        VM is not among them, in every subscription the credential sees.

        ARM's resource list lags behind writes in Azure by seconds to minutes; the ledger,
        which greenml writes before each create, covers that window.
        """
        from greenml.provider import TAG_LAUNCH_ID
        from greenml_azure import arm, cleanup

        query = f"tagName eq '{TAG_LAUNCH_ID}' and tagValue eq '{launch_id}'"
        items: list[Any] = []
        for subscription in self._arm.visible_subscriptions():
            # down's search: greenml does not retry it, so the SDK does (arm.read_retries)
            items += self._arm.resources(subscription).resources.list(
                filter=query, retry_total=arm.read_retries())
        return cleanup.tagged(items, launch_id, regions)

    def states(self, resources: Sequence[Resource]) -> dict[str, str]:
        """resource id -> ARM's provisioning state (Creating, Succeeded, Failed, Deleting), or
        ``gone``; read from each resource itself, since the tag search lags behind writes."""
        from greenml_azure import cleanup, gang

        out: dict[str, str] = {}
        for r in resources:
            if gang.is_role_assignment(r.resource_id):
                sub = r.resource_id.split("/")[2]
                out[r.resource_id] = gang.state(self._arm.resources(sub), r.resource_id)
                continue
            aid = cleanup.ArmId.parse(r.resource_id) if r.resource_id else None
            if aid is not None and aid.rtype in cleanup.KINDS:
                out[r.resource_id] = cleanup.live_state(self._arm.get(aid))
        return out

    def console_output(self, resource: Resource) -> str:
        """The VM's serial console from boot diagnostics (``greenml_azure.console``)."""
        from greenml_azure import cleanup
        from greenml_azure.console import serial_console

        aid = cleanup.ArmId.parse(resource.resource_id)
        if aid is None:
            raise GreenmlError(f"azure: not a VM id: {resource.resource_id!r}")
        return serial_console(self._arm.compute(aid.subscription), resource)

    def quotas(self, regions: Sequence[str] | None = None) -> list[greenml.provider.Quota]:
        """Compute usages per VM family and location (vCPUs), in accelerators."""
        from greenml_azure import config, quotas

        subscription = config.default_subscription()
        if not subscription:
            raise GreenmlError("azure: no subscription: set AZURE_SUBSCRIPTION_ID or run "
                               "'az account set --subscription ID'")
        offers = self.offers()
        wanted = regions if regions is not None else sorted({o.region for o in offers})
        return quotas.read(self._arm.compute(subscription), subscription, offers, wanted)

    def classify(self, error: BaseException) -> Failure:
        from greenml_azure import failures

        return failures.classify(error)

    def describe(self, request: InstanceRequest) -> str:
        from greenml_azure import config, vm

        settings: AzureSettings = self.typed_settings(request.settings)
        target = config.resolve(settings, request.option.region.name, strict=False)
        return vm.describe(request, settings, target)


@greenml.hookimpl
def greenml_providers() -> list[Provider]:
    return [Azure()]
