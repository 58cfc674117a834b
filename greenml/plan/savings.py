"""What a plan saves: its best option against the paper's reference datacenter, and the
factors the saving is made of."""

from __future__ import annotations

from typing import Any

import attrs

from greenml.accelerator import Accelerator
from greenml.estimator import compose
from greenml.figure import Figure
from greenml.job import Job
from greenml.model import PUE, Estimate, Intensity
from greenml.packagedata import defaults


@attrs.frozen
class Savings:
    """The best option against the baseline: the same job on the same accelerator in an
    average US datacenter (Patterson et al. 2021), and the factors the saving is made of.

    ``factor`` = ``location_factor`` x ``datacenter_factor`` x ``provisioning_factor``:
    the grid (baseline g/kWh over the option's), the datacenter (baseline PUE over the
    option's) and the accelerators provisioned (requested over provisioned: rounding up to
    whole instances costs energy). ``accelerator_factor`` compares, where the job names a
    different accelerator, that accelerator's energy for the job in the same place with the
    chosen one's (more than 1: the choice saves too); it is not part of ``factor``.
    """

    baseline_co2e_kg: float
    best_co2e_kg: float
    location_factor: float = 1.0
    datacenter_factor: float = 1.0
    provisioning_factor: float = 1.0
    accelerator: str = ""
    named_accelerator: str = ""
    accelerator_factor: float | None = None

    @property
    def saved_co2e_kg(self) -> float:
        return self.baseline_co2e_kg - self.best_co2e_kg

    @property
    def factor(self) -> float:
        """How many times less the best option emits than the baseline."""
        return ratio(self.baseline_co2e_kg, self.best_co2e_kg)

    @property
    def percent(self) -> float:
        return 100.0 * self.saved_co2e_kg / self.baseline_co2e_kg

    def describe(self) -> str:
        """``38.1x = location 21.5x x datacenter PUE 1.33x x provisioning 1.00x``."""
        text = (f"{self.factor:,.1f}x = location {self.location_factor:,.1f}x x datacenter "
                f"PUE {self.datacenter_factor:.2f}x x provisioning {self.provisioning_factor:.2f}x")
        if self.accelerator_factor is not None:
            text += (f"; the {self.named_accelerator} named would use "
                     f"{self.accelerator_factor:.2f}x the energy of the {self.accelerator}")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"baseline_co2e_kg": self.baseline_co2e_kg, "best_co2e_kg": self.best_co2e_kg,
                "saved_co2e_kg": self.saved_co2e_kg, "factor": self.factor,
                "percent": self.percent, "location_factor": self.location_factor,
                "datacenter_factor": self.datacenter_factor,
                "provisioning_factor": self.provisioning_factor,
                "accelerator": self.accelerator, "named_accelerator": self.named_accelerator,
                "accelerator_factor": self.accelerator_factor}


#: Where the baseline runs, as a plan's JSON and its statement describe it (after "the same
#: job", which each says in its own words).
BASELINE_PLACE = "in an average US datacenter (Patterson et al. 2021 reference)"


def baseline_estimate(job: Job, accelerator: Accelerator, hours: Figure) -> Estimate:
    """The job on ``accelerator`` (taking ``hours`` there) in the paper's reference datacenter
    (PUE 1.58, 429 g/kWh)."""
    figures = defaults()
    pue, grid = figures["baseline_pue"], figures["baseline_intensity"]
    power = accelerator.power()
    assert power is not None, "the baseline accelerator is one a feasible option runs on"
    return compose(
        hours,
        job.count,
        power,
        PUE(pue.value, pue.source, pue.year),
        Intensity(grid.value, grid.source, grid.year, signal="average", kind="annual"),
    )


def ratio(baseline: float, option: float) -> float:
    return baseline / option if option else float("inf")
