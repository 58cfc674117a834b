"""The plugin manager: built-ins first, then each ``greenml`` entry point in its own try.

A plugin that fails to import is recorded (distribution, version, error) and skipped, so one
broken plugin never takes the host down, not even one that calls ``sys.exit()`` or raises
``KeyboardInterrupt`` itself; ``GREENML_STRICT_PLUGINS=1`` re-raises instead. A real Ctrl-C
still stops greenml: a SIGINT handler is installed while plugin code runs, and only a
``KeyboardInterrupt`` that arrives with a received SIGINT is the user's.
``GREENML_DISABLE_PLUGINS`` and ``--disable-plugin`` leave plugins unloaded. A ``PluginSet``
holds what one registry loaded; this module keeps no state of its own.
``GREENML_TRACE_HOOKS=1`` prints every hook call and its result to stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

import attrs
import pluggy

from greenml import hookspecs
from greenml.environment import strict_plugins
from greenml.errors import InputError, closest

ENTRY_POINT_GROUP = "greenml"
DEFAULT_PLUGINS = (
    "greenml.accelerators",
    "greenml.carbon.embedded",
    "greenml.carbon.electricitymaps",
    "greenml.carbon.watttime",
    "greenml.carbon.ukgrid",
)
#: greenml's own provider distributions (``plugins/`` in its repository). They load before any
#: other plugin, so a third-party plugin cannot take their provider names; the others load in
#: the order of their distribution names, so which of two rival plugins wins does not depend
#: on the order of ``sys.path``.
FIRST_PARTY = ("greenml-aws", "greenml-gcp", "greenml-azure", "greenml-onprem")
#: ``GREENML_DISABLE_PLUGINS`` values that switch off every installed plugin (as before names
#: were accepted) and values that switch off none; anything else is a list of names.
DISABLE_ALL = ("1", "true", "yes", "all")
DISABLE_NONE = ("", "0", "false", "no")


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
    disabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class PluginSet:
    """The plugins one registry loaded: pluggy's manager, what failed, what was switched off.

    Built by ``greenml.registry.Registry`` (there is one default registry per process, and
    tests make their own); holds no state outside itself, so two sets never share plugins.
    ``switched_off`` names plugins to leave unloaded (entry-point or distribution names),
    besides those in ``GREENML_DISABLE_PLUGINS``.
    """

    def __init__(self, switched_off: Iterable[str] = ()) -> None:
        self.switched_off = frozenset(_normal(n) for n in switched_off)
        self.failures: list[PluginInfo] = []  #: plugins that failed to load, with the error
        self.disabled: list[PluginInfo] = []  #: installed plugins left unloaded
        self._distributions: dict[str, tuple[str, str]] = {}
        self.manager = self._load()

    def _load(self) -> pluggy.PluginManager:
        import importlib

        pm = pluggy.PluginManager("greenml")
        pm.add_hookspecs(hookspecs)
        for module_name in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
        with watching_ctrl_c():
            for entry_point in _entry_points():
                if _is_disabled(entry_point, self.switched_off):
                    dist = entry_point.dist
                    self.disabled.append(PluginInfo(
                        entry_point.name, dist.metadata["Name"] if dist is not None else "",
                        dist.version if dist is not None else "", disabled=True))
                    continue
                self._load_entry_point(pm, entry_point)
        if os.environ.get("GREENML_TRACE_HOOKS"):
            pm.add_hookcall_monitoring(lambda *args: None, _trace_call)
        return pm

    def _load_entry_point(self, pm: pluggy.PluginManager, entry_point: Any) -> None:
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
        except BaseException as exc:
            raise_unless_plugin_fault(exc)
            self.failures.append(PluginInfo(entry_point.name, dist_name, version,
                                            error=describe(exc)))
            return
        self._distributions[entry_point.name] = (dist_name, version)

    def distribution_of(self, plugin_name: str) -> tuple[str, str]:
        """(distribution, version) of a loaded plugin; built-ins belong to greenml itself."""
        if plugin_name in self._distributions:
            return self._distributions[plugin_name]
        from greenml import __version__

        return "greenml", __version__

    def call_each(self, hook_name: str, **kwargs: Any
                  ) -> list[tuple[str, Any, BaseException | None]]:
        """Call a hook implementation by implementation, so one failing plugin spoils
        nothing else. Returns ``(plugin name, result, error)`` for each, in call order."""
        pm = self.manager
        caller = getattr(pm.hook, hook_name)
        results: list[tuple[str, Any, BaseException | None]] = []
        with watching_ctrl_c():
            for impl in reversed(caller.get_hookimpls()):
                name = pm.get_name(impl.plugin) or repr(impl.plugin)
                args = {k: v for k, v in kwargs.items() if k in impl.argnames}
                try:
                    result = impl.function(**args)
                except BaseException as exc:
                    raise_unless_plugin_fault(exc)
                    results.append((name, None, exc))
                    _trace(f"{_call_text(hook_name, args)} [{name}] raised {describe(exc)}")
                    continue
                results.append((name, result, None))
                _trace(f"{_call_text(hook_name, args)} [{name}] -> {result!r}"[:500])
        return results

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Fire a notification hook; a failing listener is reported as a warning, never
        raised, so a broken notifier cannot fail a plan or a launch (strict mode re-raises)."""
        import warnings

        for plugin, _, error in self.call_each(hook_name, **kwargs):
            if error is not None:
                warnings.warn(f"{hook_name} failed in plugin {plugin}: "
                              f"{type(error).__name__}: {error}", RuntimeWarning, stacklevel=2)


def check_disable(names: Iterable[str]) -> list[str]:
    """The names ``--disable-plugin`` was given, each refused unless an installed plugin has
    it (entry-point name ``aws`` or distribution name ``greenml-aws``), naming the closest.
    ``GREENML_DISABLE_PLUGINS`` ignores unknown names instead, so a setting left in a shell
    profile never blocks a command."""
    wanted = [n.strip() for n in names if n.strip()]
    installed = _entry_points()
    known = {_normal(n): n for ep in installed for n in _names_of(ep)}
    for name in wanted:
        if _normal(name) not in known:
            listed = ", ".join(sorted(ep.name for ep in installed)) or "none"
            raise InputError("disable_plugin", f"no installed plugin named {name!r}; "
                             f"installed: {listed}", closest(name, known.values(), n=1))
    return wanted


def _normal(name: str) -> str:
    """A plugin or distribution name as packaging compares them (``Greenml_AWS`` is
    ``greenml-aws``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names_of(entry_point: Any) -> tuple[str, ...]:
    dist = entry_point.dist
    return (entry_point.name, *((dist.metadata["Name"],) if dist is not None else ()))


def _is_disabled(entry_point: Any, switched_off: frozenset[str]) -> bool:
    """Switched off by name (``--disable-plugin``) or ``GREENML_DISABLE_PLUGINS`` (``1``:
    every plugin)."""
    setting = os.environ.get("GREENML_DISABLE_PLUGINS", "").strip()
    if setting.lower() in DISABLE_ALL:
        return True
    off = set(switched_off)
    if setting.lower() not in DISABLE_NONE:
        off.update(_normal(n.strip()) for n in setting.split(",") if n.strip())
    return any(_normal(n) in off for n in _names_of(entry_point))


def _entry_points() -> list[Any]:
    """The installed ``greenml`` entry points, greenml's own first (see ``FIRST_PARTY``);
    found without importing ``importlib.metadata`` where possible (``entry_points``)."""
    from greenml import entry_points

    def order(entry_point: Any) -> tuple[int, str, str]:
        dist = entry_point.dist
        name = _normal(dist.metadata["Name"]) if dist is not None else ""
        rank = FIRST_PARTY.index(name) if name in FIRST_PARTY else len(FIRST_PARTY)
        return rank, name, entry_point.name

    return sorted(entry_points.find(ENTRY_POINT_GROUP), key=order)


class _CtrlC:
    """Whether the user pressed Ctrl-C while plugin code ran, as a SIGINT handler saw it.

    A plugin can raise ``KeyboardInterrupt`` (or call ``sys.exit()``) itself; that is the
    plugin's fault and is recorded like any other. Only a SIGINT that actually arrived makes
    a ``KeyboardInterrupt`` the user's, which stops greenml as it always did.
    """

    watching = False
    received = False
    previous: Any = None


_ctrl_c = _CtrlC()


@contextlib.contextmanager
def watching_ctrl_c() -> Iterator[None]:
    """Install the SIGINT handler that tells a real Ctrl-C from plugin code for the block.

    Only the main thread can install it, and only SIGINT's default or a Python handler can be
    chained; elsewhere every ``KeyboardInterrupt`` in the main thread counts as the user's,
    while one in another thread (where SIGINT is never delivered) is a plugin's.
    """
    previous = signal.getsignal(signal.SIGINT)
    if (_ctrl_c.watching or previous is None
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    _ctrl_c.watching, _ctrl_c.received, _ctrl_c.previous = True, False, previous
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _ctrl_c.watching = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _ctrl_c.received = True
    previous = _ctrl_c.previous
    if callable(previous):
        previous(signum, frame)  # Python's default raises KeyboardInterrupt
    elif previous != signal.SIG_IGN:
        raise KeyboardInterrupt


def raise_unless_plugin_fault(error: BaseException) -> None:
    """Raise again what must not be recorded as a plugin's fault and skipped: everything in
    strict mode, and a KeyboardInterrupt (or whatever a plugin made of it) after a real
    Ctrl-C. Call it from ``except BaseException`` around plugin code."""
    if strict_plugins():
        raise error
    main = threading.current_thread() is threading.main_thread()
    if main and _ctrl_c.received:
        if isinstance(error, KeyboardInterrupt):
            raise error
        raise KeyboardInterrupt from error
    if main and isinstance(error, KeyboardInterrupt) and not _ctrl_c.watching:
        raise error
    if not isinstance(error, Exception | KeyboardInterrupt | SystemExit):
        raise error  # GeneratorExit and the like belong to the interpreter


def describe(error: BaseException) -> str:
    """The one-line reason ``greenml plugins`` shows for a plugin's exception."""
    if isinstance(error, SystemExit):
        code = "" if error.code is None else repr(error.code)
        return f"SystemExit: the plugin called sys.exit({code})"
    if isinstance(error, KeyboardInterrupt):
        return "KeyboardInterrupt raised by the plugin's own code (no Ctrl-C was received)"
    return f"{type(error).__name__}: {error}"


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


def _trace(line: str) -> None:
    if os.environ.get("GREENML_TRACE_HOOKS"):
        sys.stderr.write(f"greenml hook: {line}\n")
