"""What the installed plugins provide, gathered once: providers, regions, offers, accelerators,
carbon sources, and the catalog made of them.

The one place that knows both the plugin manager (``plugins``) and the catalog: the
catalog is a plain value (``catalog``), the plugin machinery knows nothing of catalogs, and
this module joins them. A plugin that raises or returns bad data is recorded as a problem
(shown by ``greenml plugins`` and in every plan's ``excluded``) and the rest is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from greenml import offer_table, plugins
from greenml.accelerator import Accelerator
from greenml.carbon import CarbonSource
from greenml.catalog import Catalog
from greenml.environment import strict_plugins
from greenml.errors import ConfigError, PluginError
from greenml.model import PUE, Exclusion, Region
from greenml.offer_table import OfferTable
from greenml.provider import Provider
from greenml.provider.contract import PROVIDER_NAME


class Registry:
    """What the installed plugins provide, loaded once: the plugin set, the providers, the
    carbon sources and the catalog made of them (built on first use).

    greenml keeps one default registry per process (``default()``); a test or a long-lived
    service builds its own and passes it (``greenml.plan(job, registry=...)``), so nothing it
    registers leaks into another. ``disabled`` names plugins to leave unloaded.
    """

    def __init__(self, plugin_set: plugins.PluginSet | None = None, *,
                 disabled: Iterable[str] = ()) -> None:
        self.plugins = plugin_set if plugin_set is not None else plugins.PluginSet(disabled)
        self._catalog: Catalog | None = None

    @property
    def manager(self) -> Any:
        """pluggy's plugin manager (``register`` a plugin object on it before planning)."""
        return self.plugins.manager

    @property
    def catalog(self) -> Catalog:
        """Every installed plugin's catalog, gathered on first use."""
        if self._catalog is None:
            self._catalog = from_plugins(self.plugins)
        return self._catalog

    def forget_catalog(self) -> None:
        """Gather the catalog again on next use (after registering another plugin)."""
        self._catalog = None

    def providers(self) -> dict[str, Provider]:
        """Every installed provider by name, without building the catalog: all that ``down``
        and ``status --refresh`` need, so a plugin that breaks in its catalog, accelerators
        or carbon sources cannot stop them."""
        if self._catalog is not None:
            return self._catalog.providers
        providers, _ = _gather_providers(self.plugins, [])
        return providers

    def infos(self) -> list[plugins.PluginInfo]:
        """Every plugin, loaded, failed or switched off, with what it provides."""
        return infos(self)

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        self.plugins.notify(hook_name, **kwargs)

    def call_each(self, hook_name: str, **kwargs: Any
                  ) -> list[tuple[str, Any, BaseException | None]]:
        return self.plugins.call_each(hook_name, **kwargs)


#: The process's default registry, loaded on first use: the only module-level state.
_default: Registry | None = None


def default() -> Registry:
    """The process's registry of installed plugins, loaded on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def reset(*, disabled: Iterable[str] = ()) -> Registry | None:
    """Forget the default registry (tests, long-lived processes): plugins are loaded again on
    next use. With ``disabled``, load it now without those plugins, as ``--disable-plugin``
    does (each name is checked: an unknown one is an InputError naming the closest)."""
    global _default
    names = plugins.check_disable(disabled)
    _default = Registry(disabled=names) if names else None
    return _default


def default_catalog() -> Catalog:
    """The catalog of every installed plugin, built once per default registry."""
    return default().catalog


def clear_cache() -> None:
    """Gather the default registry's catalog again on next use."""
    if _default is not None:
        _default.forget_catalog()


def installed_providers() -> dict[str, Provider]:
    """The default registry's providers (see ``Registry.providers``)."""
    return default().providers()


def from_plugins(plugin_set: plugins.PluginSet) -> Catalog:
    """Gather every plugin's contribution, isolating each plugin's failures."""
    problems = [
        Exclusion("plugin", f"plugin failed to load ({f.distribution} {f.version}): {f.error}",
                  provider=f.name)
        for f in plugin_set.failures
    ]
    accelerators = _gather_accelerators(plugin_set, problems)
    providers, owners = _gather_providers(plugin_set, problems)
    known_accelerators = {a.name for a in accelerators}
    regions: list[Region] = []
    offers: list[OfferTable] = []
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
        regions.extend(_with_plugin_pue(plugin_set, p_regions, problems))
        offers.append(p_offers)
    sources = _gather_sources(plugin_set, problems)
    # every region measured with the default dataset, exactly as Catalog.with_dataset does
    return Catalog(regions, OfferTable.concat(offers), accelerators, sources, providers,
                   owners, problems).with_dataset(None)


def _taken(plugin_set: plugins.PluginSet, kind: str, names: Iterable[str], plugin: str,
           owners: dict[str, str], problems: list[Exclusion]) -> bool:
    """Whether one of ``names`` is taken already. The plugin that loaded first keeps a name
    (greenml's own load first, see ``plugins.FIRST_PARTY``); a later claim is refused, with
    the reason recorded against the later plugin, and everything else of it is kept.
    ``GREENML_STRICT_PLUGINS=1`` makes a claim on a taken name an error naming both."""
    names = list(names)
    for name in names:
        first = owners.get(name)
        if first is None:
            continue
        if strict_plugins():
            raise PluginError(f"{kind} {name!r} is registered by more than one plugin: "
                              f"{first}, {plugin}")
        dist, version = plugin_set.distribution_of(first)
        problems.append(Exclusion("plugin", f"{kind} {name!r} refused: plugin {first} "
                                  f"({dist} {version}) provides it already", provider=plugin))
        return True
    owners.update(dict.fromkeys(names, plugin))
    return False


def _answers(plugin_set: plugins.PluginSet, hook: str, kind: type, problems: list[Exclusion]
             ) -> list[tuple[str, list[Any]]]:
    """Each plugin's valid items from ``hook``, in load order: pluggy calls the plugin loaded
    last first, but a name belongs to the plugin that loaded first."""
    return [(plugin, _items(plugin, hook, result, error, kind, problems))
            for plugin, result, error in reversed(plugin_set.call_each(hook))]


def _in_call_order(kept: list[tuple[str, list[Any]]]) -> list[Any]:
    """The kept items in the order pluggy calls their plugins (as before names were checked)."""
    return [item for _, items in reversed(kept) for item in items]


def _gather_accelerators(plugin_set: plugins.PluginSet, problems: list[Exclusion]
                         ) -> list[Accelerator]:
    owners: dict[str, str] = {}
    kept = [(plugin, [acc for acc in items if not _taken(
                plugin_set, "accelerator name or alias",
                dict.fromkeys([acc.name.lower(), *(a.lower() for a in acc.aliases)]),
                plugin, owners, problems)])
            for plugin, items in _answers(plugin_set, "greenml_accelerators", Accelerator,
                                          problems)]
    return _in_call_order(kept)


def _valid_provider_name(plugin: str, provider: Provider, problems: list[Exclusion]) -> bool:
    name = provider.name
    if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
        problems.append(Exclusion(
            "plugin", f"plugin {plugin} registered a provider with invalid name {name!r} "
            "(must be lower-case letters, digits and '-')", provider=plugin))
        return False
    return True


def _gather_providers(plugin_set: plugins.PluginSet, problems: list[Exclusion]
                      ) -> tuple[dict[str, Provider], dict[str, str]]:
    owners: dict[str, str] = {}
    kept = [(plugin, [p for p in items if _valid_provider_name(plugin, p, problems)
                      and not _taken(plugin_set, "provider", [p.name], plugin, owners, problems)])
            for plugin, items in _answers(plugin_set, "greenml_providers", Provider, problems)]
    providers = {p.name: p for p in _in_call_order(kept)}
    return providers, {name: owners[name] for name in providers}


def _gather_sources(plugin_set: plugins.PluginSet, problems: list[Exclusion]
                    ) -> list[CarbonSource]:
    owners: dict[str, str] = {}
    kept = [(plugin, [s for s in items
                      if not _taken(plugin_set, "carbon source", [s.name], plugin, owners,
                                    problems)])
            for plugin, items in _answers(plugin_set, "greenml_carbon_sources", CarbonSource,
                                          problems)]
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
        if strict_plugins():
            raise PluginError(f"{hook} in plugin {plugin} returned {bad[0]!r}, "
                              f"not a {kind.__name__}")
        problems.append(Exclusion("plugin", f"{hook} in plugin {plugin} returned {len(bad)} "
                                  f"item(s) that are not {kind.__name__}, e.g. {bad[0]!r}",
                                  provider=plugin))
    return good


def _provider_catalog(
    provider: Provider, known_accelerators: set[str]
) -> tuple[Sequence[Region], OfferTable]:
    """A provider's regions and offers, checked against each other and the accelerators."""
    regions = tuple(provider.regions())
    offers = provider.offers()
    for region in regions:
        if not isinstance(region, Region) or region.provider != provider.name:
            raise PluginError(f"{region!r} is not a Region of provider {provider.name!r}")
    names = {r.name for r in regions}
    return regions, offer_table.checked(provider.name, offers, names, known_accelerators)


def _with_plugin_pue(plugin_set: plugins.PluginSet, regions: Sequence[Region],
                     problems: list[Exclusion]) -> list[Region]:
    """Let ``greenml_pue`` implementations replace a region's catalog PUE."""
    hook = plugin_set.manager.hook.greenml_pue
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


def infos(registry: Registry | None = None) -> list[plugins.PluginInfo]:
    """Every plugin, loaded or failed, with its distribution, version, hooks and providers."""
    from greenml.scrub import scrub

    registry = registry if registry is not None else default()
    plugin_set = registry.plugins
    pm = plugin_set.manager
    owners = registry.catalog.owners
    sources = _carbon_sources(plugin_set)
    problems = _problems_by_plugin(registry, owners)
    out = []
    for name, plugin in pm.list_name_plugin():
        dist, version = plugin_set.distribution_of(name)
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        providers = tuple(sorted(p for p, owner in owners.items() if owner == name))
        out.append(plugins.PluginInfo(name, dist, version, hooks, providers,
                                      error="; ".join(problems.get(name, ())),
                                      carbon_sources=tuple(sources.get(name, ()))))
    # what a plugin or a source says (an exception, a credentials check) may quote a secret
    return [attrs.evolve(i, error=scrub(i.error),
                         carbon_sources=tuple(scrub(c) for c in i.carbon_sources))
            for i in out + plugin_set.failures + plugin_set.disabled]


def _problems_by_plugin(registry: Registry, owners: dict[str, str]) -> dict[str, list[str]]:
    """Bad data a loaded plugin returned (recorded by the catalog), keyed by plugin name."""
    out: dict[str, list[str]] = {}
    failed = {f.name for f in registry.plugins.failures}
    for problem in registry.catalog.problems:
        if problem.field == "plugin" and problem.provider not in failed:
            out.setdefault(owners.get(problem.provider, problem.provider), []).append(
                problem.reason)
    return out


def _carbon_sources(plugin_set: plugins.PluginSet) -> dict[str, list[str]]:
    """Plugin name -> "source (signal): ready ..." or why it is not, per carbon source."""
    out: dict[str, list[str]] = {}
    for name, result, error in plugin_set.call_each("greenml_carbon_sources"):
        for source in (result or ()) if error is None else ():
            if not isinstance(source, CarbonSource):
                continue
            try:
                with plugins.watching_ctrl_c():
                    ok, reason = source.check_credentials()
            except BaseException as exc:  # a listing never fails, not even in strict mode
                if not isinstance(exc, Exception):
                    plugins.raise_unless_plugin_fault(exc)
                ok, reason = False, f"check_credentials failed: {type(exc).__name__}"
            state = f"ready; {reason}" if ok else reason
            out.setdefault(name, []).append(f"{source.name} ({source.signal}): {state}")
    return out
