"""A ranked, explained plan: the options, the Pareto front, the exclusions, the saving."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from . import datasets, energy
from .datafiles import defaults
from .estimator import compose, runtime_hours
from .model import PUE, Accelerator, Estimate, Exclusion, Figure, Intensity, Option

if TYPE_CHECKING:
    import numpy as np

    from .catalog import Catalog
    from .job import Job
    from .launch import Launch
    from .robustness import Robustness
    from .timeshift import TimeShift


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
        return self.baseline_co2e_kg / self.best_co2e_kg if self.best_co2e_kg else float("inf")

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


def methodology(intensity: Intensity) -> str:
    """``electricitymaps-2025 (lifecycle, average)``: the dataset or source an intensity
    belongs to, what it counts and its signal; options with different labels are not alike."""
    what = ", ".join(x for x in (intensity.scope, intensity.signal) if x)
    return f"{intensity.dataset or intensity.source} ({what})"


def baseline_estimate(job: Job, accelerator: Accelerator, catalog: Catalog) -> Estimate:
    """The job on ``accelerator`` in the paper's reference datacenter (PUE 1.58, 429 g/kWh)."""
    figures = defaults()
    pue, grid = figures["baseline_pue"], figures["baseline_intensity"]
    reference = catalog.reference_for(job)
    power = accelerator.power()
    assert power is not None, "the baseline accelerator is one a feasible option runs on"
    return compose(
        runtime_hours(job, accelerator, reference),
        job.count,
        power,
        PUE(pue.value, pue.source, pue.year),
        Intensity(grid.value, grid.source, grid.year, signal="average", kind="annual"),
    )


@attrs.define(eq=False)
class Plan:
    """Every feasible option, best first (kg CO2e, then cost, then hours).

    Options are built on first access, so a plan over a huge catalog costs little until read.
    ``readings`` holds the live intensity used per region (empty: the embedded figures);
    ``timeshift`` is set when the job gives a time window.
    """

    job: Job
    catalog: Catalog
    ranked: np.ndarray
    pareto_mask: np.ndarray
    instances: np.ndarray
    intensities: np.ndarray
    intensity_notes: Sequence[str]
    excluded: tuple[Exclusion, ...]
    baseline: Estimate
    readings: tuple[Intensity | None, ...] = ()
    timeshift: TimeShift | None = None
    robustness: Robustness | None = None
    #: kWh per catalog offer (the same for every year and source), kept for replays.
    kwh: np.ndarray | None = None
    _built: dict[int, Option] = attrs.field(factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return int(self.ranked.size)

    def option(self, rank: int) -> Option:
        """The option at 1-based ``rank``."""
        return self._option(rank - 1)

    def _option(self, position: int) -> Option:
        if position not in self._built:
            self._built[position] = self._build_option(position)
        return self._built[position]

    def _build_option(self, position: int) -> Option:
        catalog = self.catalog
        i = int(self.ranked[position])
        offer = catalog.offers[i]
        region_pos = catalog.region_index[(offer.provider, offer.region)]
        region = catalog.regions[region_pos]
        acc = catalog.accelerator(offer.accelerator)
        reference = catalog.reference_for(self.job)
        hours = runtime_hours(self.job, acc, reference)
        instances = int(self.instances[i])
        provisioned = instances * offer.accelerators_per_instance
        power = acc.power()
        assert power is not None
        # The figure the ranking used: the live reading where a source answered, else the
        # dataset's; a region with neither was excluded, so ranked options always have one.
        intensity = (self.readings[region_pos] if self.readings else None) or region.intensity
        price_value = offer.price_usd_per_hour(self.job.spot)
        price = None if price_value is None else Figure(
            "price_usd_per_hour", price_value, "USD/h", offer.price_source, offer.price_date,
            note=("spot; " if self.job.spot else "on-demand; ") + offer.price_basis)
        notes = [hours.note] if hours.note else []
        if provisioned > self.job.count:
            notes.append(f"{provisioned} accelerators provisioned for {self.job.count} requested "
                         f"({instances} x {offer.accelerators_per_instance}); the idle ones are "
                         "counted at the same average power")
        if price is None:
            notes.append("no public price for this offer: cost unknown")
        schedule = None
        if self.timeshift is not None:
            acc_pos = catalog.accelerator_index[acc.name.lower()]
            kwh = energy.energy_kwh(hours.value, provisioned, power.value, region.pue.value)
            schedule, shifted, shift_notes = self.timeshift.schedule(region_pos, acc_pos,
                                                                     hours.value, kwh)
            intensity = shifted or intensity
            notes += shift_notes
        elif self.intensity_notes[region_pos]:
            notes.append(self.intensity_notes[region_pos])
        assert intensity is not None, "ranked options rest on a figure"
        return Option(
            rank=position + 1,
            region=region,
            offer=offer,
            accelerator=acc,
            instances=instances,
            spot=self.job.spot,
            estimate=compose(hours, provisioned, power, region.pue, intensity, price, instances),
            pareto=bool(self.pareto_mask[position]),
            notes=tuple(notes),
            schedule=schedule,
            intensity=intensity,
        )

    @property
    def options(self) -> tuple[Option, ...]:
        """Every feasible option, best first."""
        return tuple(self._option(i) for i in range(len(self)))

    def top(self, n: int) -> tuple[Option, ...]:
        return tuple(self._option(i) for i in range(min(n, len(self))))

    @property
    def best(self) -> Option:
        """The lowest-emission feasible option (ties: cheaper, then faster)."""
        return self._option(0)

    @property
    def pareto(self) -> tuple[Option, ...]:
        """Options no other option beats on kg CO2e, cost and hours at once."""
        import numpy as np

        return tuple(self._option(int(i)) for i in np.flatnonzero(self.pareto_mask))

    @property
    def signal(self) -> str:
        return self.best.estimate.signal

    @property
    def savings(self) -> Savings:
        best, base = self.best.estimate, self.baseline
        named = self.catalog.reference_for(self.job)
        accelerator_factor = None
        if named is not None and named.name != self.best.accelerator.name:
            power = named.power()
            if power is not None:
                hours = runtime_hours(self.job, named, named).value
                runtime = runtime_hours(self.job, self.best.accelerator, named).value
                accelerator_factor = (hours * power.value) / (runtime * base.power_w)
        return Savings(
            base.co2e_kg, best.co2e_kg,
            location_factor=_ratio(base.intensity_g_per_kwh, best.intensity_g_per_kwh),
            datacenter_factor=_ratio(base.pue, best.pue),
            provisioning_factor=_ratio(base.accelerators, best.accelerators),
            accelerator=self.best.accelerator.name,
            named_accelerator=named.name if named is not None else "",
            accelerator_factor=accelerator_factor)

    @property
    def methodologies(self) -> dict[str, int]:
        """How many options rest on each methodology (dataset or live source, scope,
        signal), most first; more than one entry means the list mixes them, and says so."""
        from collections import Counter

        regions = self.catalog.columns.offer_region[self.ranked]
        counts = Counter(regions.tolist())
        labels: Counter[str] = Counter()
        for r, n in counts.items():
            labels[self._region_methodology(int(r))] += n
        return dict(labels.most_common())

    def _region_methodology(self, position: int) -> str:
        if self.timeshift is not None:
            row = int(self.timeshift.row_of_region[position])
            source = self.timeshift.forecasts.sources[row] if row >= 0 else ""
            if source:
                return f"{source} forecast ({self.timeshift.forecasts.signal})"
        reading = self.readings[position] if self.readings else None
        intensity = reading or self.catalog.regions[position].intensity
        return methodology(intensity) if intensity is not None else "none"

    @property
    def window(self) -> dict[str, Any] | None:
        """The time window the plan chose starts in (None without one)."""
        if self.timeshift is None:
            return None
        from .carbon import utc_text

        ts = self.timeshift
        return {"start": utc_text(ts.start),
                "deadline": utc_text(ts.deadline) if ts.deadline else None,
                "interruptible": ts.interruptible}

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        options = self.options if top is None else self.top(top)
        return {
            "job": _jsonable(self.job.to_dict()),
            "signal": self.signal,
            **({"window": self.window} if self.timeshift is not None else {}),
            "count": len(self),
            "best": self.best.to_dict(),
            "options": [o.to_dict() for o in options],
            "pareto": [o.rank for o in self.pareto],
            "baseline": {
                "description": "the same job on the same accelerator in an average US "
                               "datacenter (Patterson et al. 2021 reference)",
                **self.baseline.to_dict(),
            },
            "savings": self.savings.to_dict(),
            "methodologies": self.methodologies,
            **({"carbon_data": datasets.get(self.catalog.carbon_data).to_dict()}
               if self.catalog.carbon_data else {}),
            "robustness": self.robustness.to_dict() if self.robustness else None,
            "excluded": [e.to_dict() for e in self.excluded],
        }

    def to_json(self, top: int | None = None, indent: int | None = 2) -> str:
        from .render import json_text  # strict JSON: never NaN or Infinity

        return json_text(self.to_dict(top), indent)

    def provision(self, *, name: str, run: str, dry_run: bool = False,
                  settings: dict[str, str] | None = None, ledger: Any = None,
                  retry: Any = None) -> Launch:
        """Launch the greenest option that has capacity; see ``greenml.provision.provision``."""
        from .provision import provision

        return provision(self, name=name, run=run, dry_run=dry_run, settings=settings,
                         ledger=ledger, retry=retry)

    def table(self, top: int = 10) -> str:
        from .render import plan_table

        return plan_table(self, top)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Plan {len(self)} options, best {self.best.provider}/{self.best.region.name}>"


def _ratio(baseline: float, option: float) -> float:
    return baseline / option if option else float("inf")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
