"""Everything the plugins know, gathered once: providers, regions, offers, accelerators, sources.

A plugin that raises or returns bad data is recorded as a problem (shown by ``greenml
plugins`` and in every plan's ``excluded``) and the rest of the catalog is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from greenml.accelerator import Accelerator
from greenml.carbon import CarbonSource
from greenml.errors import InputError, closest
from greenml.model import Exclusion, Offer, Region
from greenml.offer_table import OfferTable
from greenml.provider import Provider

if TYPE_CHECKING:
    import numpy as np

    from greenml.job import Job


def _as_tuple(name: str, items: Any) -> tuple[Any, ...]:
    """A tuple of ``items``; anything not a sequence is an InputError naming the field."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InputError(name, f"must be a sequence of greenml values, got {items!r}")
    return tuple(items)


# Named converters, one per field, so that an error names its field (and mypy's attrs
# plugin can read them).
def _regions(items: Any) -> tuple[Region, ...]:
    return _as_tuple("regions", items)


def _offers(items: Any) -> Sequence[Offer]:
    """A catalog's offers: an ``OfferTable`` as it is (its rows are built when read), any
    other sequence as a tuple."""
    return items if isinstance(items, OfferTable) else _as_tuple("offers", items)


def _accelerators(items: Any) -> tuple[Accelerator, ...]:
    return _as_tuple("accelerators", items)


def _sources(items: Any) -> tuple[CarbonSource, ...]:
    return _as_tuple("carbon_sources", items)


def _problems(items: Any) -> tuple[Exclusion, ...]:
    return _as_tuple("problems", items)


@attrs.define(eq=False)
class Catalog:
    """An immutable snapshot of what can be planned; build one by hand for what-ifs and tests."""

    regions: tuple[Region, ...] = attrs.field(converter=_regions)
    offers: Sequence[Offer] = attrs.field(converter=_offers)
    accelerators: tuple[Accelerator, ...] = attrs.field(converter=_accelerators)
    carbon_sources: tuple[CarbonSource, ...] = attrs.field(
        default=(), converter=_sources)
    providers: dict[str, Provider] = attrs.field(factory=dict)
    owners: dict[str, str] = attrs.field(factory=dict)
    problems: tuple[Exclusion, ...] = attrs.field(default=(), converter=_problems)
    #: The dataset the regions' intensities come from (``greenml.datasets``); None: a
    #: hand-built catalog whose regions carry their own figures.
    carbon_data: str | None = None
    _derived: dict[str, Catalog] = attrs.field(factory=dict, init=False, repr=False)
    _families: dict[tuple[str, str], list[Accelerator]] = attrs.field(
        factory=dict, init=False, repr=False)
    _intensity_columns: dict[str, np.ndarray] = attrs.field(factory=dict, init=False,
                                                             repr=False)

    def with_dataset(self, name: str | None) -> Catalog:
        """This catalog with every region's intensity taken from dataset ``name``.

        Regions the dataset has no figure for get None (plans leave them out, saying why);
        nothing is filled from another dataset. Built once per dataset and kept.
        """
        from greenml import datasets

        chosen = datasets.get(name)
        if chosen.name == self.carbon_data:
            return self
        if chosen.name not in self._derived:
            self._derived[chosen.name] = Catalog(
                [attrs.evolve(r, intensity=chosen.intensity(r)) for r in self.regions],
                self.offers, self.accelerators, self.carbon_sources, self.providers,
                self.owners, self.problems, carbon_data=chosen.name)
        return self._derived[chosen.name]

    def intensity_column(self, name: str) -> np.ndarray:
        """g/kWh per region (NaN where missing) in dataset ``name``, computed once."""
        if name not in self._intensity_columns:
            import numpy as np

            from greenml import datasets

            chosen = datasets.get(name)
            figures = (chosen.g_per_kwh(r) for r in self.regions)
            self._intensity_columns[name] = np.array(
                [np.nan if v is None else v for v in figures], dtype=np.float64)
        return self._intensity_columns[name]

    @functools.cached_property
    def intensity_gaps(self) -> list[str]:
        """Per region: why it has no intensity in this catalog's dataset ("" where it has)."""
        return [self.intensity_gap(i) if r.intensity is None else ""
                for i, r in enumerate(self.regions)]

    def intensity_matrix(self, names: tuple[str, ...]) -> np.ndarray:
        """g/kWh per (dataset, region), rows in the order of ``names``; computed once."""
        key = "\n".join(names)
        if key not in self._intensity_columns:
            import numpy as np

            self._intensity_columns[key] = np.vstack([self.intensity_column(n) for n in names])
        return self._intensity_columns[key]

    def intensity_gap(self, position: int) -> str:
        """Why region ``position`` has no intensity in this catalog's dataset."""
        from greenml import datasets

        region = self.regions[position]
        if self.carbon_data is None:
            return f"{region.provider}/{region.name} carries no intensity figure"
        return datasets.get(self.carbon_data).why_missing(region)

    @functools.cached_property
    def accelerator_index(self) -> dict[str, int]:
        """Lower-case name or alias -> position in ``accelerators``."""
        index: dict[str, int] = {}
        for i, acc in enumerate(self.accelerators):
            for key in (acc.name, *acc.aliases):
                index.setdefault(key.lower(), i)
        return index

    @functools.cached_property
    def region_index(self) -> dict[tuple[str, str], int]:
        return {(r.provider, r.name): i for i, r in enumerate(self.regions)}

    def accelerator(self, name: str, field: str = "accelerator") -> Accelerator:
        """The accelerator called ``name`` (or an alias); unknown names suggest the closest."""
        i = self.accelerator_index.get(name.lower())
        if i is None:
            names = [a.name for a in self.accelerators]
            hints = closest(name, names + [al for a in self.accelerators for al in a.aliases])
            hints = list(dict.fromkeys(self.accelerators[self.accelerator_index[h.lower()]].name
                                       for h in hints))
            raise InputError(field, f"unknown accelerator {name!r}", hints)
        return self.accelerators[i]

    @functools.cached_property
    def every_region(self) -> tuple[np.ndarray, list[tuple[str, str]]]:
        """A region filter that keeps every region (a job with no place constraint)."""
        import numpy as np

        return np.ones(len(self.regions), dtype=bool), [("", "")] * len(self.regions)

    def family_members(self, name: str, field: str = "accelerator") -> list[Accelerator]:
        """The accelerators a name stands for: a whole family when it names one, else itself;
        a series name such as ``TPU`` stands for every family called ``TPU-...``."""
        key = (name.lower(), field)
        if key not in self._families:
            self._families[key] = self._family_members(name, field)
        return list(self._families[key])

    def _family_members(self, name: str, field: str) -> list[Accelerator]:
        series = [a for a in self.accelerators if a.family.lower().startswith(f"{name.lower()}-")]
        if series and name.lower() not in self.accelerator_index:
            return series
        acc = self.accelerator(name, field)
        if acc.family == acc.name:
            return [a for a in self.accelerators if a.family == acc.family]
        return [acc]

    def reference_for(self, job: Job) -> Accelerator | None:
        """The accelerator a job's ``hours`` were measured on (None when it has none).

        A series name (``TPU``) names no single accelerator: a FLOPs job needs no reference,
        an hours job must say which one with ``hours_on``.
        """
        name = job.reference_accelerator
        if name is None:
            return None
        if name.lower() in self.accelerator_index:
            return self.accelerator(name, "hours_on")
        if job.hours is None and self.family_members(name):
            return None
        if self.family_members(name):
            raise InputError("hours_on", f"{name!r} names several accelerators; say which one "
                             "the hours were measured on")
        return self.accelerator(name, "hours_on")

    def region(self, provider: str, name: str) -> Region:
        i = self.region_index.get((provider, name))
        if i is None:
            names = [r.name for r in self.regions if r.provider == provider]
            raise InputError("region", f"unknown {provider} region {name!r}", closest(name, names))
        return self.regions[i]

    def find_region(self, name: str, provider: str | None = None,
                    field: str = "region") -> Region:
        """The region called ``name`` (or ``provider/name``), of ``provider`` where names
        repeat; an unknown provider or region (under ``field``) names the closest."""
        if "/" in name and not provider:
            provider, _, name = name.partition("/")
        installed = self.provider_names()
        if provider and provider not in installed:
            raise InputError("provider", f"unknown provider {provider!r}; installed: "
                             f"{', '.join(installed) or 'none'}", closest(provider, installed))
        found = [r for r in self.regions
                 if r.name == name and (not provider or r.provider == provider)]
        if not found:
            known = {r.name for r in self.regions if not provider or r.provider == provider}
            raise InputError(field, f"unknown region {name!r}", closest(name, known, n=1))
        if len(found) > 1:
            raise InputError("provider", f"{name!r} is a region of "
                             f"{', '.join(r.provider for r in found)}: name its provider")
        return found[0]

    def provider_names(self) -> list[str]:
        return sorted({r.provider for r in self.regions})

    @functools.cached_property
    def columns(self) -> Columns:
        return Columns.build(self)


@attrs.define(eq=False)
class Columns:
    """The catalog as numpy arrays, so that a plan over a million offers is a few array passes."""

    offer_accelerator: np.ndarray
    offer_region: np.ndarray
    per_instance: np.ndarray
    max_instances: np.ndarray
    ondemand_usd: np.ndarray
    spot_usd: np.ndarray
    region_pue: np.ndarray
    region_intensity: np.ndarray
    accelerator_power_w: np.ndarray
    accelerator_tflops: np.ndarray
    accelerator_memory_gb: np.ndarray

    @classmethod
    def build(cls, catalog: Catalog) -> Columns:
        import numpy as np

        acc_pos = {a.name: i for i, a in enumerate(catalog.accelerators)}
        region_pos = catalog.region_index
        nan = float("nan")
        if isinstance(catalog.offers, OfferTable):  # straight from the columns: no Offer built
            offer_columns = catalog.offers.arrays(acc_pos, region_pos)
        else:
            n = len(catalog.offers)
            offer_acc = np.empty(n, dtype=np.int32)
            offer_region = np.empty(n, dtype=np.int32)
            per_instance = np.empty(n, dtype=np.float64)
            max_instances = np.empty(n, dtype=np.float64)
            ondemand = np.empty(n, dtype=np.float64)
            spot = np.empty(n, dtype=np.float64)
            for i, o in enumerate(catalog.offers):
                offer_acc[i] = acc_pos[o.accelerator]
                offer_region[i] = region_pos[(o.provider, o.region)]
                per_instance[i] = o.accelerators_per_instance
                max_instances[i] = o.max_instances or np.inf
                ondemand[i] = o.ondemand_usd_per_hour or nan
                spot[i] = o.spot_usd_per_hour or nan
            offer_columns = {"offer_accelerator": offer_acc, "offer_region": offer_region,
                             "per_instance": per_instance, "max_instances": max_instances,
                             "ondemand_usd": ondemand, "spot_usd": spot}
        powers = [a.power() for a in catalog.accelerators]
        return cls(
            **offer_columns,
            region_pue=np.array([r.pue.value for r in catalog.regions], dtype=np.float64),
            region_intensity=np.array(
                [r.intensity.g_per_kwh if r.intensity is not None else nan
                 for r in catalog.regions], dtype=np.float64,
            ),
            accelerator_power_w=np.array([p.value if p else nan for p in powers]),
            accelerator_tflops=np.array([a.dense_tflops or nan for a in catalog.accelerators]),
            accelerator_memory_gb=np.array([a.memory_gb or nan for a in catalog.accelerators]),
        )
