"""The plugin manager: built-ins first, then each ``greenml`` entry point in its own try.

A plugin that fails to import is recorded (distribution, version, error) and skipped, so one
broken plugin never takes the host down; ``GREENML_STRICT_PLUGINS=1`` re-raises instead.
``GREENML_TRACE_HOOKS=1`` prints every hook call and its result to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "greenml"
DEFAULT_PLUGINS = (
    "greenml.default_plugins.accelerators",
    "greenml.default_plugins.carbon",
    "greenml.default_plugins.electricitymaps",
    "greenml.default_plugins.watttime",
    "greenml.default_plugins.ukgrid",
)


@attrs.frozen
class PluginInfo:
    """What ``greenml plugins`` shows for one plugin."""

    name: str
    distribution: str = ""
    version: str = ""
    hooks: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    error: str = ""
    carbon_sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


_manager: pluggy.PluginManager | None = None
_failures: list[PluginInfo] = []
_distributions: dict[str, tuple[str, str]] = {}


def strict() -> bool:
    return os.environ.get("GREENML_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loaded on first use (importing greenml stays cheap)."""
    global _manager
    if _manager is None:
        _manager = _load()
    return _manager


def reset() -> None:
    """Forget loaded plugins and every catalog built from them (tests, long-lived processes)."""
    global _manager
    _manager = None
    _failures.clear()
    _distributions.clear()
    from . import catalog

    catalog.clear_cache()


def failures() -> list[PluginInfo]:
    """Plugins that failed to load, each with its error."""
    get_plugin_manager()
    return list(_failures)


def _load() -> pluggy.PluginManager:
    import importlib
    from importlib import metadata

    pm = pluggy.PluginManager("greenml")
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if not os.environ.get("GREENML_DISABLE_PLUGINS"):
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            _load_entry_point(pm, entry_point)
    if os.environ.get("GREENML_TRACE_HOOKS"):
        pm.add_hookcall_monitoring(lambda *args: None, _trace_call)
    return pm


def _trace_call(outcome: pluggy.Result[Any], hook_name: str,
                hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
    """One line per hook call through the manager: arguments, implementations, result."""
    impls = ", ".join(i.plugin_name for i in reversed(hook_impls))
    error = outcome.exception
    result = (f"raised {type(error).__name__}: {error}" if error is not None
              else f"-> {outcome.get_result()!r}")
    _trace(f"{_call_text(hook_name, kwargs)} [{impls}] {result}"[:500])


def _call_text(hook_name: str, kwargs: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}"[:200] for k, v in kwargs.items())
    return f"{hook_name}({args})"


def _load_entry_point(pm: pluggy.PluginManager, entry_point: Any) -> None:
    dist = entry_point.dist
    dist_name = dist.metadata["Name"] if dist is not None else ""
    version = dist.version if dist is not None else ""
    if pm.has_plugin(entry_point.name):
        return
    try:
        module = entry_point.load()
        pm.register(module, name=entry_point.name)
        try:
            pm.check_pending()
        except pluggy.PluginValidationError:
            pm.unregister(name=entry_point.name)
            raise
    except Exception as exc:
        if strict():
            raise
        _failures.append(
            PluginInfo(entry_point.name, dist_name, version, error=f"{type(exc).__name__}: {exc}")
        )
        return
    _distributions[entry_point.name] = (dist_name, version)


def distribution_of(plugin_name: str) -> tuple[str, str]:
    """(distribution, version) of a loaded plugin; built-ins belong to greenml itself."""
    get_plugin_manager()
    if plugin_name in _distributions:
        return _distributions[plugin_name]
    from . import __version__

    return "greenml", __version__


def call_each(hook_name: str, **kwargs: Any) -> list[tuple[str, Any, BaseException | None]]:
    """Call a hook implementation by implementation, so one failing plugin spoils nothing else.

    Returns ``(plugin name, result, error)`` for each implementation, in call order.
    """
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    results: list[tuple[str, Any, BaseException | None]] = []
    for impl in reversed(caller.get_hookimpls()):
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        args = {k: v for k, v in kwargs.items() if k in impl.argnames}
        try:
            result = impl.function(**args)
        except Exception as exc:
            if strict():
                raise
            results.append((name, None, exc))
            _trace(f"{_call_text(hook_name, args)} [{name}] raised {type(exc).__name__}: {exc}")
            continue
        results.append((name, result, None))
        _trace(f"{_call_text(hook_name, args)} [{name}] -> {result!r}"[:500])
    return results


def _trace(line: str) -> None:
    if os.environ.get("GREENML_TRACE_HOOKS"):
        sys.stderr.write(f"greenml hook: {line}\n")


def infos() -> list[PluginInfo]:
    """Every plugin, loaded or failed, with its distribution, version, hooks and providers."""
    pm = get_plugin_manager()
    from .catalog import provider_owners

    owners = provider_owners()
    sources = _carbon_sources()
    problems = _problems_by_plugin(owners)
    out = []
    for name, plugin in pm.list_name_plugin():
        dist, version = distribution_of(name)
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        providers = tuple(sorted(p for p, owner in owners.items() if owner == name))
        out.append(PluginInfo(name, dist, version, hooks, providers,
                              error="; ".join(problems.get(name, ())),
                              carbon_sources=tuple(sources.get(name, ()))))
    return out + list(_failures)


def _problems_by_plugin(owners: dict[str, str]) -> dict[str, list[str]]:
    """Bad data a loaded plugin returned (recorded by the catalog), keyed by plugin name."""
    from .catalog import default_catalog

    out: dict[str, list[str]] = {}
    for problem in default_catalog().problems:
        if problem.field == "plugin" and problem.provider not in {f.name for f in _failures}:
            out.setdefault(owners.get(problem.provider, problem.provider), []).append(
                problem.reason)
    return out


def _carbon_sources() -> dict[str, list[str]]:
    """Plugin name -> "source (signal): ready ..." or why it is not, per carbon source."""
    from .carbon import CarbonSource

    out: dict[str, list[str]] = {}
    for name, result, error in call_each("greenml_carbon_sources"):
        for source in (result or ()) if error is None else ():
            if not isinstance(source, CarbonSource):
                continue
            try:
                ok, reason = source.check_credentials()
            except Exception as exc:
                ok, reason = False, f"check_credentials failed: {type(exc).__name__}"
            state = f"ready; {reason}" if ok else reason
            out.setdefault(name, []).append(f"{source.name} ({source.signal}): {state}")
    return out


def check_unique(kind: str, owners: dict[str, list[str]]) -> None:
    """Two plugins claiming one name is an error that names both."""
    for name, plugins in owners.items():
        if len(plugins) > 1:
            raise PluginError(
                f"{kind} {name!r} is registered by more than one plugin: {', '.join(plugins)}"
            )


def notify(hook_name: str, **kwargs: Any) -> None:
    """Fire a notification hook; a failing listener is reported as a warning, never raised,
    so a broken notifier cannot fail a plan or a launch (strict mode re-raises)."""
    import warnings

    for plugin, _, error in call_each(hook_name, **kwargs):
        if error is not None:
            warnings.warn(f"{hook_name} failed in plugin {plugin}: {type(error).__name__}: "
                          f"{error}", RuntimeWarning, stacklevel=2)
