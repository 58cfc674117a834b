"""Everything the plugins know, gathered once: providers, regions, offers, accelerators, sources.

A plugin that raises or returns bad data is recorded as a problem (shown by ``greenml
plugins`` and in every plan's ``excluded``) and the rest of the catalog is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from . import plugins
from .carbon import CarbonSource
from .errors import InputError, PluginError, closest
from .model import PUE, Accelerator, Exclusion, Offer, Region
from .provider import Provider

if TYPE_CHECKING:
    import numpy as np

    from .job import Job


def _tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


@attrs.define(eq=False)
class Catalog:
    """An immutable snapshot of what can be planned; build one by hand for what-ifs and tests."""

    regions: tuple[Region, ...] = attrs.field(converter=_tuple)
    offers: tuple[Offer, ...] = attrs.field(converter=_tuple)
    accelerators: tuple[Accelerator, ...] = attrs.field(converter=_tuple)
    carbon_sources: tuple[CarbonSource, ...] = attrs.field(default=(), converter=_tuple)
    providers: dict[str, Provider] = attrs.field(factory=dict)
    owners: dict[str, str] = attrs.field(factory=dict)
    problems: tuple[Exclusion, ...] = attrs.field(default=(), converter=_tuple)

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

    def family_members(self, name: str, field: str = "accelerator") -> list[Accelerator]:
        """The accelerators a name stands for: a whole family when it names one, else itself;
        a series name such as ``TPU`` stands for every family called ``TPU-...``."""
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
        n = len(catalog.offers)
        offer_acc = np.empty(n, dtype=np.int32)
        offer_region = np.empty(n, dtype=np.int32)
        per_instance = np.empty(n, dtype=np.float64)
        max_instances = np.empty(n, dtype=np.float64)
        ondemand = np.empty(n, dtype=np.float64)
        spot = np.empty(n, dtype=np.float64)
        nan = float("nan")
        for i, o in enumerate(catalog.offers):
            offer_acc[i] = acc_pos[o.accelerator]
            offer_region[i] = region_pos[(o.provider, o.region)]
            per_instance[i] = o.accelerators_per_instance
            max_instances[i] = o.max_instances or np.inf
            ondemand[i] = o.ondemand_usd_per_hour or nan
            spot[i] = o.spot_usd_per_hour or nan
        powers = [a.power() for a in catalog.accelerators]
        return cls(
            offer_accelerator=offer_acc,
            offer_region=offer_region,
            per_instance=per_instance,
            max_instances=max_instances,
            ondemand_usd=ondemand,
            spot_usd=spot,
            region_pue=np.array([r.pue.value for r in catalog.regions], dtype=np.float64),
            region_intensity=np.array(
                [r.intensity.g_per_kwh for r in catalog.regions], dtype=np.float64
            ),
            accelerator_power_w=np.array([p.value if p else nan for p in powers]),
            accelerator_tflops=np.array([a.dense_tflops or nan for a in catalog.accelerators]),
            accelerator_memory_gb=np.array([a.memory_gb or nan for a in catalog.accelerators]),
        )


_default: Catalog | None = None


def default_catalog() -> Catalog:
    """The catalog of every installed plugin, built once per process."""
    global _default
    if _default is None:
        _default = from_plugins()
    return _default


def clear_cache() -> None:
    global _default
    _default = None


def provider_owners() -> dict[str, str]:
    return default_catalog().owners


def from_plugins() -> Catalog:
    """Gather every plugin's contribution, isolating each plugin's failures."""
    problems = [
        Exclusion("plugin", f"plugin failed to load ({f.distribution} {f.version}): {f.error}",
                  provider=f.name)
        for f in plugins.failures()
    ]
    accelerators = _gather_accelerators(problems)
    providers, owners = _gather_providers(problems)
    known_accelerators = {a.name for a in accelerators}
    regions: list[Region] = []
    offers: list[Offer] = []
    for name, provider in providers.items():
        try:
            p_regions, p_offers = _provider_catalog(provider, known_accelerators)
        except Exception as exc:
            if plugins.strict():
                raise
            problems.append(Exclusion(
                "plugin", f"provider {name!r} ({owners[name]}) returned bad data: {exc}",
                provider=name))
            continue
        regions.extend(_with_plugin_pue(p_regions, problems))
        offers.extend(p_offers)
    sources = _gather_sources(problems)
    return Catalog(regions, offers, accelerators, sources, providers, owners, problems)


def _gather_accelerators(problems: list[Exclusion]) -> list[Accelerator]:
    owners: dict[str, list[str]] = {}
    out: list[Accelerator] = []
    for plugin, result, error in plugins.call_each("greenml_accelerators"):
        items = _items(plugin, "greenml_accelerators", result, error, Accelerator, problems)
        for acc in items:
            for key in {acc.name.lower(), *(a.lower() for a in acc.aliases)}:
                owners.setdefault(key, []).append(plugin)
            out.append(acc)
    plugins.check_unique("accelerator name or alias", owners)
    return out


def _gather_providers(problems: list[Exclusion]) -> tuple[dict[str, Provider], dict[str, str]]:
    providers: dict[str, Provider] = {}
    owners: dict[str, list[str]] = {}
    for plugin, result, error in plugins.call_each("greenml_providers"):
        for provider in _items(plugin, "greenml_providers", result, error, Provider, problems):
            name = provider.name
            if not name or name != name.lower() or not name.replace("-", "").isalnum():
                problems.append(Exclusion(
                    "plugin", f"plugin {plugin} registered a provider with invalid name {name!r} "
                    "(must be lower-case letters, digits and '-')", provider=plugin))
                continue
            owners.setdefault(name, []).append(plugin)
            providers[name] = provider
    plugins.check_unique("provider", owners)
    return providers, {name: plugs[0] for name, plugs in owners.items()}


def _gather_sources(problems: list[Exclusion]) -> list[CarbonSource]:
    out: list[CarbonSource] = []
    owners: dict[str, list[str]] = {}
    for plugin, result, error in plugins.call_each("greenml_carbon_sources"):
        for source in _items(plugin, "greenml_carbon_sources", result, error, CarbonSource,
                             problems):
            owners.setdefault(source.name, []).append(plugin)
            out.append(source)
    plugins.check_unique("carbon source", owners)
    return out


def _items(plugin: str, hook: str, result: Any, error: BaseException | None, kind: type,
           problems: list[Exclusion]) -> list[Any]:
    """The valid items a hook returned; anything else becomes a recorded problem."""
    if error is not None:
        problems.append(Exclusion("plugin", f"{hook} failed in plugin {plugin}: "
                                  f"{type(error).__name__}: {error}", provider=plugin))
        return []
    if result is None:
        return []
    if not isinstance(result, Iterable):
        problems.append(Exclusion("plugin", f"{hook} in plugin {plugin} returned "
                                  f"{type(result).__name__}, not a list", provider=plugin))
        return []
    good: list[Any] = []
    bad: list[Any] = []
    for item in result:
        (good if isinstance(item, kind) else bad).append(item)
    if bad:
        if plugins.strict():
            raise PluginError(f"{hook} in plugin {plugin} returned {bad[0]!r}, "
                              f"not a {kind.__name__}")
        problems.append(Exclusion("plugin", f"{hook} in plugin {plugin} returned {len(bad)} "
                                  f"item(s) that are not {kind.__name__}, e.g. {bad[0]!r}",
                                  provider=plugin))
    return good


def _provider_catalog(
    provider: Provider, known_accelerators: set[str]
) -> tuple[Sequence[Region], Sequence[Offer]]:
    """A provider's regions and offers, checked against each other and the accelerators."""
    regions = tuple(provider.regions())
    offers = tuple(provider.offers())
    for region in regions:
        if not isinstance(region, Region) or region.provider != provider.name:
            raise PluginError(f"{region!r} is not a Region of provider {provider.name!r}")
    names = {r.name for r in regions}
    for offer in offers:
        if not isinstance(offer, Offer) or offer.provider != provider.name:
            raise PluginError(f"{offer!r} is not an Offer of provider {provider.name!r}")
        if offer.region not in names:
            raise PluginError(f"offer {offer.instance_type} is in unknown region {offer.region!r}")
        if offer.accelerator not in known_accelerators:
            raise PluginError(f"offer {offer.instance_type} names unknown accelerator "
                              f"{offer.accelerator!r}")
    return regions, offers


def _with_plugin_pue(regions: Sequence[Region], problems: list[Exclusion]) -> list[Region]:
    """Let ``greenml_pue`` implementations replace a region's catalog PUE."""
    hook = plugins.get_plugin_manager().hook.greenml_pue
    if not hook.get_hookimpls():
        return list(regions)
    out = []
    for region in regions:
        try:
            better = hook(region=region)
        except Exception as exc:
            if plugins.strict():
                raise
            problems.append(Exclusion("plugin", f"greenml_pue failed for {region.name}: {exc}",
                                      provider=region.provider, region=region.name))
            better = None
        out.append(attrs.evolve(region, pue=better) if isinstance(better, PUE) else region)
    return out
