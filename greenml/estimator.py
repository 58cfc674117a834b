"""One job on one machine in one place: runtime, energy, emissions and cost, each input sourced.

``estimate()`` is the public what-if: any figure can be given explicitly (a PUE, an intensity,
a power draw) to reproduce a published calculation or to test an assumption.
"""

from __future__ import annotations

from . import energy
from .catalog import Catalog, default_catalog
from .datafiles import defaults
from .errors import InputError
from .job import Job
from .model import PUE, Accelerator, Estimate, Figure, Intensity, Region


def utilization(job: Job) -> Figure:
    """The job's utilization of peak throughput, or the documented default."""
    if job.utilization is not None:
        return Figure("utilization", job.utilization, "fraction of peak", "job")
    return defaults()["utilization"]


def runtime_hours(job: Job, accelerator: Accelerator, reference: Accelerator | None) -> Figure:
    """Hours the job takes on ``accelerator``; the note states the assumption behind them.

    ``reference`` is the accelerator ``job.hours`` were measured on (unused for FLOPs jobs).
    Raises InputError when a needed throughput figure is missing.
    """
    if job.flops is not None:
        tflops = accelerator.dense_tflops
        if not tflops:
            raise InputError("flops", f"{accelerator.name} has no published dense throughput")
        used = utilization(job)
        hours = energy.hours_from_flops(job.flops, job.count, tflops, used.value)
        note = (f"{job.flops:.3g} FLOPs on {job.count} x {accelerator.name} at "
                f"{used.value:.0%} of {tflops:g} dense {accelerator.dense_tflops_dtype} TFLOPS"
                + (" (default utilization)" if job.utilization is None else ""))
        return Figure("hours", hours, "h", used.source, used.year, note)
    assert job.hours is not None
    if reference is None or reference.name == accelerator.name:
        return Figure("hours", job.hours, "h", "job")
    src, dst = reference.dense_tflops, accelerator.dense_tflops
    if src == dst and src:
        return Figure("hours", job.hours, "h", "job",
                      note=f"{accelerator.name} has the dense throughput of {reference.name}")
    if not src or not dst:
        missing = reference if not src else accelerator
        raise InputError("hours", f"cannot convert runtime: {missing.name} has no published "
                         "dense throughput")
    hours = energy.scaled_hours(job.hours, src, dst)
    note = (f"scaled from {job.hours:g} h on {reference.name} by peak dense throughput "
            f"({src:g} -> {dst:g} TFLOPS), assuming the same utilization")
    return Figure("hours", hours, "h", "job", accelerator.year, note)


def compose(
    hours: Figure,
    accelerators: int,
    power: Figure,
    pue: PUE,
    intensity: Intensity,
    price: Figure | None = None,
    instances: int = 1,
) -> Estimate:
    """The Patterson arithmetic on sourced inputs; the one place an Estimate is made."""
    kwh = energy.energy_kwh(hours.value, accelerators, power.value, pue.value)
    cost = price.value * instances * hours.value if price is not None else None
    inputs = [
        hours,
        Figure("accelerators", accelerators, "", "job" if instances <= 1 else "plan",
               note=f"{instances} instance(s)" if instances > 1 else ""),
        power,
        Figure("pue", pue.value, "", pue.source, pue.year),
        Figure("intensity", intensity.g_per_kwh, "g CO2e/kWh", intensity.source, intensity.year,
               note=f"{intensity.signal} signal, {intensity.kind}"),
    ]
    if price is not None:
        inputs.append(price)
    return Estimate(
        hours=hours.value,
        accelerators=accelerators,
        power_w=power.value,
        pue=pue.value,
        intensity_g_per_kwh=intensity.g_per_kwh,
        energy_kwh=kwh,
        co2e_kg=energy.co2e_kg(kwh, intensity.g_per_kwh),
        cost_usd=cost,
        signal=intensity.signal,
        inputs=tuple(inputs),
    )


def estimate(
    job: Job,
    *,
    accelerator: Accelerator | str | None = None,
    region: Region | None = None,
    pue: PUE | float | None = None,
    intensity: Intensity | float | None = None,
    power_w: float | None = None,
    price_usd_per_hour: float | None = None,
    catalog: Catalog | None = None,
) -> Estimate:
    """Estimate ``job`` on one accelerator in one place; explicit figures override the catalog.

    >>> job = Job(accelerator="TPU-v3", count=512, hours=20 * 24)
    >>> round(estimate(job, pue=1.12, intensity=545, power_w=310).energy_kwh)
    85647
    """
    acc = _accelerator(job, accelerator, catalog)
    reference = None
    if acc is not None:
        reference = _catalog(catalog).reference_for(job)
    if acc is None:
        if job.hours is None:
            raise InputError("accelerator", "a FLOPs job needs an accelerator to estimate on")
        hours = Figure("hours", job.hours, "h", "job")
    else:
        hours = runtime_hours(job, acc, reference)
    power = _power(acc, power_w)
    return compose(
        hours,
        job.count,
        power,
        _pue(pue, region),
        _intensity(intensity, region),
        Figure("price_usd_per_hour", price_usd_per_hour, "USD/h", "given")
        if price_usd_per_hour is not None else None,
    )


def _catalog(catalog: Catalog | None) -> Catalog:
    return catalog if catalog is not None else default_catalog()


def _accelerator(job: Job, given: Accelerator | str | None, catalog: Catalog | None
                 ) -> Accelerator | None:
    if isinstance(given, Accelerator):
        return given
    name = given or job.reference_accelerator
    if name is None:
        return None
    return _catalog(catalog).accelerator(name)


def _power(acc: Accelerator | None, power_w: float | None) -> Figure:
    if power_w is not None:
        if not power_w > 0:
            raise InputError("power_w", f"must be greater than zero, got {power_w!r}")
        return Figure("power_w", power_w, "W", "given")
    power = acc.power() if acc is not None else None
    if power is None:
        name = acc.name if acc is not None else "the accelerator"
        raise InputError("power_w", f"no published power figure for {name}; pass power_w")
    return power


def _pue(pue: PUE | float | None, region: Region | None) -> PUE:
    if isinstance(pue, PUE):
        return pue
    if pue is not None:
        return PUE(pue, "given")
    if region is None:
        raise InputError("pue", "give a region or a pue")
    return region.pue


def _intensity(intensity: Intensity | float | None, region: Region | None) -> Intensity:
    if isinstance(intensity, Intensity):
        return intensity
    if intensity is not None:
        return Intensity(intensity, "given")
    if region is None:
        raise InputError("intensity", "give a region or an intensity (g CO2e/kWh)")
    return region.intensity
