"""What the boot script does on Google Cloud: read the gang's rendezvous from the metadata
server, and end the VM when the command exits (``greenml.provider.boot``).

Why this way: a GCE VM's startup script runs at every boot, its own metadata is served to it
at ``metadata.google.internal`` (header ``Metadata-Flavor: Google``), and the attributes
greenml sets after creation (``instances.setMetadata``) appear there. A guest shutdown only
*stops* a GCE VM (accelerators and vCPUs no longer billed, its boot disk still is), so the VM
first deletes itself through the Compute Engine API with its service account's token, and
falls back to ``shutdown -h now`` where it may not (no service account, no permission).
``scheduling.maxRunDuration`` with ``instanceTerminationAction=DELETE`` is the hard limit
behind both (``spec.instance_body``).

Test hooks (a VM never sets them): ``GREENML_GCE_METADATA_URL`` (default
http://metadata.google.internal) and ``GREENML_GCE_API_URL`` (default
https://compute.googleapis.com).
"""

from __future__ import annotations

import math

from greenml.provider.boot import BootPlatform

#: The metadata attributes ``rendezvous`` writes and the boot script reads.
ATTR_RANK, ATTR_NODES, ATTR_HEAD = "greenml-rank", "greenml-nodes", "greenml-head-addr"
#: Compute Engine's bounds on ``scheduling.maxRunDuration`` (30 s to 120 days).
MIN_RUN_S, MAX_RUN_S = 30, 120 * 24 * 3600

GCE = BootPlatform(
    functions="\n".join([
        'GREENML_GCE_METADATA_URL="${GREENML_GCE_METADATA_URL:-http://metadata.google.internal}"',
        'GREENML_GCE_API_URL="${GREENML_GCE_API_URL:-https://compute.googleapis.com}"',
        "greenml_gce_md() {  # one read from the metadata server",
        '  curl -sf -m 5 -H "Metadata-Flavor: Google" '
        '"$GREENML_GCE_METADATA_URL/computeMetadata/v1/$1"',
        "}",
        "greenml_gce_delete() {  # this VM deletes itself (and its boot disk) through the API",
        "  local token project zone name",
        "  token=$(greenml_gce_md instance/service-accounts/default/token | "
        "sed -n 's/.*\"access_token\" *: *\"\\([^\"]*\\)\".*/\\1/p')",
        '  [ -n "$token" ] || return 1',
        "  project=$(greenml_gce_md project/project-id) || return 1",
        "  zone=$(greenml_gce_md instance/zone) || return 1",
        "  name=$(greenml_gce_md instance/name) || return 1",
        '  curl -sf -m 30 -X DELETE -H "Authorization: Bearer $token" '
        '"$GREENML_GCE_API_URL/compute/v1/projects/$project/zones/${zone##*/}/instances/$name" '
        ">/dev/null",
        "}",
    ]),
    peers=("local r n h\n"
           f"  r=$(greenml_gce_md instance/attributes/{ATTR_RANK}) || return 1\n"
           f"  n=$(greenml_gce_md instance/attributes/{ATTR_NODES}) || return 1\n"
           f"  h=$(greenml_gce_md instance/attributes/{ATTR_HEAD}) || return 1\n"
           '  echo "$r $n $h"'),
    self_addr="greenml_gce_md instance/network-interfaces/0/ip",
    end="greenml_gce_delete || shutdown -h now",
    every_boot=True,
)

#: A Cloud TPU VM: its runtime does its own rendezvous, and it has no end of its own yet
#: (the exit code is still recorded, and the watchdog's line printed at the time limit).
TPU = BootPlatform(every_boot=True)


def max_run_seconds(max_hours: float) -> int:
    """``scheduling.maxRunDuration.seconds`` for a time limit, within Compute Engine's
    bounds."""
    return min(MAX_RUN_S, max(MIN_RUN_S, math.ceil(max_hours * 3600)))
