"""Typed provider settings: a provider declares an attrs class; greenml parses ``-o key=value``
into it once, refusing an unknown key with the closest known one and a bad value naming the
key, before anything is created; the help comes from the fields."""

from __future__ import annotations

from typing import ClassVar

import pytest
from attrs import frozen

import greenml
from greenml import registry
from greenml.provider import (
    LaunchingProvider,
    PlanningProvider,
    Provider,
    boolean,
    parse_settings,
    positive_number,
    setting,
    settings_help,
)
from greenml.testing import MemoryProvider, ProviderPlugin

PARSED: list[str] = []


def counted_size(raw: str) -> int:
    """A parser that records each call, to show a launch parses its settings once."""
    PARSED.append(raw)
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"expected a whole number of GB, got {raw!r}") from None


@frozen
class PoolSettings:
    pool: str = setting(help="which pool of machines to use")
    disk_gb: int = setting(help="disk size in GB", default=100, parse=counted_size)
    public_ip: bool = setting(help="give each machine a public address", default=True,
                              parse=boolean)
    timeout_s: float = setting(help="how long to wait for a machine", default=60.0,
                               parse=positive_number)


class PoolProvider(MemoryProvider):
    """The memory cloud, with typed settings; records what create_instance was given."""

    name: ClassVar[str] = "pool"
    settings_type = PoolSettings

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[PoolSettings] = []

    def create_instance(self, request: greenml.provider.InstanceRequest,
                        journal: greenml.provider.Journal) -> greenml.Resource:
        self.seen.append(self.typed_settings(request.settings))
        return super().create_instance(request, journal)


def test_the_help_is_derived_from_the_fields() -> None:
    assert PoolProvider().settings_help() == {
        "pool": "which pool of machines to use", "disk_gb": "disk size in GB",
        "public_ip": "give each machine a public address",
        "timeout_s": "how long to wait for a machine"}
    assert settings_help(None) == {}


def test_text_is_parsed_into_the_declared_types() -> None:
    parsed = parse_settings(PoolSettings, {"pool": " gpu ", "disk_gb": "80",
                                           "public_ip": "no", "timeout_s": "2.5"})
    assert parsed == PoolSettings(pool="gpu", disk_gb=80, public_ip=False, timeout_s=2.5)
    assert parse_settings(PoolSettings, {}) == PoolSettings()


def test_an_unknown_key_is_refused_naming_the_closest() -> None:
    with pytest.raises(greenml.InputError) as info:
        parse_settings(PoolSettings, {"disk_gib": "80"}, provider="pool")
    assert info.value.field == "settings"
    assert "unknown setting 'pool.disk_gib': pool takes disk_gb, pool, public_ip, timeout_s" \
        in str(info.value)
    assert info.value.suggestions == ("pool.disk_gb",)


@pytest.mark.parametrize(("key", "value", "says"), [
    ("disk_gb", "lots", "disk_gb: expected a whole number of GB, got 'lots'"),
    ("public_ip", "maybe", "public_ip: expected true or false, got 'maybe'"),
    ("timeout_s", "-1", "timeout_s: expected a positive number, got '-1'"),
])
def test_a_bad_value_is_refused_naming_the_key(key: str, value: str, says: str) -> None:
    with pytest.raises(greenml.InputError, match=f"^settings: {says}$") as info:
        parse_settings(PoolSettings, {key: value})
    assert info.value.field == "settings"


def test_check_settings_names_the_key_as_written_before_a_launch() -> None:
    providers = {"pool": PoolProvider()}
    with pytest.raises(greenml.InputError, match="^settings: pool.disk_gb: expected a whole"):
        greenml.provider.check_settings({"pool.disk_gb": "lots"}, providers)
    with pytest.raises(greenml.InputError, match="^settings: disk_gb: expected a whole"):
        greenml.provider.check_settings({"disk_gb": "lots"}, providers)


def test_a_launch_parses_its_settings_once(tmp_path) -> None:
    provider = PoolProvider()
    registry.default().manager.register(ProviderPlugin(provider))
    plan = greenml.plan(greenml.Job(accelerator="A100", count=16, hours=1, providers="pool"))
    PARSED.clear()
    launch = plan.launch(name="typed", run="true", ledger=tmp_path / "ledger.sqlite3",
                         settings={"pool.disk_gb": "80", "pool": "gpu"})
    assert len(launch.instances) == 2 and len(provider.seen) == 2
    assert PARSED == ["80"], "parsed when checked, then handed out again as parsed"
    assert provider.seen[0] is provider.seen[1]
    assert provider.seen[0] == PoolSettings(pool="gpu", disk_gb=80)


def test_both_contracts_are_protocols_the_base_classes_meet() -> None:
    assert isinstance(Provider(), PlanningProvider)
    assert isinstance(PoolProvider(), LaunchingProvider)
    assert not isinstance(object(), PlanningProvider)
