"""Shared fixtures: small hand-built catalogs made from greenml's public value types, and a
memory provider with serial consoles (the logs and report tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from console_double import ConsoleMemory, registered_console
from hardware_doubles import use_hardware

import greenml
from greenml import Catalog
from greenml.testing import accelerator, offer, region


@pytest.fixture
def small_catalog() -> Catalog:
    """Three regions on two providers; an A100 and an H100 with known figures."""
    accs = [accelerator("A100", 400, 312), accelerator("H100", 700, 989),
            accelerator("A100-80GB", 400, 312, family="A100"),
            accelerator("NOPOWER", None, 100)]
    regions = [
        region("alpha", "north-1", "SE", 20.0, 1.1),
        region("alpha", "east-1", "US", 400.0, 1.2),
        region("beta", "west-1", "FR", 60.0, 1.15),
    ]
    offers = [
        offer("alpha", "north-1", "a100x8", "A100", 8, 30.0, 12.0),
        offer("alpha", "east-1", "a100x8", "A100", 8, 25.0, 9.0),
        offer("alpha", "east-1", "h100x8", "H100", 8, 90.0),
        offer("beta", "west-1", "a100x4", "A100-80GB", 4, 20.0),
        offer("beta", "west-1", "h100x8", "H100", 8, 100.0, 40.0),
        offer("beta", "west-1", "nopower", "NOPOWER", 8, 5.0),
    ]
    return Catalog(regions, offers, accs)


@pytest.fixture(autouse=True)
def _fresh_plugins():
    """Each test sees plugins loaded from scratch and leaves none behind, nor secrets
    registered for scrubbing."""
    from greenml import scrub

    greenml.registry.reset()
    scrub.forget()
    yield
    greenml.registry.reset()
    scrub.forget()


def _cloud_plugins_installed() -> bool:
    from importlib.metadata import entry_points

    return {"aws", "gcp", "azure"} <= {e.name for e in entry_points(group="greenml")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``catalogs`` need the cloud plugins; the core-only run skips them."""
    if _cloud_plugins_installed():
        return
    skip = pytest.mark.skip(reason="needs greenml-aws, greenml-gcp and greenml-azure installed")
    for item in items:
        if "catalogs" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def builtins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only greenml's built-in plugins: installed cloud plugins stay out of the test's plans
    (``pytestmark = pytest.mark.usefixtures("builtins_only")`` for a whole module)."""
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")


@pytest.fixture
def console(builtins_only: None, greenml_fresh_plugins: object,
            greenml_ledger: object) -> ConsoleMemory:
    """A memory provider with a serial console per instance, registered as an installed
    plugin of a fresh registry, with a ledger of the test's own."""
    return registered_console()


@pytest.fixture
def hardware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake nvidia-smi first on PATH, a powercap folder, NVML switched off (the sampler's
    stand-ins for the hardware, ``hardware_doubles``)."""
    return use_hardware(tmp_path, monkeypatch)
