"""What the boot script does on Azure: read the gang's rendezvous from IMDS, and end the VM
through Resource Manager when the command exits (``greenml.provider.boot``).

Why this way: a guest shutdown leaves an Azure VM allocated and billed, and Azure has no
maximum run time. So the VM deletes itself: it gets a token for Resource Manager from IMDS
with its system-assigned managed identity (which greenml grants a role on the VM alone,
``greenml_azure.gang``) and DELETEs its own resource id; the NIC, OS disk and public IP go
with it (their delete options). Where that fails (no identity yet, a role not yet in force,
Resource Manager unreachable) it shuts down, which stops the run but not the billing: the
residual risk docs/azure.md states, with the boot script's watchdog as the only time limit.

Test hooks (a VM never sets them): ``GREENML_AZURE_IMDS_URL`` (default
http://169.254.169.254) and ``GREENML_AZURE_ARM_URL`` (default https://management.azure.com).
"""

from __future__ import annotations

from greenml.provider.boot import BootPlatform

#: The VM tags ``gang.write_rendezvous`` sets and the boot script reads from IMDS.
TAG_RANK, TAG_NODES, TAG_HEAD = "greenml-rank", "greenml-nodes", "greenml-head-addr"
IMDS_API = "2021-02-01"
#: The api-version of the VM's DELETE of itself.
COMPUTE_API = "2024-07-01"
_TOKEN_PATH = ("identity/oauth2/token?api-version=2018-02-01&"
               "resource=https%3A%2F%2Fmanagement.azure.com%2F")


AZURE = BootPlatform(
    functions="\n".join([
        'GREENML_AZURE_IMDS_URL="${GREENML_AZURE_IMDS_URL:-http://169.254.169.254}"',
        'GREENML_AZURE_ARM_URL="${GREENML_AZURE_ARM_URL:-https://management.azure.com}"',
        "greenml_az_imds() {  # one IMDS read",
        '  curl -sf -m 5 -H "Metadata: true" "$GREENML_AZURE_IMDS_URL/metadata/$1"',
        "}",
        "greenml_az_tag() {  # one tag's value from IMDS compute/tagsList; fails while unset",
        "  local v",
        f'  v=$(greenml_az_imds "instance/compute/tagsList?api-version={IMDS_API}" | '
        "tr '{}' '\\n\\n' | "
        "sed -n \"s/.*\\\"name\\\" *: *\\\"$1\\\" *, *"
        "\\\"value\\\" *: *\\\"\\([^\\\"]*\\)\\\".*/\\1/p\" | head -n 1)",
        '  [ -n "$v" ] && echo "$v"',
        "}",
        "greenml_az_delete() {  # this VM deletes itself through Resource Manager",
        "  local token id",
        f'  token=$(greenml_az_imds "{_TOKEN_PATH}" | '
        "sed -n 's/.*\"access_token\" *: *\"\\([^\"]*\\)\".*/\\1/p')",
        '  [ -n "$token" ] || return 1',
        f'  id=$(greenml_az_imds "instance/compute/resourceId?api-version={IMDS_API}&format=text")'
        " || return 1",
        '  curl -sf -m 30 -X DELETE -H "Authorization: Bearer $token" '
        f'"$GREENML_AZURE_ARM_URL$id?api-version={COMPUTE_API}" >/dev/null',
        "}",
    ]),
    peers=("local r n h\n"
           f"  r=$(greenml_az_tag {TAG_RANK}) || return 1\n"
           f"  n=$(greenml_az_tag {TAG_NODES}) || return 1\n"
           f"  h=$(greenml_az_tag {TAG_HEAD}) || return 1\n"
           '  echo "$r $n $h"'),
    self_addr=(f'greenml_az_imds "instance/network/interface/0/ipv4/ipAddress/0/'
               f'privateIpAddress?api-version={IMDS_API}&format=text"'),
    end="greenml_az_delete || shutdown -h now",
)
