"""The batch script of a launch: the user's command once per node, with the same rendezvous
variables a cloud VM's boot script exports, then its exit code in the job's output.

Why not the cloud boot script (``greenml.provider.boot``): SLURM already knows what a cloud
must deliver through metadata (each task's rank, the node count, the node list) and already
ends the job at its time limit, so the script only reads them. A job of several nodes runs
the command through ``srun``, one task per node (``sbatch --ntasks-per-node=1``): each task's
rank is ``SLURM_PROCID``, the node count ``SLURM_NTASKS``, the head the first host of
``SLURM_JOB_NODELIST``. A one-task job runs it directly as rank 0 of 1. The last line the
script writes is ``greenml-exit=N``, which ``greenml logs`` and ``status --refresh`` read.

With ``measure``, each node's part runs greenml's sampler beside the command where the node
has python3 (the cloud boot script's ``measure_start``, the sampler carried in the script):
its record goes next to the job's output (``slurm-JOB.measure.json``, or
``slurm-JOB.nodeRANK.measure.json`` for a gang), and a ``greenml-measure=`` line into the
output, before ``greenml-exit=N``, where ``greenml logs`` and ``greenml report`` read it; a
node without python3 says that nothing was measured, and why.
"""

from __future__ import annotations

import shlex

from greenml.provider.boot import MASTER_PORT, MEASURE_STOP, measure_start

#: Each task's part under ``srun``: its rank and the node count from SLURM, the names
#: torchrun reads, then the command, given as ``$1``.
RANK_PART = [
    'export GREENML_NODE_RANK="${SLURM_PROCID:-0}" GREENML_NUM_NODES="${SLURM_NTASKS:-1}"',
    'export NODE_RANK="$GREENML_NODE_RANK" WORLD_SIZE="$GREENML_NUM_NODES"',
]
NODE_PART = "\n".join([*RANK_PART, 'exec bash -lc "$1"'])
#: The job's output file (the batch script's stdout, which slurmstepd opened), where the
#: sampler's record goes beside it; the working directory where that cannot be read.
OUTPUT_PATH = ('greenml_out=$(readlink "/proc/$$/fd/1" 2>/dev/null); case "$greenml_out" in '
               '/*) ;; *) greenml_out="$PWD/slurm-${SLURM_JOB_ID:-local}.out" ;; esac; '
               'export GREENML_JOB_OUTPUT="$greenml_out"')


def measured_node_part() -> str:
    """``NODE_PART`` with the sampler around the command: one record per node, beside the
    job's output, and its ``greenml-measure=`` line in the output."""
    record = ('"${GREENML_JOB_OUTPUT%.out}$([ "$GREENML_NUM_NODES" -gt 1 ] && '
              'echo ".node$GREENML_NODE_RANK").measure.json"')
    sampler = '"${TMPDIR:-/tmp}/greenml-sampler-${SLURM_JOB_ID:-local}-$GREENML_NODE_RANK.py"'
    return "\n".join([
        *RANK_PART,
        'greenml_say() { echo "$1"; }',
        *measure_start(record=record, sampler=sampler, errors_in="the job's output"),
        'readonly greenml_run="$1"',
        'bash -lc "$greenml_run"; status=$?',
        *MEASURE_STOP,
        '[ -n "$greenml_sampler_pid" ] && rm -f "$greenml_sampler"',
        'exit "$status"',
    ])


def batch_script(run: str, accelerators_per_node: int = 0,
                 master_port: int = MASTER_PORT, measure: bool = False) -> str:
    """The script ``sbatch`` runs: ``run`` (one shell-quoted word, never interpolated) once
    per task of the job, through ``bash -lc``, then ``greenml-exit=N``; with ``measure``,
    each node's energy measured by greenml's sampler around it."""
    node = measured_node_part() if measure else NODE_PART
    one = (['  bash -c "$greenml_node" greenml-node "$greenml_run"'] if measure else
           ["  export GREENML_NODE_RANK=0 GREENML_NUM_NODES=1 NODE_RANK=0 WORLD_SIZE=1",
            '  bash -lc "$greenml_run"'])
    return "\n".join([
        "#!/bin/bash",
        "# written by greenml: the launch's command once per node (srun for several), with",
        "# the rendezvous variables torchrun reads; then its exit code, for greenml logs",
        'greenml_head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null | head -n 1)',
        'export GREENML_HEAD_ADDR="${greenml_head:-$(hostname)}"',
        f"export GREENML_ACCELERATORS_PER_NODE={int(accelerators_per_node)}",
        f'export MASTER_ADDR="$GREENML_HEAD_ADDR" MASTER_PORT={int(master_port)}',
        *([OUTPUT_PATH] if measure else []),
        f"greenml_node={shlex.quote(node)}",
        f"greenml_run={shlex.quote(run)}",
        'if [ "${SLURM_NTASKS:-1}" -gt 1 ]; then  # a gang: one task per node, through srun',
        '  srun --nodes="$SLURM_NNODES" --ntasks="$SLURM_NTASKS" --kill-on-bad-exit=1 \\',
        '    bash -c "$greenml_node" greenml-node "$greenml_run"',
        "else  # one node: rank 0 of 1, no srun",
        *one,
        "fi",
        "status=$?",
        'echo "greenml-exit=$status"',
        'exit "$status"',
        "",
    ])
