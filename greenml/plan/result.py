"""A ranked, explained plan: the options, the Pareto front, the exclusions, the saving.

A plan computes every offer's figures once, as arrays (``OfferFigures``); an ``Option`` is a
view of one row of them, made when read, never a second estimate. A plan written with
``to_json()`` is read back by ``Plan.from_json`` and launches exactly the options reviewed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from greenml import datasets
from greenml.accelerator import Accelerator
from greenml.estimator import assemble, runtime_hours
from greenml.figure import Figure
from greenml.model import Estimate, Exclusion, Intensity, Option
from greenml.plan.outputs import PlanOutputs
from greenml.plan.savings import BASELINE_PLACE, Savings, ratio

if TYPE_CHECKING:
    import numpy as np

    from greenml.catalog import Catalog
    from greenml.job import Job
    from greenml.launch.types import Launch
    from greenml.plan import file as plan_file
    from greenml.plan.ranking import Ranking
    from greenml.plan.robustness import Robustness
    from greenml.plan.timeshift import TimeShift
    from greenml.provider import Provider


def methodology(intensity: Intensity) -> str:
    """``electricitymaps-2025 (lifecycle, average)``: the dataset or source an intensity
    belongs to, what it counts and its signal; options with different labels are not alike."""
    what = ", ".join(x for x in (intensity.scope, intensity.signal) if x)
    return f"{intensity.dataset or intensity.source} ({what})"


@attrs.define(eq=False)
class OfferFigures:
    """What a plan computed for every catalog offer, in one pass over the catalog's columns:
    the numbers each option shows, is ranked on and is launched with. NaN marks a cost with
    no price, and figures of offers the plan left out."""

    hours: np.ndarray
    energy_kwh: np.ndarray
    co2e_kg: np.ndarray
    cost_usd: np.ndarray
    instances: np.ndarray
    intensity_g_per_kwh: np.ndarray
    #: Per accelerator: its runtime, whose note says what it assumes (None: not planned).
    runtimes: tuple[Figure | None, ...] = ()
    #: Per region: the intensity figure ranked on (a live reading, or the dataset's).
    intensities: tuple[Intensity | None, ...] = ()


@attrs.define(eq=False)
class Plan(PlanOutputs):
    """Every feasible option, best first (kg CO2e, then cost, then hours).

    ``figures`` holds every offer's numbers and ``ranking`` their order, computed only as
    far as it is read; options are views made on first access, so a plan over a huge catalog
    costs little until read. ``readings`` holds the live intensity used per region (empty:
    the embedded figures); ``timeshift`` is set when the job gives a time window. ``saved``
    is set on a plan read from a file (``from_json``): it launches on the providers
    installed then, once it has checked the catalog it was made on is still the installed one.
    """

    job: Job
    catalog: Catalog
    ranking: Ranking
    figures: OfferFigures
    excluded: tuple[Exclusion, ...]
    baseline: Estimate
    intensity_notes: Sequence[str] = ()
    readings: tuple[Intensity | None, ...] = ()
    timeshift: TimeShift | None = None
    robustness: Robustness | None = None
    #: The accelerator the job's hours were measured on (``Catalog.reference_for``).
    reference: Accelerator | None = None
    #: The carbon sources the plan asked, in order.
    carbon_sources: tuple[str, ...] = ("embedded",)
    saved: plan_file.SavedFrom | None = None
    #: What the plan could not do as asked, once for the whole plan: live carbon data that
    #: fell back (each source's reason) and time shifting that could save nothing (why).
    notes: tuple[str, ...] = ()
    _built: dict[int, Option] = attrs.field(factory=dict, repr=False, alias="built")

    def __len__(self) -> int:
        return self.ranking.size

    # the arrays under their former names
    @property
    def ranked(self) -> np.ndarray:
        """Every feasible offer's catalog position, best first (sorted on first use)."""
        return self.ranking.order

    @property
    def pareto_mask(self) -> np.ndarray:
        """Over ``ranked``: which positions are on the Pareto front."""
        return self.ranking.front_mask()

    def option(self, rank: int) -> Option:
        """The option at 1-based ``rank``."""
        if not 1 <= rank <= len(self):
            raise IndexError(f"rank {rank} is not in this plan (1 to {len(self)})")
        return self._option(rank - 1)

    def _option(self, position: int, row: int | None = None) -> Option:
        if position not in self._built:
            if row is None:
                row = self.ranking.row(position)
            self._built[position] = self._view(position, row)
        return self._built[position]

    def _view(self, position: int, row: int) -> Option:
        """The option at ``position`` (0-based), catalog offer ``row``: every number read from
        the plan's arrays, with the sourced inputs it rests on."""
        f, cols = self.figures, self.catalog.columns
        offer = self.catalog.offers[row]
        r, a = int(cols.offer_region[row]), int(cols.offer_accelerator[row])
        region, acc = self.catalog.regions[r], self.catalog.accelerators[a]
        hours, power = f.runtimes[a], acc.power()
        assert hours is not None and power is not None, "ranked offers have both"
        instances = int(f.instances[row])
        provisioned = instances * offer.accelerators_per_instance
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
        intensity = f.intensities[r]
        schedule = None
        if self.timeshift is not None:
            schedule, shifted, shift_notes = self.timeshift.schedule(
                r, a, hours.value, float(f.energy_kwh[row]))
            intensity = shifted or intensity
            notes += shift_notes
        elif self.intensity_notes and self.intensity_notes[r]:
            notes.append(self.intensity_notes[r])
        assert intensity is not None, "ranked options rest on a figure"
        ranked_on = float(f.intensity_g_per_kwh[row])
        if intensity.g_per_kwh != ranked_on:  # a zone's average, taken over a window's cells
            intensity = attrs.evolve(intensity, g_per_kwh=ranked_on)
        cost = float(f.cost_usd[row])
        estimate = assemble(hours, provisioned, power, region.pue, intensity, price, instances,
                            float(f.energy_kwh[row]), float(f.co2e_kg[row]),
                            None if math.isnan(cost) else cost)
        return Option(rank=position + 1, region=region, offer=offer, accelerator=acc,
                      instances=instances, spot=self.job.spot, estimate=estimate,
                      pareto=self.ranking.on_front(row), notes=tuple(notes),
                      schedule=schedule, intensity=intensity)

    def _views(self, positions: Sequence[int], rows: Sequence[int]) -> tuple[Option, ...]:
        return tuple(self._option(p, r) for p, r in zip(positions, rows, strict=True))

    @property
    def options(self) -> tuple[Option, ...]:
        """Every feasible option, best first (the whole order is sorted on first use)."""
        rows = self.ranking.order.tolist()
        return self._views(range(len(rows)), rows)

    def top(self, n: int) -> tuple[Option, ...]:
        rows = self.ranking.prefix(n).tolist()
        return self._views(range(len(rows)), rows)

    @property
    def best(self) -> Option:
        """The lowest-emission feasible option (ties: cheaper, then faster)."""
        return self._option(0)

    @property
    def pareto(self) -> tuple[Option, ...]:
        """Options no other option beats on kg CO2e, cost and hours at once."""
        front = self.ranking.front
        return self._views(self.ranking.positions(front).tolist(), front.tolist())

    def best_per_provider(self) -> tuple[Option, ...]:
        """The first-ranked option of each provider, in rank order."""
        import numpy as np

        names = sorted({r.provider for r in self.catalog.regions})
        of_region = np.array([names.index(r.provider) for r in self.catalog.regions])
        first = self.ranking.first_of_groups(of_region[self.catalog.columns.offer_region])
        rows = np.array(sorted(first.values()), dtype=np.int64)
        positions = self.ranking.positions(rows)
        order = np.argsort(positions)
        return self._views(positions[order].tolist(), rows[order].tolist())

    @property
    def signal(self) -> str:
        return self.best.estimate.signal

    @property
    def savings(self) -> Savings:
        best, base = self.best.estimate, self.baseline
        named = self.reference
        accelerator_factor = None
        if named is not None and named.name != self.best.accelerator.name:
            power = named.power()
            if power is not None:
                hours = self._runtime_on(named)
                accelerator_factor = (hours * power.value) / (best.hours * base.power_w)
        return Savings(
            base.co2e_kg, best.co2e_kg,
            location_factor=ratio(base.intensity_g_per_kwh, best.intensity_g_per_kwh),
            datacenter_factor=ratio(base.pue, best.pue),
            provisioning_factor=ratio(base.accelerators, best.accelerators),
            accelerator=self.best.accelerator.name,
            named_accelerator=named.name if named is not None else "",
            accelerator_factor=accelerator_factor)

    def _runtime_on(self, accelerator: Accelerator) -> float:
        """Hours the job takes on ``accelerator``: the plan's figure where it has one."""
        i = self.catalog.accelerator_index.get(accelerator.name.lower())
        runtimes = self.figures.runtimes
        known = runtimes[i] if i is not None and i < len(runtimes) else None
        if known is not None:
            return known.value
        return runtime_hours(self.job, accelerator, self.reference).value

    @property
    def methodologies(self) -> dict[str, int]:
        """How many options rest on each methodology (dataset or live source, scope,
        signal), most first; more than one entry means the list mixes them, and says so."""
        from collections import Counter

        labels: Counter[str] = Counter()
        if self.saved is not None:  # read back: each option names its figure
            labels.update(methodology(o.intensity) if o.intensity else "none"
                          for o in self.options)
            return dict(labels.most_common())
        regions = self.catalog.columns.offer_region[self.ranking.rows]
        for r, n in Counter(regions.tolist()).items():
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
        if self.saved is not None:
            return self.saved.window
        if self.timeshift is None:
            return None
        from greenml.model import utc_text

        ts = self.timeshift
        return {"start": utc_text(ts.start),
                "deadline": utc_text(ts.deadline) if ts.deadline else None,
                "interruptible": ts.interruptible}

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        options = self.options if top is None else self.top(top)
        window = self.window
        return {
            "job": _jsonable(self.job.to_dict()),
            "signal": self.signal,
            **({"window": window} if window is not None else {}),
            "count": len(self),
            "best": self.best.to_dict(),
            "options": [o.to_dict() for o in options],
            "pareto": [o.rank for o in self.pareto],
            "baseline": {
                "description": f"the same job on the same accelerator {BASELINE_PLACE}",
                **self.baseline.to_dict(),
            },
            "savings": self.savings.to_dict(),
            "methodologies": self.methodologies,
            "notes": list(self.notes),
            **({"carbon_data": datasets.get(self.catalog.carbon_data).to_dict()}
               if self.catalog.carbon_data else {}),
            "robustness": self.robustness.to_dict() if self.robustness else None,
            "excluded": [e.to_dict() for e in self.excluded],
        }

    def to_json(self, top: int | None = None, indent: int | None = 2) -> str:
        """The plan as strict JSON. Written whole (no ``top``) it is a saved plan, versioned
        (``format``): every option with all it needs to launch, the catalog's fingerprint and
        the dataset's version; ``Plan.from_json`` reads it back."""
        from greenml.plan import file as plan_file  # saved plans only: hashlib and the reader
        from greenml.render import json_text  # strict JSON: never NaN or Infinity

        data = plan_file.document(self) if top is None else self.to_dict(top)
        return json_text(data, indent)

    @classmethod
    def from_json(cls, text: str, source: str = "saved plan") -> Plan:
        """A plan saved by ``to_json()`` (``greenml plan ... --save FILE``), options in the
        order reviewed; ``source`` (a file name) is named in every error, each of which also
        names the field that is wrong."""
        import numpy as np

        from greenml.plan import file as plan_file  # saved plans only: hashlib and the reader
        from greenml.plan.ranking import Ranking

        saved = plan_file.read(text, source)
        options = saved.options
        figures = OfferFigures(
            hours=np.array([o.estimate.hours for o in options], dtype=np.float64),
            energy_kwh=np.array([o.estimate.energy_kwh for o in options], dtype=np.float64),
            co2e_kg=np.array([o.estimate.co2e_kg for o in options], dtype=np.float64),
            cost_usd=np.array([math.nan if o.estimate.cost_usd is None else o.estimate.cost_usd
                               for o in options], dtype=np.float64),
            instances=np.array([o.instances for o in options], dtype=np.float64),
            intensity_g_per_kwh=np.array([o.estimate.intensity_g_per_kwh for o in options],
                                         dtype=np.float64))
        rows = np.arange(len(options), dtype=np.int64)
        ranking = Ranking(rows, figures.co2e_kg, np.where(np.isnan(figures.cost_usd), np.inf,
                                                          figures.cost_usd),
                          figures.hours, rows, rows[[o.pareto for o in options]], order=rows)
        return cls(job=saved.job, catalog=saved.catalog, ranking=ranking, figures=figures,
                   excluded=saved.excluded, baseline=saved.baseline,
                   robustness=saved.robustness, reference=saved.reference,
                   carbon_sources=saved.carbon_sources, saved=saved.origin,
                   notes=saved.notes, built=dict(enumerate(options)))

    def stale(self) -> str:
        """Why this saved plan no longer matches what is installed (its catalog or dataset
        changed), or "" when it does; a plan made in this process is never stale."""
        from greenml.plan import file as plan_file  # saved plans only: hashlib and the reader

        return "" if self.saved is None else plan_file.stale(self.saved)

    def launch_providers(self) -> dict[str, Provider]:
        """The providers that launch this plan: its catalog's, or for a saved plan the ones
        installed now (InputError, naming why, if the plan is stale)."""
        if self.saved is None:
            return self.catalog.providers
        from greenml.plan import file as plan_file  # saved plans only: hashlib and the reader

        return plan_file.installed_providers(self.saved)

    def launch(self, *, name: str, run: str, dry_run: bool = False,
               settings: dict[str, str] | None = None, ledger: Any = None,
               retry: Any = None, progress: Any = None) -> Launch:
        """Launch the greenest option that has capacity: ``greenml.launch(self, ...)``."""
        from greenml.launch import launch

        return launch(self, name=name, run=run, dry_run=dry_run, settings=settings,
                      ledger=ledger, retry=retry, progress=progress)

    def provision(self, **kwargs: Any) -> Launch:
        """Deprecated: the old name of ``launch`` (the CLI verb and the types say launch)."""
        import warnings

        warnings.warn("Plan.provision is deprecated; use Plan.launch (or greenml.launch)",
                      DeprecationWarning, stacklevel=2)
        return self.launch(**kwargs)

    def table(self, top: int = 10) -> str:
        from greenml.render import plan_table

        return plan_table(self, top)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Plan {len(self)} options, best {self.best.provider}/{self.best.region.name}>"


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
