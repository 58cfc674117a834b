"""One job on one machine in one place: runtime, energy, emissions and cost, each input sourced.

``estimate()`` is the public what-if: any figure can be given explicitly (a PUE, an intensity,
a power draw) to reproduce a published calculation or to test an assumption.
"""

from __future__ import annotations

import math
from typing import Any

from greenml import energy
from greenml.accelerator import Accelerator
from greenml.catalog import Catalog
from greenml.datafiles import defaults
from greenml.errors import InputError
from greenml.figure import Figure
from greenml.job import Job, bound
from greenml.model import PUE, Estimate, Intensity, Region
from greenml.registry import default_catalog


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
        _check_runtime("flops", hours, accelerator)
        note = (f"{job.flops:.3g} FLOPs on {job.count} x {accelerator.name} at "
                f"{used.value:.0%} of {tflops:g} dense {accelerator.dense_tflops_dtype} TFLOPS"
                + (" (default utilization)" if job.utilization is None else "")
                + _form_factor_note(accelerator, reference))
        return Figure("hours", hours, "h", used.source, used.year, note)
    assert job.hours is not None
    if reference is None or reference.name == accelerator.name:
        return Figure("hours", job.hours, "h", "job")
    src, dst = reference.dense_tflops, accelerator.dense_tflops
    if src == dst and src:
        return Figure("hours", job.hours, "h", "job",
                      note=f"{accelerator.name} has the dense throughput of {reference.name}"
                      + _form_factor_note(accelerator, reference))
    if not src or not dst:
        missing = reference if not src else accelerator
        raise InputError("hours", f"cannot convert runtime: {missing.name} has no published "
                         "dense throughput")
    hours = energy.scaled_hours(job.hours, src, dst)
    _check_runtime("hours", hours, accelerator)
    note = (f"scaled from {job.hours:g} h on {reference.name} by peak dense throughput "
            f"({src:g} -> {dst:g} TFLOPS), assuming the same utilization"
            + _form_factor_note(accelerator, reference))
    return Figure("hours", hours, "h", "job", accelerator.year, note)


def _form_factor_note(accelerator: Accelerator, reference: Accelerator | None) -> str:
    """What the runtime of a PCIe / NVL variant rests on: its datasheet peak, which no stored
    source says it sustains at its lower power limit (docs/accelerator-power.md)."""
    if not accelerator.lower_power_variant or not accelerator.dense_tflops:
        return ""
    peak = accelerator.dense_tflops
    sxm = (reference is not None and not reference.lower_power_variant
           and reference.family == accelerator.family and reference.dense_tflops == peak)
    what = f"the SXM peak ({peak:g} TFLOPS)" if sxm else f"its datasheet peak ({peak:g} TFLOPS)"
    return (f"; {accelerator.name} is a {accelerator.form_factor} part: its runtime assumes "
            f"{what}, though no source gives what it sustains at its lower power limit")


def _check_runtime(field: str, hours: float, accelerator: Accelerator) -> None:
    """A runtime over ``max_hours`` (or one that overflowed) is no plan: say so instead."""
    if not math.isfinite(hours) or hours > bound("max_hours"):
        raise InputError(field, f"{accelerator.name} would need {hours:,.3g} h, over the "
                         f"{bound('max_hours'):,.0f} h bound (max_hours in "
                         "greenml/data/defaults.csv)")


def compose(
    hours: Figure,
    accelerators: int,
    power: Figure,
    pue: PUE,
    intensity: Intensity,
    price: Figure | None = None,
    instances: int = 1,
) -> Estimate:
    """The Patterson arithmetic on sourced inputs (``assemble`` records the result)."""
    kwh = energy.energy_kwh(hours.value, accelerators, power.value, pue.value)
    cost = price.value * instances * hours.value if price is not None else None
    return assemble(hours, accelerators, power, pue, intensity, price, instances, kwh,
                    energy.co2e_kg(kwh, intensity.g_per_kwh), cost)


def assemble(
    hours: Figure,
    accelerators: int,
    power: Figure,
    pue: PUE,
    intensity: Intensity,
    price: Figure | None,
    instances: int,
    energy_kwh: float,
    co2e_kg: float,
    cost_usd: float | None,
) -> Estimate:
    """An Estimate of results already computed (by ``compose``, or by a plan's arrays for
    every offer at once) with the sourced inputs they rest on: the one place one is made."""
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
        energy_kwh=energy_kwh,
        co2e_kg=co2e_kg,
        cost_usd=cost_usd,
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

    Each figure given must be finite and within its documented range (``pue`` 1.0 to
    ``max_pue``, ``intensity`` 0 to ``max_intensity``, ``power_w`` up to ``max_power_w``,
    ``price_usd_per_hour`` 0 up to ``max_accelerators`` x ``max_usd_per_accelerator_hour``,
    all in ``greenml/data/defaults.csv``); a bad argument raises InputError naming it.

    >>> job = Job(accelerator="TPU-v3", count=512, hours=20 * 24)
    >>> round(estimate(job, pue=1.12, intensity=545, power_w=310).energy_kwh)
    85328
    """
    _check_arguments(job, accelerator, region, catalog)
    price_usd_per_hour = _in_range("price_usd_per_hour", price_usd_per_hour, 0.0,
                                   bound("max_accelerators")
                                   * bound("max_usd_per_accelerator_hour"), "USD/h")
    power_w = _in_range("power_w", power_w, 0.0, bound("max_power_w"), "W", above=True)
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


def _check_arguments(job: Any, accelerator: Any, region: Any, catalog: Any) -> None:
    """The arguments that are objects are of the documented types (else InputError)."""
    wanted = (("job", job, Job, False), ("accelerator", accelerator, (Accelerator, str), True),
              ("region", region, Region, True), ("catalog", catalog, Catalog, True))
    for name, value, kind, optional in wanted:
        if not (isinstance(value, kind) or optional and value is None):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise InputError(name, f"must be a {names}{' or None' if optional else ''}, got "
                             f"{type(value).__name__} {value!r}"[:200])


def _in_range(name: str, value: Any, low: float, high: float, unit: str,
              above: bool = False) -> float | None:
    """None, or ``value`` checked by ``_number``."""
    return None if value is None else _number(name, value, low, high, unit, above)


def _number(name: str, value: Any, low: float, high: float, unit: str,
            above: bool = False) -> float:
    """``value`` if it is a finite number in [low, high] (or (low, high]), else an
    InputError naming ``name`` and the range accepted."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value > low if above else value >= low)
          and value <= high)
    if not ok:
        opening = "(" if above else "["
        raise InputError(name, f"must be a number in {opening}{low:g}, {high:,.6g}] {unit}, "
                         f"got {value!r}")
    return float(value)


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
        return Figure("power_w", power_w, "W", "given")
    power = acc.power() if acc is not None else None
    if power is None:
        name = acc.name if acc is not None else "the accelerator"
        raise InputError("power_w", f"no published power figure for {name}; pass power_w")
    return power


def _pue(pue: PUE | float | None, region: Region | None) -> PUE:
    if isinstance(pue, PUE):
        _number("pue", pue.value, 1.0, bound("max_pue"), "")
        return pue
    if pue is not None:
        return PUE(_number("pue", pue, 1.0, bound("max_pue"), ""), "given")
    if region is None:
        raise InputError("pue", "give a region or a pue")
    return region.pue


def _intensity(intensity: Intensity | float | None, region: Region | None) -> Intensity:
    if isinstance(intensity, Intensity):
        _number("intensity", intensity.g_per_kwh, 0.0, bound("max_intensity"), "g CO2e/kWh")
        return intensity
    if intensity is not None:
        return Intensity(_number("intensity", intensity, 0.0, bound("max_intensity"),
                                 "g CO2e/kWh"), "given")
    if region is None or region.intensity is None:
        raise InputError("intensity", "give a region with an intensity figure, or an "
                         "intensity (g CO2e/kWh)")
    return region.intensity
