"""A plan's choice as a SkyPilot task, so SkyPilot users launch it with their own tool.

SkyPilot's task YAML names a cloud, a region, an instance type and its accelerators; greenml's
catalogs come from SkyPilot-schema price files, so most names already agree. greenml splits a
few families into variants SkyPilot does not (a PCIe or NVL part has its own power figure
here), so those are mapped back to the name SkyPilot's catalog gives the instance. TPU slices
are accelerators in SkyPilot (``tpu-v4-8``), not instance types. The YAML is written by hand
(a few fixed keys, each value quoted by JSON rules, which YAML reads as they are), so the
export needs no YAML library; SkyPilot's own parser reads it (tests/test_plan_outputs.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from greenml.errors import InputError

if TYPE_CHECKING:
    from greenml.model import Option
    from greenml.plan.result import Plan

#: The providers SkyPilot launches, each named there as here; no other can be exported.
CLOUDS = frozenset({"aws", "gcp", "azure"})

#: greenml accelerator names that SkyPilot's catalogs spell otherwise (the instance decides
#: the variant there). Every other name is SkyPilot's own.
SKYPILOT_ACCELERATORS = {
    "A100-PCIe": "A100",
    "A100-80GB-PCIe": "A100-80GB",
    "H100-PCIe": "H100",
    "H100-NVL": "H100",
    "V100-PCIe": "V100",
}


def skypilot_accelerator(name: str) -> str:
    """SkyPilot's name for the greenml accelerator ``name``."""
    return SKYPILOT_ACCELERATORS.get(name, name)


def to_skypilot(plan: Plan, run: str | None = None, option: Option | int | None = None) -> str:
    """A SkyPilot task (YAML) that runs ``run`` on ``option`` (default the plan's best; an
    int is a 1-based rank). InputError for an option on a provider SkyPilot cannot launch
    (an on-prem or SLURM cluster)."""
    chosen = _chosen(plan, option)
    if chosen.provider not in CLOUDS:
        raise InputError("export", f"option #{chosen.rank} is on {chosen.provider!r}, which "
                         f"SkyPilot cannot launch: only {', '.join(sorted(CLOUDS))} options "
                         "export (pick one with option=RANK)")
    per = chosen.offer.accelerators_per_instance
    instance_type = chosen.offer.instance_type
    resources: list[tuple[str, object]] = [("cloud", chosen.provider),
                                           ("region", chosen.region.name)]
    if chosen.accelerator.name.startswith("TPU-") and instance_type.startswith("tpu-"):
        resources.append(("accelerators", f"{instance_type}:1"))  # a slice is one accelerator
    else:
        resources += [("instance_type", instance_type),
                      ("accelerators", f"{skypilot_accelerator(chosen.accelerator.name)}:{per}")]
    resources.append(("use_spot", chosen.spot))
    e = chosen.estimate
    lines = [
        f"# greenml plan option #{chosen.rank}: {chosen.provider}/{chosen.region.name} "
        f"{chosen.instances} x {instance_type}",
        f"# estimate: {e.hours:,.1f} h, {e.energy_kwh:,.1f} kWh, {e.co2e_kg:,.2f} kg CO2e "
        f"at {e.intensity_g_per_kwh:g} g/kWh (not measured)",
        f"name: {_quote('greenml-' + chosen.region.name)}",
        "resources:",
        *(f"  {key}: {_quote(value)}" for key, value in resources),
        f"num_nodes: {chosen.instances}",
        f"run: {_quote(run if run is not None else 'echo set the run command')}",
    ]
    return "\n".join(lines) + "\n"


def _chosen(plan: Plan, option: Option | int | None) -> Option:
    if option is None:
        return plan.best
    if isinstance(option, int):
        try:
            return plan.option(option)
        except IndexError as exc:
            raise InputError("option", str(exc)) from None
    return option


def _quote(value: object) -> str:
    """A YAML scalar: booleans bare, everything else a JSON string (valid YAML 1.2)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(str(value))
