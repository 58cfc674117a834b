"""An accelerator model: memory, power and throughput, each with its source, and the one
power basis (average system power per processor) every estimate uses."""

from __future__ import annotations

import functools

from attrs import field, frozen

from greenml.figure import Figure
from greenml.validators import blank_is_none, names, positive, required_text


@frozen
class Accelerator:
    """An accelerator model: memory, power and dense throughput, each with its source.

    ``family`` groups variants a user names by one word (A100 covers the 40 and 80 GB parts);
    the family's reference member is the accelerator whose name equals the family.

    Power is on one basis for every accelerator: ``system_power_w``, the average system power
    per processor (chip plus its share of the host) as Patterson et al. 2021 measured it.
    ``system_power_basis`` is ``measured`` or ``derived from TDP`` (or from another chip
    figure, ``system_power_from_w``); ``system_power_source`` / ``_year`` name the measured or
    chip figure, or why there is none. ``tdp_w`` is the chip's specification, never an
    estimate's power by itself (docs/accelerator-power.md).
    """

    name: str = field(validator=required_text)
    family: str = ""
    aliases: tuple[str, ...] = field(default=(), converter=names)
    vendor: str = ""
    form_factor: str = ""
    memory_gb: float | None = field(default=None, converter=blank_is_none, validator=positive)
    tdp_w: float | None = field(default=None, converter=blank_is_none, validator=positive)
    system_power_w: float | None = field(
        default=None, converter=blank_is_none, validator=positive
    )
    system_power_basis: str = ""
    system_power_from_w: float | None = field(
        default=None, converter=blank_is_none, validator=positive
    )
    system_power_source: str = ""
    system_power_year: str = ""
    dense_bf16_tflops: float | None = field(
        default=None, converter=blank_is_none, validator=positive
    )
    dense_fp16_tflops: float | None = field(
        default=None, converter=blank_is_none, validator=positive
    )
    source: str = ""
    year: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)

    @property
    def dense_tflops(self) -> float | None:
        """Peak dense tensor throughput: BF16 where the part has it, else FP16."""
        return self.dense_bf16_tflops or self.dense_fp16_tflops

    @property
    def dense_tflops_dtype(self) -> str:
        return "bf16" if self.dense_bf16_tflops else "fp16"

    @property
    def lower_power_variant(self) -> bool:
        """A PCIe / NVL part of a family whose reference member is another (SXM) part: its
        datasheet peak may exceed what it sustains at its lower power limit."""
        return self.family != self.name and self.form_factor.startswith("PCIe")

    @property
    def power_basis(self) -> str:
        """``measured``, ``derived from TDP`` (or from another chip figure), or "" (none)."""
        if self.system_power_w:
            return self.system_power_basis or "given"
        return "derived from TDP" if self.tdp_w else ""

    def power(self) -> Figure | None:
        """Average system power per processor, the one basis every estimate uses.

        A catalog row carries it, measured or derived; an accelerator given only a TDP (a
        plugin's) is derived here by the same rule: TDP x ``system_power_per_chip_power``
        of greenml/data/defaults.csv. None: no published figure (the source says why).
        Worked out once per accelerator: every plan asks it of every accelerator.
        """
        return _power_of(self)

    def _power(self) -> Figure | None:
        what = "average system power per processor (chip + host share)"
        if self.system_power_w:
            basis = self.power_basis
            if self.system_power_from_w and basis.startswith("derived"):
                basis += f" {self.system_power_from_w:g} W x {_system_power_rule().value:g}"
            return Figure("power_w", self.system_power_w, "W", self.system_power_source,
                          self.system_power_year or self.year, note=f"{what}, {basis}")
        if self.tdp_w:
            rule = _system_power_rule()
            return Figure(
                "power_w", round(self.tdp_w * rule.value, 1), "W", self.source, self.year,
                note=f"{what}, derived from TDP {self.tdp_w:g} W x {rule.value:g} "
                     f"({rule.name}, greenml/data/defaults.csv)",
            )
        return None


@functools.lru_cache(maxsize=4096)
def _power_of(accelerator: Accelerator) -> Figure | None:
    return accelerator._power()


def _system_power_rule() -> Figure:
    """The factor from a published chip power to average system power (defaults.csv)."""
    from greenml.packagedata import defaults

    return defaults()["system_power_per_chip_power"]
