"""The arithmetic of Patterson et al. 2021, Sec 2.5: pure functions, no I/O.

Every function works on plain floats and, unchanged, on numpy arrays.
"""

from __future__ import annotations

from typing import Any, TypeAlias

#: A float or a numpy array of them (the planner passes whole columns, the estimator
#: scalars); the result is an array when any argument is one, which only Any can say.
Number: TypeAlias = Any

SECONDS_PER_HOUR = 3600.0
TERA = 1e12


def energy_kwh(hours: Number, processors: Number, avg_power_w: Number, pue: Number) -> Number:
    """kWh = hours x processors x average power per processor (W) x PUE / 1000."""
    return hours * processors * avg_power_w * pue / 1000.0


def co2e_kg(energy_kwh: Number, intensity_g_per_kwh: Number) -> Number:
    """kg CO2e = kWh x grid intensity (g/kWh) / 1000."""
    return energy_kwh * intensity_g_per_kwh / 1000.0


def hours_from_flops(flops: Number, processors: Number, peak_tflops: Number,
                     utilization: Number) -> Number:
    """Wall-clock hours to do ``flops`` on ``processors`` running at ``utilization`` of peak."""
    return flops / (processors * peak_tflops * TERA * utilization) / SECONDS_PER_HOUR


def scaled_hours(hours: Number, from_tflops: Number, to_tflops: Number) -> Number:
    """Hours on another accelerator, assuming runtime scales with peak dense throughput."""
    return hours * from_tflops / to_tflops
