"""Measure a run on this machine (a workstation, an on-prem node): ``greenml track -- CMD``
and ``with greenml.track(region=..., provider=...) as t:``.

The same sampler as on a launched node (``greenml.measure.sampler``, imported), so a local
figure and a cloud one are measured alike. The measured kWh is priced with the named
region's PUE and grid intensity from the catalog (an on-prem site is a region of its
provider), each with its source; with no region the energy is reported and nothing is
priced, rather than a guessed grid.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import TYPE_CHECKING, Any

from greenml.errors import InputError
from greenml.measure.sampler import Sampler

if TYPE_CHECKING:
    from greenml.catalog import Catalog
    from greenml.model import Region


class Tracker:
    """A measurement of what runs inside ``with``; ``record`` is set on leaving it (also
    when the block raises): the sampler's record, ``pricing`` (PUE and intensity with their
    sources, kWh including PUE, kg CO2e) or ``why_not_priced``."""

    def __init__(self, region: str | None = None, provider: str | None = None, *,
                 interval_s: float | None = None, catalog: Catalog | None = None) -> None:
        self.region = find_region(region, provider, catalog)
        if interval_s is not None and (isinstance(interval_s, bool)
                                       or not isinstance(interval_s, (int, float))
                                       or not 0.01 <= interval_s <= 3600):
            raise InputError("interval_s", f"must be seconds between 0.01 and 3600, got "
                                           f"{interval_s!r}")
        self.interval_s = interval_s
        self.record: dict[str, Any] | None = None
        self._sampler: Sampler | None = None

    def __enter__(self) -> Tracker:
        self._sampler = Sampler(self.interval_s)
        self._sampler.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._sampler is not None:
            self.finish(self._sampler.stop())

    def finish(self, measured: dict[str, Any]) -> dict[str, Any]:
        """The sampler's record priced for this tracker's region; also kept as ``record``."""
        self.record = priced(measured, self.region)
        return self.record


def track(region: str | None = None, provider: str | None = None, *,
          interval_s: float | None = None, catalog: Catalog | None = None) -> Tracker:
    """Measure the energy of the ``with`` block on this machine, priced with ``region``'s
    PUE and grid intensity (``provider`` where region names repeat; an on-prem site is a
    region of its provider). ``t.record`` holds the result after the block.

    Raises InputError for an unknown region or provider (naming the closest) or a region
    name several providers share without ``provider``.
    """
    return Tracker(region, provider, interval_s=interval_s, catalog=catalog)


def find_region(name: str | None, provider: str | None, catalog: Catalog | None) -> Region | None:
    """The catalog's region ``name`` (of ``provider``), or None when no region is named."""
    for field, value in (("region", name), ("provider", provider)):
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise InputError(field, f"must be a name, got {value!r}")
    if name is None:
        if provider is not None:
            raise InputError("region", f"name a region of {provider!r} to price the energy")
        return None
    if catalog is None:
        from greenml import registry

        catalog = registry.default().catalog
    return catalog.find_region(name, provider)


def priced(measured: dict[str, Any], region: Region | None) -> dict[str, Any]:
    """``measured`` with the region's PUE and intensity applied to its kWh, each sourced."""
    out = dict(measured)
    it_kwh = (measured.get("kwh") or {}).get("total")
    if region is None:
        out["why_not_priced"] = "no region named: give region= (and provider=) to price it"
        return out
    where = {"provider": region.provider, "region": region.name, "location": region.location}
    if region.intensity is None:
        out["why_not_priced"] = (f"{region.provider}/{region.name} has no grid intensity in "
                                 "the catalog's dataset")
        out["pricing"] = where
        return out
    grid = region.intensity
    pricing: dict[str, Any] = {
        **where,
        "pue": {"value": region.pue.value, "source": region.pue.source,
                "year": region.pue.year},
        "intensity": {"g_per_kwh": grid.g_per_kwh, "source": grid.source, "year": grid.year,
                      "dataset": grid.dataset, "signal": grid.signal, "kind": grid.kind,
                      "zone": grid.zone, "scope": grid.scope}}
    if it_kwh is None or not math.isfinite(it_kwh):
        out["why_not_priced"] = "nothing was measured"
    else:
        pricing["energy_kwh"] = it_kwh * region.pue.value
        pricing["co2e_kg"] = pricing["energy_kwh"] * grid.g_per_kwh / 1000
        pricing["method"] = "measured kWh x PUE x grid intensity (gross)"
    out["pricing"] = pricing
    return out


def summary(record: dict[str, Any]) -> str:
    """A few lines for a terminal: hours, kWh per class, and the priced figure or why not."""
    from greenml.plan.statement import number

    kwh = record.get("kwh") or {}
    lines = [f"greenml track: {number(record['hours'])} h"]
    if record.get("nothing_measured"):
        lines.append(f"  nothing measured: {record['nothing_measured']}")
    else:
        parts = ", ".join(f"{k.upper()} {number(v)}" for k, v in kwh.items() if k != "total")
        lines.append(f"  measured {number(kwh['total'])} kWh ({parts}); "
                     f"{len(record['devices'])} device(s): "
                     f"{', '.join(sorted({d['method'] for d in record['devices']}))}")
        lines += [f"  not measured: {u['why']}" for u in record.get("unmeasured") or ()]
    p = record.get("pricing") or {}
    if "co2e_kg" in p:
        lines.append(f"  {number(p['co2e_kg'])} kg CO2e (gross) = {number(p['energy_kwh'])} kWh "
                     f"incl. PUE {p['pue']['value']:g} x {p['intensity']['g_per_kwh']:g} g "
                     f"CO2e/kWh in {p['provider']} {p['region']}")
        lines.append(f"  PUE: {p['pue']['source']} ({p['pue']['year']})")
        lines.append(f"  grid: {p['intensity']['dataset'] or 'catalog'}: "
                     f"{p['intensity']['source']} ({p['intensity']['year']})")
    else:
        lines.append(f"  not priced: {record.get('why_not_priced', '')}")
    return "\n".join(lines)
