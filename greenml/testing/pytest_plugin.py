"""pytest fixtures for greenml plugin authors, loaded through the ``pytest11`` entry point.

Installing greenml makes them available in every test suite (``pytest -p no:greenml`` turns
them off). This module imports nothing from greenml until a fixture is used, so a test run
that never asks for one pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def greenml_fresh_plugins() -> Iterator[None]:
    """Plugins and catalogs loaded from scratch for this test, and forgotten after it."""
    from greenml import registry

    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def greenml_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ledger file of this test's own (``GREENML_LEDGER``), so launches never touch yours."""
    path = tmp_path / "greenml-ledger.sqlite3"
    monkeypatch.setenv("GREENML_LEDGER", str(path))
    return path


@pytest.fixture
def check_provider(greenml_fresh_plugins: None) -> Callable[..., None]:
    """``greenml.testing.check_provider``: the provider conformance kit, on fresh plugins."""
    from greenml.testing import check_provider

    return check_provider


@pytest.fixture
def greenml_memory_provider(greenml_fresh_plugins: None, greenml_ledger: Path) -> Any:
    """A ``greenml.testing.MemoryProvider`` registered as a plugin: a launching provider with
    no cloud behind it, for testing hooks such as ``greenml_launched``."""
    from greenml import registry
    from greenml.testing import MemoryProvider, ProviderPlugin

    provider = MemoryProvider()
    registry.default().manager.register(ProviderPlugin(provider), name="greenml-memory")
    return provider
