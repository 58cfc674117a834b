"""Reading a VM's serial console through boot diagnostics (``greenml logs``).

greenml creates each VM with boot diagnostics on and managed storage (no storage account of
the user's): ``retrieveBootDiagnosticsData`` hands back a short-lived SAS URL of the serial
console log blob, read with a plain HTTPS GET that carries no ARM token (the SAS is the
permission; an ARM bearer token must never go to a storage endpoint).
"""

from __future__ import annotations

import ssl
import urllib.request
from typing import Any

from greenml.provider import Resource
from greenml_azure import arm
from greenml_azure.cleanup import ArmId

#: How long the SAS URL ARM hands out stays valid: one read needs a minute at most.
SAS_MINUTES = 5
READ_TIMEOUT_S = 60.0


def serial_console(compute: Any, resource: Resource) -> str:
    """The serial console log of the VM ``resource`` names ("" before there is one)."""
    aid = ArmId.parse(resource.resource_id)
    if aid is None:
        raise ValueError(f"not an Azure resource id: {resource.resource_id!r}")
    data = compute.virtual_machines.retrieve_boot_diagnostics_data(
        aid.group, aid.name, sas_uri_expiration_time_in_minutes=SAS_MINUTES)
    url = str(getattr(data, "serial_console_log_blob_uri", "") or "")
    if not url:
        return ""
    conn = arm.connection()
    context = ssl.create_default_context(cafile=conn.ca_bundle)
    with urllib.request.urlopen(url, timeout=READ_TIMEOUT_S, context=context) as reply:  # noqa: S310 - an https SAS URL from ARM
        return bytes(reply.read()).decode("utf-8", "replace")
