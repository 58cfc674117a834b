"""The bash script a launched VM runs at first boot: rendezvous, the user's command, the end.

Why one generator for every cloud: what a member must know before ``torchrun`` starts (its
rank, the node count, the head's address), how the exit code reaches greenml (a
``greenml-exit=N`` line on the serial console) and how a run ends (the platform's own
command, and a watchdog at the time limit) are the same everywhere; only reading the peer
list and ending the machine differ. A plugin says those in a ``BootPlatform``.

The script reads a few environment variables, test hooks only (a VM never sets them):
``GREENML_CONSOLE`` (the serial console, default /dev/ttyS0), ``GREENML_LOG`` (the run's log,
default /var/log/greenml-run.log), ``GREENML_STATE_DIR`` (the run-once marker's folder,
default /var/lib/greenml), ``GREENML_IMDS_URL`` (AWS's metadata service, default
http://169.254.169.254), ``GREENML_RENDEZVOUS_TIMEOUT_S`` (default 900) and
``GREENML_RENDEZVOUS_POLL_S`` (default 5).
"""

from __future__ import annotations

import base64
import functools
import math
import shlex
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from greenml.launch.types import InstanceRequest

#: torchrun's default rendezvous port, exported as MASTER_PORT.
MASTER_PORT = 29500
#: The margin on the planned hours for the watchdog, and the least time it allows.
LIMIT_MARGIN = 0.10
LIMIT_MIN_HOURS = 0.5
#: This machine's first address, where the platform has no better way to tell.
HOSTNAME_ADDR = "hostname -I 2>/dev/null | cut -d' ' -f1"
#: Exit codes the script itself reports: the rendezvous never came, the watchdog fired.
EXIT_NO_RENDEZVOUS = 98
EXIT_TIME_LIMIT = 124


@frozen
class BootPlatform:
    """What one platform adds to the boot script, as bash.

    ``functions``: shell functions the others call (a metadata client, say).
    ``peers``: the body of a shell function printing ``RANK NODES HEAD_ADDR`` on one line
    once the rendezvous is written, failing (non-zero) until then. ``self_addr``: the body
    of one printing this machine's private address ("" : ``hostname -I``). ``end``: the
    command that ends this machine and its billing ("" : the platform cannot yet, and the
    machine keeps running). ``every_boot``: the platform runs the script at every boot
    (Compute Engine startup scripts), so a marker keeps it to one run.
    """

    functions: str = ""
    peers: str = ""
    self_addr: str = ""
    end: str = ""
    every_boot: bool = False


#: AWS: tags read through IMDSv2 (RunInstances enables InstanceMetadataTags); the guest's
#: shutdown ends the instance, which ``InstanceInitiatedShutdownBehavior=terminate`` deletes.
AWS = BootPlatform(
    functions="\n".join([
        'GREENML_IMDS_URL="${GREENML_IMDS_URL:-http://169.254.169.254}"',
        "greenml_imds() {  # one IMDSv2 read: a session token, then the path",
        "  local token",
        '  token=$(curl -sf -m 5 -X PUT "$GREENML_IMDS_URL/latest/api/token" '
        '-H "X-aws-ec2-metadata-token-ttl-seconds: 300") || return 1',
        '  curl -sf -m 5 -H "X-aws-ec2-metadata-token: $token" '
        '"$GREENML_IMDS_URL/latest/meta-data/$1"',
        "}",
    ]),
    peers=('local r n h\n'
           '  r=$(greenml_imds tags/instance/greenml-rank) || return 1\n'
           '  n=$(greenml_imds tags/instance/greenml-nodes) || return 1\n'
           '  h=$(greenml_imds tags/instance/greenml-head-addr) || return 1\n'
           '  echo "$r $n $h"'),
    self_addr="greenml_imds local-ipv4",
    end="shutdown -h now",
)


def limit_hours(planned_hours: float, *, keep: bool = False,
                max_hours: float | None = None) -> float | None:
    """The run's time limit: ``max_hours`` when given, else none for a kept run, else the
    planned hours plus 10%, at least 30 minutes."""
    if max_hours is not None:
        return max_hours
    if keep:
        return None
    return max(planned_hours * (1 + LIMIT_MARGIN), LIMIT_MIN_HOURS)


def boot_script(run: str, *, every_boot: bool = False, platform: BootPlatform | None = None,
                nodes: int = 1, index: int = 0, accelerators_per_node: int = 0,
                keep: bool = False, max_hours: float | None = None,
                master_port: int = MASTER_PORT) -> str:
    """The script a new VM runs: the user's command once, as one shell-quoted word (never
    interpolated), after the rendezvous variables are exported; then its exit code on the
    console and, unless ``keep``, the platform's end. ``max_hours``: the watchdog's limit
    (None: none). ``nodes``/``index``: the gang's size and this member's place, which a
    platform without a ``peers`` reader exports as they are (its head address unknown)."""
    platform = platform or BootPlatform(every_boot=every_boot)
    ending = bool(platform.end) and not keep
    lines = [
        "#!/bin/bash",
        "# written by greenml: rendezvous, then the launch's command once, then the end",
        'GREENML_CONSOLE="${GREENML_CONSOLE:-/dev/ttyS0}"',
        'GREENML_LOG="${GREENML_LOG:-/var/log/greenml-run.log}"',
    ]
    if platform.every_boot or every_boot:
        lines += ['marker="${GREENML_STATE_DIR:-/var/lib/greenml}/ran"',
                  '[ -e "$marker" ] && exit 0',
                  'mkdir -p "$(dirname "$marker")" && touch "$marker"']
    lines += [
        'exec > >(tee -a "$GREENML_LOG") 2>&1',
        "greenml_say() {  # one line to stdout (the log), the serial console and syslog",
        '  echo "$1"',
        '  if [ -w "$GREENML_CONSOLE" ]; then echo "$1" >> "$GREENML_CONSOLE"; fi',
        '  logger -t greenml "$1" 2>/dev/null || true',
        "}",
        "greenml_end() {  # end this machine (and its billing)",
        f"  {platform.end if ending else ':'}",
        "}",
        *([platform.functions] if platform.functions else []),
        "greenml_self_addr() {",
        f"  {platform.self_addr or HOSTNAME_ADDR}",
        "}",
    ]
    if max_hours is not None:
        seconds = max(1, math.ceil(max_hours * 3600))
        lines += [
            # the watchdog: the limit holds even if the command hangs; killed, it takes
            # its sleep along (which would hold the log's pipe open)
            "(trap 'kill $greenml_sleep 2>/dev/null; exit 0' TERM",
            f" sleep {seconds} >/dev/null 2>&1 </dev/null & greenml_sleep=$!",
            ' wait "$greenml_sleep"',
            f' greenml_say "greenml-error=time limit of {seconds} s reached"',
            f' greenml_say "greenml-exit={EXIT_TIME_LIMIT}"',
            " greenml_end) &",
            "greenml_watchdog=$!",
        ]
    lines += _rendezvous(platform, nodes, index, ending)
    lines += [
        f"export GREENML_ACCELERATORS_PER_NODE={int(accelerators_per_node)}",
        'export MASTER_ADDR="$GREENML_HEAD_ADDR"',
        f"export MASTER_PORT={int(master_port)}",
        'export NODE_RANK="$GREENML_NODE_RANK" WORLD_SIZE="$GREENML_NUM_NODES"',
        f"greenml_run() {{ bash -lc {shlex.quote(run)}; }}",
        *measure_start(),
        'if [ -w "$GREENML_CONSOLE" ]; then  # a copy on the console, for greenml logs',
        '  greenml_run 2>&1 | tee -a "$GREENML_CONSOLE"; status=${PIPESTATUS[0]}',
        "else",
        "  greenml_run; status=$?",
        "fi",
        *MEASURE_STOP,
        'greenml_say "greenml-exit=$status"',
    ]
    if max_hours is not None:
        lines.append('kill "$greenml_watchdog" 2>/dev/null')
    lines += ["greenml_end", 'exit "$status"', ""]
    return "\n".join(lines)


@functools.cache
def packed_sampler() -> str:
    """greenml's sampler (``greenml.measure.sampler``) as one base64 word of zlib'd source,
    for a script to carry; ``SAMPLER_UNPACK`` (python3 -c) prints it back. Packed once per
    process: every member of a gang carries the same."""
    source = (Path(__file__).parent.parent / "measure" / "sampler.py").read_bytes()
    return base64.b64encode(zlib.compress(source, 9)).decode()


#: ``python3 -c SAMPLER_UNPACK PACKED`` writes the sampler's source to stdout.
SAMPLER_UNPACK = ("import base64,sys,zlib; "
                  "sys.stdout.write(zlib.decompress(base64.b64decode(sys.argv[1])).decode())")


def measure_start(record: str = '"${GREENML_LOG%.log}.measure.json"',
                  sampler: str = '"${GREENML_STATE_DIR:-/var/lib/greenml}/greenml-sampler.py"',
                  errors_in: str = "$GREENML_LOG") -> list[str]:
    """Start greenml's sampler (``greenml.measure.sampler``, carried in the script, since
    greenml is not installed on the node) beside the run, where python3 3.7+ is: a sampler
    that fails never stops the run. The command starts once the sampler has read its devices
    (it writes a placeholder record then), so the measurement covers all of it. ``record``
    and ``sampler`` (bash words) say where the record and the sampler's source go, and
    ``errors_in`` where its errors are (a SLURM job: the job's output directory and output);
    the script must define ``greenml_say``."""
    packed, unpack = packed_sampler(), SAMPLER_UNPACK
    return [
        f'greenml_record={record}; greenml_sampler_pid=""',
        "greenml_unmeasured='no python3 (3.7 or later) on this machine'",
        "if python3 -c 'import sys; sys.exit(sys.version_info < (3, 7))' 2>/dev/null; then",
        f"  greenml_sampler={sampler}",
        f'  greenml_unmeasured="the sampler wrote no record (its errors are in {errors_in})"',
        '  mkdir -p "$(dirname "$greenml_sampler")" && rm -f "$greenml_record" &&',
        f"    python3 -c {shlex.quote(unpack)} {packed} > \"$greenml_sampler\" &&",
        '    { python3 "$greenml_sampler" --record "$greenml_record" </dev/null >/dev/null &',
        "      greenml_sampler_pid=$!; }",
        "  for _ in $(seq 400); do  # at most 20 s for the sampler to find its devices",
        '    [ -s "$greenml_record" ] || ! kill -0 "$greenml_sampler_pid" 2>/dev/null && break',
        "    sleep 0.05",
        "  done",
        "else",
        '  greenml_say "greenml: $greenml_unmeasured: the run\'s energy is not measured"',
        "fi",
    ]


#: Stop the sampler and put its record on the console (or why there is none).
MEASURE_STOP = [
    'if [ -n "$greenml_sampler_pid" ]; then',
    '  kill -TERM "$greenml_sampler_pid" 2>/dev/null; wait "$greenml_sampler_pid" 2>/dev/null',
    "fi",
    'if [ -s "$greenml_record" ] && ! grep -q \'"sampling":true\' "$greenml_record"; then',
    '  greenml_say "greenml-measure=$(cat "$greenml_record")"',
    "else",
    '  greenml_say "greenml-measure={\\"greenml_measure\\":1,\\"nothing_measured\\":'
    '\\"$greenml_unmeasured\\"}"',
    "fi",
]


def _rendezvous(platform: BootPlatform, nodes: int, index: int, ending: bool) -> list[str]:
    """Export GREENML_NODE_RANK, GREENML_NUM_NODES and GREENML_HEAD_ADDR: a single machine
    is rank 0 of 1 at its own address; a gang member waits for the platform's peer list."""
    if nodes <= 1:
        return ["export GREENML_NODE_RANK=0 GREENML_NUM_NODES=1",
                'export GREENML_HEAD_ADDR="$(greenml_self_addr)"']
    if not platform.peers:  # no reader yet: the place is known, the head's address is not
        return [f"export GREENML_NODE_RANK={int(index)} GREENML_NUM_NODES={int(nodes)}",
                "export GREENML_HEAD_ADDR=" + ('"$(greenml_self_addr)"' if index == 0 else ""),
                'greenml_say "greenml: this platform does not deliver the head address yet"']
    return [
        "greenml_peers() {",
        f"  {platform.peers}",
        "}",
        'deadline=$((SECONDS + ${GREENML_RENDEZVOUS_TIMEOUT_S:-900}))',
        'until peers=$(greenml_peers 2>/dev/null) && [ -n "$peers" ]; do',
        '  if [ "$SECONDS" -ge "$deadline" ]; then',
        '    greenml_say "greenml-error=no rendezvous (rank, nodes, head address) within '
        '${GREENML_RENDEZVOUS_TIMEOUT_S:-900} s"',
        f'    greenml_say "greenml-exit={EXIT_NO_RENDEZVOUS}"',
        "    greenml_end" if ending else "    :",
        f"    exit {EXIT_NO_RENDEZVOUS}",
        "  fi",
        '  sleep "${GREENML_RENDEZVOUS_POLL_S:-5}"',
        "done",
        'read -r GREENML_NODE_RANK GREENML_NUM_NODES GREENML_HEAD_ADDR <<< "$peers"',
        "export GREENML_NODE_RANK GREENML_NUM_NODES GREENML_HEAD_ADDR",
        'greenml_say "greenml: rank $GREENML_NODE_RANK of $GREENML_NUM_NODES, head '
        '$GREENML_HEAD_ADDR"',
    ]


def for_request(request: InstanceRequest, platform: BootPlatform | None = None) -> str:
    """``boot_script`` for one ``InstanceRequest``: its command, its place in the gang, the
    option's accelerators per node, and its ``keep`` and ``max_hours``."""
    option = request.option
    return boot_script(request.run, platform=platform, nodes=option.instances,
                       index=request.index,
                       accelerators_per_node=option.offer.accelerators_per_instance,
                       keep=request.keep, max_hours=request.max_hours)
