"""A registry is an object: two of them share no plugin, no catalog and no hook listener.

Installed plugins are switched off; each registry gets greenml's in-memory provider under a
different name, so which one a plan used is visible in the plan itself.
"""

from __future__ import annotations

import warnings

import pytest

import greenml
from greenml import registry
from greenml.errors import InputError
from greenml.registry import Registry
from greenml.testing import MemoryProvider, ProviderPlugin

JOB = greenml.Job(accelerator="A100", count=8, hours=10)


class Heard:
    """A greenml_plan_made listener that remembers the best option of each plan it heard."""

    def __init__(self) -> None:
        self.plans: list[str] = []

    @greenml.hookimpl
    def greenml_plan_made(self, plan: greenml.Plan) -> None:
        self.plans.append(plan.best.provider)


class NamedMemory(MemoryProvider):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch, tmp_path):
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")
    monkeypatch.setenv("GREENML_LEDGER", str(tmp_path / "ledger.sqlite3"))


def registry_with(name: str) -> tuple[Registry, Heard]:
    made, heard = Registry(), Heard()
    made.manager.register(ProviderPlugin(NamedMemory(name)), name=f"{name}-plugin")
    made.manager.register(heard, name=f"{name}-listener")
    return made, heard


def test_two_registries_plan_apart_and_only_their_own_listeners_hear() -> None:
    first, heard_first = registry_with("mem-a")
    second, heard_second = registry_with("mem-b")
    default_heard = Heard()
    registry.default().manager.register(default_heard, name="default-listener")

    assert greenml.plan(JOB, registry=first).best.provider == "mem-a"
    assert greenml.plan(JOB, registry=second).best.provider == "mem-b"
    assert set(first.catalog.providers) == {"mem-a"}
    assert set(second.catalog.providers) == {"mem-b"}
    assert (heard_first.plans, heard_second.plans, default_heard.plans) == (
        ["mem-a"], ["mem-b"], [])
    assert "mem-a" not in registry.default().catalog.providers


def test_the_catalog_is_gathered_once_per_registry_until_forgotten() -> None:
    made, _ = registry_with("mem-a")
    assert made.catalog is made.catalog
    before = made.catalog
    made.forget_catalog()
    assert made.catalog is not before and set(made.catalog.providers) == {"mem-a"}
    assert made.providers() == made.catalog.providers


def test_reset_with_disabled_names_checks_them_and_leaves_them_unloaded(monkeypatch) -> None:
    monkeypatch.delenv("GREENML_DISABLE_PLUGINS")
    try:
        with pytest.raises(InputError, match="disable_plugin: no installed plugin named"):
            registry.reset(disabled=["no-such-plugin"])
        fresh = registry.reset(disabled=["aws"])
        assert fresh is registry.default()
        assert "aws" not in fresh.catalog.providers
        assert [i.name for i in fresh.plugins.disabled] == ["aws"]
    finally:
        registry.reset()


def test_a_registry_that_is_not_one_is_refused() -> None:
    with pytest.raises(InputError, match="registry: expected a greenml.registry.Registry"):
        greenml.plan(JOB, registry="default")  # type: ignore[arg-type]


def test_plan_provision_still_launches_and_says_it_is_deprecated() -> None:
    made, _ = registry_with("memory")
    plan = greenml.plan(JOB, registry=made)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        launch = plan.provision(name="old-name", run="true", dry_run=True)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "use Plan.launch" in str(caught[0].message)
    fresh = plan.launch(name="old-name", run="true", dry_run=True)
    assert (launch.name, launch.dry_run, launch.option) == ("old-name", True, plan.best)
    assert launch.description == fresh.description and launch.option == fresh.option
