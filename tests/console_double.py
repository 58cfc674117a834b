"""The memory provider with a serial console per instance, for the logs and report tests (the
``console`` fixture in conftest.py registers one)."""

from __future__ import annotations

from typing import ClassVar

from greenml import registry
from greenml.provider import Capability, Resource
from greenml.testing import MemoryCloud, MemoryProvider, ProviderPlugin


class ConsoleMemory(MemoryProvider):
    """Each read of an instance's console returns ``consoles[id]``: a text, or a list of texts
    read one after another (the last one repeats), as a console that grows between reads."""

    capabilities: ClassVar[frozenset[str]] = MemoryProvider.capabilities | {Capability.LOGS}

    def __init__(self, cloud: MemoryCloud | None = None) -> None:
        super().__init__(cloud)
        self.consoles: dict[str, str | list[str]] = {}
        self.reads: list[str] = []

    def console_output(self, resource: Resource) -> str:
        self.reads.append(resource.resource_id)
        said = self.consoles.get(resource.resource_id, "")
        if isinstance(said, str):
            return said
        return said.pop(0) if len(said) > 1 else said[0]


def registered_console() -> ConsoleMemory:
    """A ConsoleMemory registered as an installed plugin of the default registry."""
    provider = ConsoleMemory()
    registry.default().manager.register(ProviderPlugin(provider), name="greenml-console")
    return provider

