"""The provider conformance kit (greenml.testing.check_provider) passes a provider that keeps
the contract and names each way a provider breaks it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading

import attrs
import pytest

import greenml
from greenml import registry
from greenml.testing import (
    MemoryCloud,
    MemoryCloudError,
    MemoryProvider,
    ProviderPlugin,
    check_provider,
    offer,
    provider_problems,
    record_io,
    region,
)

NO_CAPACITY = (MemoryCloudError("NoCapacity"), "zone")


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch):
    """Only greenml's built-ins: these tests need no cloud plugin and stay fast."""
    monkeypatch.setenv("GREENML_DISABLE_PLUGINS", "1")


def problems_of(provider, **kwargs) -> list[str]:
    kwargs.setdefault("double", contextlib.nullcontext)
    return provider_problems(provider, **kwargs)


def test_a_provider_that_keeps_the_contract_passes_and_leaves_nothing_behind() -> None:
    cloud = MemoryCloud()
    check_provider(lambda: MemoryProvider(cloud), double=contextlib.nullcontext,
                   errors=[NO_CAPACITY, (MemoryCloudError("Throttled"), {"retry": True})])
    creates = [c for name, c in cloud.calls if name == "create"]
    assert len({c["token"] for c in creates}) == 3  # a gang of two, one never recorded
    assert len(creates) == 4  # and one create repeated with a used token
    assert cloud.instances and cloud.live() == []


def test_one_assertion_error_lists_every_problem() -> None:
    class Sloppy(MemoryProvider):
        name = "Sloppy_Cloud"
        capabilities = frozenset({"plan", "launch", "teleport"})

    with pytest.raises(AssertionError) as info:
        check_provider(Sloppy)
    text = str(info.value)
    assert "2 problem(s)" in text
    assert "'Sloppy_Cloud' must be lower-case" in text
    assert "unknown capabilities ['teleport']" in text


def test_a_name_taken_by_an_installed_provider() -> None:
    registry.default().manager.register(ProviderPlugin(MemoryProvider()))

    class Impostor(MemoryProvider):
        pass

    assert problems_of(MemoryProvider) == []
    [problem] = problems_of(Impostor)
    assert "name 'memory' is taken by installed provider greenml.testing.MemoryProvider" in problem


def test_construction_doing_io_or_importing_an_sdk(tmp_path, monkeypatch) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{}")
    (tmp_path / "kit_fake_sdk.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "kit_fake_sdk", raising=False)

    class Eager(MemoryProvider):
        def __init__(self) -> None:
            super().__init__()
            self.settings = settings.read_text()
            import kit_fake_sdk  # noqa: F401

    problems = problems_of(Eager)
    assert len(problems) == 2
    assert "construction must do no I/O, but it did (open)" in problems[0]
    assert str(settings) in problems[0]
    assert "construction imported 'kit_fake_sdk'" in problems[1]


def test_regions_must_be_served_offline() -> None:
    server = socket.create_server(("127.0.0.1", 0))

    class Online(MemoryProvider):
        def regions(self):
            with socket.create_connection(server.getsockname(), timeout=5):
                return super().regions()

    with server:
        [problem] = problems_of(Online)
    assert problem.startswith("regions() must be served offline, but it did socket I/O")
    assert "127.0.0.1" in problem


def test_a_declared_subprocess_allowance_lets_a_scheduler_query_pass() -> None:
    class Scheduler(MemoryProvider):
        def offers(self):
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            return super().offers()

    [problem] = problems_of(Scheduler)
    assert "offers() must be served offline, but it did subprocess I/O" in problem
    assert "offline_io={'subprocess'}" in problem
    assert problems_of(Scheduler, offline_io={"open", "subprocess"}) == []
    with pytest.raises(ValueError, match="not \\['socket'\\]"):
        provider_problems(Scheduler, offline_io={"socket"})


def test_every_figure_needs_a_source_and_every_offer_a_known_home() -> None:
    class Unsourced(MemoryProvider):
        def regions(self):
            good = region(self.name, "memory-north-1", "SE", 20.0)
            return [good, greenml.Region(
                provider=self.name, name="memory-west-1", location="x", country="IE",
                pue=greenml.PUE(1.1, "a PUE report"), grid_zone="IE-NIR")]

        def offers(self):
            bare = offer(self.name, "memory-north-1", "mem.bare", "A100", 8, 10.0)
            return [offer(self.name, "memory-north-1", "mem.a100x8", "A100", 8, 30.0),
                    attrs.evolve(bare, price_source=""),
                    offer(self.name, "nowhere-1", "mem.lost", "A100", 8, 10.0),
                    offer(self.name, "memory-north-1", "mem.tpu", "TPU-v99", 8, 10.0),
                    "not an offer"]

    problems = problems_of(Unsourced)
    assert problems == [
        "offers() returned 'not an offer', not a greenml.Offer",
        "region 'memory-west-1': pue 1.1 has a source but no year",
        "region 'memory-west-1': grid_zone 'IE-NIR' is not a zone of electricitymaps-2025, so "
        "the region has no comparable grid intensity (did you mean GB-NIR, ES-CN-IG, ES-CN-HI?)",
        "offer 'mem.bare' in 'memory-north-1': a price needs a price_source (or leave the "
        "price empty)",
        "offer 'mem.lost' in 'nowhere-1': region 'nowhere-1' is not in regions()",
        "offer 'mem.tpu' in 'memory-north-1': accelerator 'TPU-v99' is unknown to greenml "
        "(add it through greenml_accelerators)",
    ]


@pytest.mark.parametrize(("capabilities", "methods", "expected"), [
    ({"plan", "launch"}, {"terminate": None},
     "declares 'launch' but does not implement terminate"),
    ({"plan"}, {}, "implements create_instance, terminate but does not declare 'launch'"),
    ({"plan", "launch", "gang", "warp"}, {}, "unknown capabilities ['warp']"),
])
def test_capabilities_must_match_what_is_implemented(capabilities, methods, expected) -> None:
    body = {"capabilities": frozenset(capabilities)}
    for method in methods:
        body[method] = getattr(greenml.provider.Provider, method)
    broken = type("Broken", (MemoryProvider,), body)
    assert expected in "\n".join(provider_problems(broken))


def test_spot_or_gang_without_launch() -> None:
    class PlanOnly(greenml.provider.Provider):
        name = "plan-only"
        capabilities = frozenset({"plan", "spot"})

        def regions(self):
            return MemoryProvider.regions(self)

        def offers(self):
            return MemoryProvider.offers(self)

    assert provider_problems(PlanOnly) == ["declares 'spot' without 'launch'"]
    with_double = provider_problems(PlanOnly, double=contextlib.nullcontext)
    assert with_double[-1] == "a double was given, but the provider does not declare 'launch'"


def test_classify_must_read_any_error_and_the_provider_samples() -> None:
    class Fragile(MemoryProvider):
        def classify(self, error):
            if isinstance(error, KeyError):
                raise error
            return super().classify(error)

    problems = problems_of(Fragile, errors=[(MemoryCloudError("NoCapacity"), "region"),
                                            (MemoryCloudError("Throttled"), {"retry": False})])
    assert problems == [
        "classify(KeyError(\"'conformance-kit'\")) raised KeyError: 'conformance-kit'",
        "classify(MemoryCloudError('NoCapacity: NoCapacity')): scope is 'zone', expected "
        "'region'",
        "classify(MemoryCloudError('Throttled: Throttled')): retry is True, expected False",
    ]


def test_describe_must_call_nothing() -> None:
    server = socket.create_server(("127.0.0.1", 0))

    class Chatty(MemoryProvider):
        def describe(self, request):
            socket.create_connection(server.getsockname(), timeout=5).close()
            return "create something"

    with server:
        problems = provider_problems(Chatty)
    assert problems[0].startswith("describe() must call nothing (a dry run), but it did socket")
    assert "naming the instance type 'mem.a100x8'; got 'create something'" in problems[1]


def test_a_create_that_ignores_its_token_duplicates_instances() -> None:
    class Duplicating(MemoryProvider):
        def create_instance(self, request, journal):
            made = super().create_instance(request, journal)
            self.cloud._tokens.pop(request.token)  # forget the token: a retry makes another
            return made

    cloud = MemoryCloud()
    problems = problems_of(lambda: Duplicating(cloud))
    assert any("create_instance with a used token created" in p
               and "a retry would duplicate an instance" in p for p in problems)
    assert cloud.live() == [], "the kit removes what it created even when a check fails"


def test_find_resources_must_find_what_was_never_recorded() -> None:
    class Blind(MemoryProvider):
        def find_resources(self, launch_id, regions):
            return []

    cloud = MemoryCloud()
    problems = problems_of(lambda: Blind(cloud))
    assert problems[:2] == [f"states() says 'gone' for 'mem-00000{i}', which the launch has "
                            "just created" for i in (1, 2)], "the default states() asks find"
    assert problems[2].startswith("find_resources found [], but the launch (with one instance "
                                  "never recorded in the ledger) created ['mem-000001',")
    assert "greenml.down terminated ['mem-000001', 'mem-000002'], not all of" in problems[3]
    assert cloud.live() == []


@pytest.mark.parametrize(("answer", "expected"), [
    ({}, "states() says None for 'mem-000001', which the launch has just created"),
    ([], "states() must return a dict of resource id -> state, got []"),
    (RuntimeError("boom"), "states() raised RuntimeError: boom"),
])
def test_states_must_know_every_instance_just_launched(answer, expected) -> None:
    class Forgetful(MemoryProvider):
        def states(self, resources):
            if isinstance(answer, Exception):
                raise answer
            return answer

    problems = problems_of(Forgetful)
    assert problems[0] == expected
    assert all(p.startswith("states()") for p in problems)


def test_a_planned_id_must_be_the_id_create_instance_returns() -> None:
    class Guessing(MemoryProvider):
        def planned_id(self, request):
            return f"mem-guess-{request.index}"

    problems = problems_of(Guessing)
    assert problems and all(p.startswith("planned_id() said 'mem-guess-") for p in problems)
    assert "after a crash, down would miss it" in problems[0]


def test_terminate_must_accept_what_is_gone() -> None:
    class Strict(MemoryProvider):
        def terminate(self, resources):
            for r in resources:
                self.cloud.delete(r.region, r.resource_id)

    [problem] = problems_of(Strict)
    assert problem.startswith("terminate of resources already gone raised MemoryCloudError: "
                              "NotFound")


def test_launch_checks_need_credentials_in_the_double() -> None:
    problems = problems_of(lambda: MemoryProvider(credentials=False))
    assert problems == ["check_credentials() must pass inside the double and return (True, "
                        "reason); got (False, 'memory cloud: credentials switched off "
                        "(MemoryProvider(credentials=False))')"]


def test_a_failing_launch_is_reported_with_its_attempts() -> None:
    cloud = MemoryCloud()
    cloud.inject("create", "Unauthorized", times=10)
    [problem] = problems_of(lambda: MemoryProvider(cloud))
    assert problem.startswith("launching through greenml failed on the double: launch "
                              "'kit-check' stopped")
    assert "Unauthorized" in problem


def test_the_double_can_name_what_to_launch() -> None:
    cloud = MemoryCloud()
    job = greenml.Job(accelerator="H100", count=8, hours=2)
    check_provider(lambda: MemoryProvider(cloud), double=lambda: contextlib.nullcontext(job))
    assert {i["instance_type"] for i in cloud.instances.values()} == {"mem.h100x8"}
    [problem] = problems_of(MemoryProvider, double=lambda: contextlib.nullcontext("h100"))
    assert problem == "the double yielded 'h100'; yield None, a greenml.Job or an Option"


def test_record_io_sees_only_its_own_thread_and_block(tmp_path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    with record_io() as events:
        path.read_text()
        thread = threading.Thread(target=path.read_text)
        thread.start()
        thread.join()
    path.read_text()
    assert events == [("open", f"open {path}")]


def test_the_command_and_settings_reach_every_create() -> None:
    seen = []

    class Recording(MemoryProvider):
        def create_instance(self, request, journal):
            seen.append((request.run, dict(request.settings)))
            return super().create_instance(request, journal)

        def settings_help(self):  # greenml refuses a setting no provider declares
            return {"workdir": "where the job writes", "pool": "the memory pool"}

    check_provider(Recording, double=contextlib.nullcontext, run="sleep 300",
                   settings={"workdir": "/tmp/x", "memory.pool": "a"})
    assert len(seen) == 4
    assert set(seen[0][1]) == {"workdir", "pool"}
    assert {(run, tuple(sorted(s.items()))) for run, s in seen} == {
        ("sleep 300", (("pool", "a"), ("workdir", "/tmp/x")))}


def test_the_pytest_plugin_gives_a_ledger_and_a_registered_memory_provider(
        greenml_memory_provider, greenml_ledger) -> None:
    launch = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=1)).launch(
        name="fixture", run="true")
    assert launch.option.provider == "memory" and greenml_ledger.exists()
    assert [i["id"] for i in greenml_memory_provider.cloud.live()] == [
        r.resource_id for r in launch.instances]
    assert [r.name for r in greenml.status()] == ["fixture"]
