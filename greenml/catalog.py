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
from .errors import ConfigError, InputError, PluginError, closest
from .model import PUE, Accelerator, Exclusion, Offer, Region
from .provider import Provider

if TYPE_CHECKING:
    import numpy as np

    from .job import Job


def _as_tuple(name: str, items: Any) -> tuple[Any, ...]:
    """A tuple of ``items``; anything not a sequence is an InputError naming the field."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InputError(name, f"must be a sequence of greenml values, got {items!r}")
    return tuple(items)


# Named converters, one per field, so that an error names its field (and mypy's attrs
# plugin can read them).
def _regions(items: Any) -> tuple[Region, ...]:
    return _as_tuple("regions", items)


def _offers(items: Any) -> tuple[Offer, ...]:
    return _as_tuple("offers", items)


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
    offers: tuple[Offer, ...] = attrs.field(converter=_offers)
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
    _intensity_columns: dict[str, np.ndarray] = attrs.field(factory=dict, init=False,
                                                             repr=False)

    def with_dataset(self, name: str | None) -> Catalog:
        """This catalog with every region's intensity taken from dataset ``name``.

        Regions the dataset has no figure for get None (plans leave them out, saying why);
        nothing is filled from another dataset. Built once per dataset and kept.
        """
        from . import datasets

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

            from . import datasets

            chosen = datasets.get(name)
            self._intensity_columns[name] = np.array(
                [chosen.g_per_kwh(r) if chosen.g_per_kwh(r) is not None else np.nan
                 for r in self.regions], dtype=np.float64)
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
        from . import datasets

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
                [r.intensity.g_per_kwh if r.intensity is not None else nan
                 for r in catalog.regions], dtype=np.float64,
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


def installed_providers() -> dict[str, Provider]:
    """Every installed provider by name, without building the catalog: all that ``down`` and
    ``status --refresh`` need, so a plugin that breaks in its catalog, accelerators or carbon
    sources cannot stop them."""
    if _default is not None:
        return _default.providers
    providers, _ = _gather_providers([])
    return providers


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
            with plugins.watching_ctrl_c():
                p_regions, p_offers = _provider_catalog(provider, known_accelerators)
        except ConfigError:
            raise  # the user's own file is wrong (an inventory): say so, exit 2
        except BaseException as exc:
            plugins.raise_unless_plugin_fault(exc)
            why = str(exc) if isinstance(exc, Exception) else plugins.describe(exc)
            problems.append(Exclusion(
                "plugin", f"provider {name!r} ({owners[name]}) returned bad data: {why}",
                provider=name))
            continue
        regions.extend(_with_plugin_pue(p_regions, problems))
        offers.extend(p_offers)
    sources = _gather_sources(problems)
    from . import datasets

    default = datasets.get(None)
    regions = [attrs.evolve(r, intensity=default.intensity(r)) for r in regions]
    return Catalog(regions, offers, accelerators, sources, providers, owners, problems,
                   carbon_data=default.name)


def _taken(kind: str, names: Iterable[str], plugin: str, owners: dict[str, str],
           problems: list[Exclusion]) -> bool:
    """Whether one of ``names`` is taken already. The plugin that loaded first keeps a name
    (greenml's own load first, see ``plugins.FIRST_PARTY``); a later claim is refused, with
    the reason recorded against the later plugin, and everything else of it is kept.
    ``GREENML_STRICT_PLUGINS=1`` makes a claim on a taken name an error naming both."""
    names = list(names)
    for name in names:
        first = owners.get(name)
        if first is None:
            continue
        if plugins.strict():
            raise PluginError(f"{kind} {name!r} is registered by more than one plugin: "
                              f"{first}, {plugin}")
        dist, version = plugins.distribution_of(first)
        problems.append(Exclusion("plugin", f"{kind} {name!r} refused: plugin {first} "
                                  f"({dist} {version}) provides it already", provider=plugin))
        return True
    owners.update(dict.fromkeys(names, plugin))
    return False


def _answers(hook: str, kind: type, problems: list[Exclusion]
             ) -> list[tuple[str, list[Any]]]:
    """Each plugin's valid items from ``hook``, in load order: pluggy calls the plugin loaded
    last first, but a name belongs to the plugin that loaded first."""
    return [(plugin, _items(plugin, hook, result, error, kind, problems))
            for plugin, result, error in reversed(plugins.call_each(hook))]


def _in_call_order(kept: list[tuple[str, list[Any]]]) -> list[Any]:
    """The kept items in the order pluggy calls their plugins (as before names were checked)."""
    return [item for _, items in reversed(kept) for item in items]


def _gather_accelerators(problems: list[Exclusion]) -> list[Accelerator]:
    owners: dict[str, str] = {}
    kept = [(plugin, [acc for acc in items if not _taken(
                "accelerator name or alias",
                dict.fromkeys([acc.name.lower(), *(a.lower() for a in acc.aliases)]),
                plugin, owners, problems)])
            for plugin, items in _answers("greenml_accelerators", Accelerator, problems)]
    return _in_call_order(kept)


def _valid_provider_name(plugin: str, provider: Provider, problems: list[Exclusion]) -> bool:
    name = provider.name
    if not name or name != name.lower() or not name.replace("-", "").isalnum():
        problems.append(Exclusion(
            "plugin", f"plugin {plugin} registered a provider with invalid name {name!r} "
            "(must be lower-case letters, digits and '-')", provider=plugin))
        return False
    return True


def _gather_providers(problems: list[Exclusion]) -> tuple[dict[str, Provider], dict[str, str]]:
    owners: dict[str, str] = {}
    kept = [(plugin, [p for p in items if _valid_provider_name(plugin, p, problems)
                      and not _taken("provider", [p.name], plugin, owners, problems)])
            for plugin, items in _answers("greenml_providers", Provider, problems)]
    providers = {p.name: p for p in _in_call_order(kept)}
    return providers, {name: owners[name] for name in providers}


def _gather_sources(problems: list[Exclusion]) -> list[CarbonSource]:
    owners: dict[str, str] = {}
    kept = [(plugin, [s for s in items
                      if not _taken("carbon source", [s.name], plugin, owners, problems)])
            for plugin, items in _answers("greenml_carbon_sources", CarbonSource, problems)]
    return _in_call_order(kept)


def _items(plugin: str, hook: str, result: Any, error: BaseException | None, kind: type,
           problems: list[Exclusion]) -> list[Any]:
    """The valid items a hook returned; anything else becomes a recorded problem."""
    if error is not None:
        problems.append(Exclusion("plugin", f"{hook} failed in plugin {plugin}: "
                                  f"{plugins.describe(error)}", provider=plugin))
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
            with plugins.watching_ctrl_c():
                better = hook(region=region)
        except BaseException as exc:
            plugins.raise_unless_plugin_fault(exc)
            why = str(exc) if isinstance(exc, Exception) else plugins.describe(exc)
            problems.append(Exclusion("plugin", f"greenml_pue failed for {region.name}: {why}",
                                      provider=region.provider, region=region.name))
            better = None
        out.append(attrs.evolve(region, pue=better) if isinstance(better, PUE) else region)
    return out
