"""Every bad argument to the Python API raises the documented error: a ``greenml.InputError``
(a subclass of ``greenml.GreenmlError``) whose ``field`` names the argument, never a
TypeError, AttributeError or sqlite3 error from deep inside."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import greenml
from greenml import PUE, Intensity, Job, RetryPolicy

NAN, INF = math.nan, math.inf
FAR = datetime.now(timezone.utc) + timedelta(days=365 * 11)
GOOD_JOB = {"accelerator": "A100", "hours": 1.0}


def job_with(**changes: Any) -> Callable[[], object]:
    fields = {**GOOD_JOB, **changes}
    if "flops" in changes:
        fields.pop("hours")
    return lambda: Job(**fields)


JOB_CASES = [
    (field, value)
    for field, values in {
        "accelerator": [123, 1.5, [1, 2], object(), b"A100", {"A100": 1}],
        "count": ["8", 0, -1, 1.5, True, None, INF, NAN, 10**20, 1_000_001],
        "hours": ["1", -1, 0, NAN, INF, 1e308, 87_601, True],
        "flops": ["1e20", -1, INF, 1e31],
        "utilization": [0, 1.5, NAN, "0.4", -0.1],
        "hours_on": [123, "", ["A100"]],
        "providers": [123, [1], 4.5],
        "countries": [123, "XX", ["FI", 2]],
        "not_countries": [5, "ZZ"],
        "regions": [5, [None]],
        "not_regions": [5],
        "not_accelerators": [5, [7]],
        "max_cost_usd": [-1, "x", INF, 0],
        "spot": ["yes", 1, None],
        "min_memory_gb": [-1, NAN, "80"],
        "earliest_start": [5, "x", "2026-05-01T18:00", "9999-12-31T23:59Z",
                           "9999-12-31T23:59-05:00", FAR, datetime(2026, 5, 1)],
        "deadline": [5, "soon", "0001-01-01T00:00+05:00", FAR],
        "interruptible": ["x", 0, None],
    }.items()
    for value in values
]


@pytest.mark.parametrize(("field", "value"), JOB_CASES,
                         ids=[f"{f}={v!r}"[:40] for f, v in JOB_CASES])
def test_a_bad_job_field_names_itself(field: str, value: object) -> None:
    raises_naming(field, job_with(**{field: value}))


def test_job_cross_field_errors_name_a_field() -> None:
    raises_naming("hours", lambda: Job(accelerator="A100"))
    raises_naming("hours", lambda: Job(accelerator="A100", hours=1, flops=1e20))
    raises_naming("hours_on", lambda: Job(hours=1))
    raises_naming("deadline", lambda: Job(**GOOD_JOB, earliest_start="2030-01-02T00:00Z",
                                          deadline="2030-01-01T00:00Z"))


# plan, estimate, provision, down, status


@pytest.fixture
def job() -> Job:
    return Job(accelerator="A100", count=8, hours=2)


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setenv("GREENML_LEDGER", str(path))
    return path


def plan_cases(job: Job, catalog: greenml.Catalog) -> list[tuple[str, Callable[[], object]]]:
    plan = greenml.plan
    return [
        ("job", lambda: plan(None)),  # type: ignore[arg-type]
        ("job", lambda: plan("A100")),  # type: ignore[arg-type]
        ("catalog", lambda: plan(job, catalog=5)),  # type: ignore[arg-type]
        ("carbon_sources", lambda: plan(job, catalog=catalog, carbon_sources=5)),
        ("carbon_sources", lambda: plan(job, catalog=catalog, carbon_sources=[5])),
        ("carbon_sources", lambda: plan(job, catalog=catalog, carbon_sources="no-such")),
        ("carbon_data", lambda: plan(job, catalog=catalog, carbon_data=5)),
        ("carbon_deadline_s", lambda: plan(job, catalog=catalog, carbon_deadline_s=-1)),
        ("notify", lambda: plan(job, catalog=catalog, notify="x")),  # type: ignore[arg-type]
        ("now", lambda: plan(job, catalog=catalog, now=5)),  # type: ignore[arg-type]
        ("now", lambda: plan(job, catalog=catalog, now="2026-01-01")),  # type: ignore
        ("now", lambda: plan(job, catalog=catalog, now=datetime(2026, 1, 1))),
    ]


def estimate_cases(job: Job, catalog: greenml.Catalog) -> list[tuple[str, Callable[[], object]]]:
    def est(*args: Any, **kw: Any) -> Callable[[], object]:
        given = {"pue": 1.1, "intensity": 100.0, "catalog": catalog, **kw}
        return lambda: greenml.estimate(*(args or (job,)), **given)

    return [
        ("job", est(None)), ("job", est("A100")),
        ("accelerator", est(accelerator=5)), ("accelerator", est(accelerator="A1000")),
        ("region", est(region=5)), ("region", est(region="north-1")),
        ("catalog", lambda: greenml.estimate(job, pue=1.1, intensity=1, catalog=5)),
        *[("pue", est(pue=v)) for v in ("x", 0.5, 3.5, INF, NAN, True, PUE(5, "s"))],
        *[("intensity", est(intensity=v))
          for v in (-1, 2001, INF, NAN, "x", Intensity(3000, "s"))],
        *[("power_w", est(power_w=v)) for v in (0, -1, INF, NAN, "x", 1e6)],
        *[("price_usd_per_hour", est(price_usd_per_hour=v))
          for v in (-1, NAN, INF, "x", 1e12)],
    ]


def lookup_cases() -> list[tuple[str, Callable[[], object]]]:
    down, status = greenml.down, greenml.status
    return [
        *[("name", lambda v=v: down(v)) for v in (None, 5, "", "   ", ["x"], b"x")],
        ("providers", lambda: down("x", providers=5)),  # type: ignore[arg-type]
        *[("name", lambda v=v: status(v)) for v in (5, "", ["x"], 1.5)],
        ("all_launches", lambda: status(all_launches="x")),  # type: ignore[arg-type]
        ("refresh", lambda: status(refresh=1)),  # type: ignore[arg-type]
        ("providers", lambda: status(refresh=True, providers=5)),  # type: ignore[arg-type]
    ]


def launch_cases(plan: greenml.Plan) -> list[tuple[str, Callable[[], object]]]:
    def launch(**kw: Any) -> Callable[[], object]:
        given = {"name": "ok-name", "run": "true", "dry_run": True, **kw}
        return lambda: plan.launch(**given)

    return [
        ("plan", lambda: greenml.launch(None, name="ok-name", run="true")),  # type: ignore
        *[("name", launch(name=v)) for v in (5, None, "Bad Name", "x")],
        *[("run", launch(run=v)) for v in (5, None, "", "  ")],
        ("dry_run", launch(dry_run="x")),
        ("retry", launch(retry=5)),
        *[("settings", launch(settings=v))
          for v in (5, "key_name=x", ["key_name=x"], {5: "a"}, {"": "a"}, {"key_name": 1},
                    {"no_such_setting": "x"}, {"nosuch.key_name": "x"})],
        ("settings", launch(dry_run=False, settings={"no_such_setting": "x"})),
    ]


RETRY_CASES = [("attempts", {"attempts": v}) for v in ("x", 0, -1, True, 1.5)] + [
    (field, {field: v}) for field in ("base_delay_s", "max_delay_s")
    for v in ("x", -1, INF, NAN, None)]


def test_bad_plan_arguments_name_themselves(job, small_catalog) -> None:
    for field, call in plan_cases(job, small_catalog):
        raises_naming(field, call)


def test_bad_estimate_arguments_name_themselves(job, small_catalog) -> None:
    for field, call in estimate_cases(job, small_catalog):
        raises_naming(field, call)


def test_estimate_takes_figures_at_their_bounds(job, small_catalog) -> None:
    e = greenml.estimate(job, pue=3.0, intensity=2000, power_w=100_000,
                         price_usd_per_hour=0, catalog=small_catalog)
    assert all(math.isfinite(x) for x in (e.energy_kwh, e.co2e_kg)) and e.cost_usd == 0


def test_bad_down_and_status_arguments_name_themselves(ledger) -> None:
    for field, call in lookup_cases():
        raises_naming(field, call)
    assert greenml.status() == [] and greenml.status("no-such-launch") == []
    raises_naming("name", lambda: greenml.down("no-such-launch"))


def test_bad_launch_arguments_name_themselves(job, small_catalog, ledger) -> None:
    plan = greenml.plan(job, catalog=small_catalog)
    for field, call in launch_cases(plan):
        raises_naming(field, call)
    assert not ledger.exists(), "nothing was recorded, let alone created"


def test_bad_report_and_track_arguments_name_themselves(ledger) -> None:
    report, track = greenml.report, greenml.track
    cases = [
        *[("name", lambda v=v: report(v)) for v in (None, 5, "", "  ", ["x"])],
        ("name", lambda: report("no-such-launch")),
        ("ledger", lambda: report("x", ledger=5)),  # type: ignore[arg-type]
        ("codecarbon", lambda: report("x", measured="a.json", codecarbon="b.csv")),
        *[("region", lambda v=v: track(v)) for v in (5, "", "no-such-region")],
        ("provider", lambda: track("us-east-1", provider="nowhere")),
        ("provider", lambda: track("x", provider=7)),  # type: ignore[arg-type]
        ("region", lambda: track(provider="aws")),
        *[("interval_s", lambda v=v: track(interval_s=v)) for v in ("1", 0, -1, NAN, INF, True)],
    ]
    for field, call in cases:
        raises_naming(field, call)


def test_bad_retry_policies_name_the_field() -> None:
    for field, kwargs in RETRY_CASES:
        raises_naming(field, lambda kwargs=kwargs: RetryPolicy(**kwargs))
    assert RetryPolicy(attempts=1, base_delay_s=0, max_delay_s=0).delay_s(3) == 0


def test_plugin_facing_value_types_name_the_field() -> None:
    from greenml import Accelerator, Ledger, Offer, Region
    from greenml.provider import Failure

    cases = [
        ("value", lambda: PUE("x", "s")), ("pue", lambda: PUE(0.5, "s")),
        ("source", lambda: PUE(1.2, 5)),
        ("g_per_kwh", lambda: Intensity(NAN, "s")), ("signal", lambda: Intensity(1, "s",
                                                                                 signal="x")),
        ("provider", lambda: Region(5, "n", "l", "FI", PUE(1.1, "s"))),
        ("country", lambda: Region("p", "n", "l", 5, PUE(1.1, "s"))),
        ("name", lambda: Accelerator(5)),
        ("tdp_w", lambda: Accelerator("X", tdp_w=-1)),
        ("accelerators_per_instance", lambda: Offer("p", "r", "t", "A100", "x")),
        ("scope", lambda: Failure("x", "r")),
        ("ledger", lambda: Ledger(5)),  # type: ignore[arg-type]
    ]
    for field, call in cases:
        raises_naming(field, call)


#: Public names whose bad arguments the tests above cover (plan_fleet's: test_fleet_input.py;
#: logs': the logs tests).
COVERED = {"Job", "plan", "launch", "plan_fleet", "logs", "estimate", "down", "status", "Plan",
           "report", "track",
           "RetryPolicy", "PUE", "Intensity", "Region", "Accelerator", "Offer", "Failure", "Ledger"}
#: Public names that take no user input to check, and why.
NOT_CALLED_WITH_USER_INPUT = {
    # (and every exception and warning class: the test below skips them)
    # base classes a plugin subclasses, pluggy's marker, the catalog getter (no arguments)
    "Provider", "CatalogProvider", "CarbonSource", "hookimpl", "default_catalog",
    # results greenml builds and returns
    "Estimate", "Option", "Savings", "Schedule", "Exclusion", "Attempt", "Launch", "Fleet",
    "LaunchRecord", "InstanceRequest", "Journal",
    # values a plugin builds: covered by VALUE_TYPES below
    "Figure", "Reading", "Resource", "Catalog",
}

#: Value types a plugin builds: each names the argument it refuses.
VALUE_TYPES = {
    "Region(pue=5)": ("pue", lambda: greenml.Region("p", "n", "l", "FI", 5)),
    "Figure(value='x')": ("value", lambda: greenml.Figure("n", "x", "u", "s")),
    "Reading(at='x')": ("at", lambda: greenml.Reading("x", 1.0, "average", "measured", "s")),
    "Resource(provider=5)": ("provider", lambda: greenml.Resource(5, "r", "i")),
    "Catalog(regions=5)": ("regions", lambda: greenml.Catalog(5, [], [])),
}


@pytest.mark.parametrize("name", sorted(VALUE_TYPES))
def test_value_types_name_the_argument_they_refuse(name: str) -> None:
    field, call = VALUE_TYPES[name]
    raises_naming(field, call)


def test_every_public_name_is_covered_or_says_why_not() -> None:
    def raised_or_warned(obj: object) -> bool:
        return inspect.isclass(obj) and issubclass(obj, (BaseException, Warning))

    public = {n for n in greenml.__all__
              if callable(getattr(greenml, n)) and not raised_or_warned(getattr(greenml, n))}
    missing = public - COVERED - NOT_CALLED_WITH_USER_INPUT
    assert not missing, f"public names whose bad arguments no test covers: {missing}"


def raises_naming(field: str, call: Callable[[], object]) -> None:
    """``call`` raises an InputError (so a GreenmlError) whose field and text name ``field``."""
    try:
        result = call()
    except greenml.InputError as exc:
        assert exc.field == field, f"expected the error to name {field!r}, got {exc}"
        assert str(exc).startswith(f"{field}: ") and len(str(exc)) > len(field) + 10, exc
        assert isinstance(exc, greenml.GreenmlError)
        return
    except Exception as exc:  # the defect: an undocumented exception type
        raise AssertionError(f"{field}: raised {type(exc).__name__}: {exc}, not "
                             "greenml.InputError") from exc
    raise AssertionError(f"{field}: accepted, returned {result!r}"[:300])


def test_a_config_error_from_a_plugin_reaches_the_user_and_bugs_stay_isolated() -> None:
    """``ConfigError`` (the user's own file or variable is wrong) passes the catalog's plugin
    isolation, so the user sees it (exit 2); any other exception is still recorded as that
    plugin's problem and the rest of the catalog is kept."""
    from greenml.errors import ConfigError
    from greenml.testing import MemoryProvider, ProviderPlugin

    class Buggy(MemoryProvider):
        name = "buggy"

        def regions(self):
            raise RuntimeError("a plugin bug")

    class Misconfigured(MemoryProvider):
        name = "misconfigured"

        def regions(self):
            raise ConfigError("/etc/greenml/x.toml:3: sites[0].pue: must be a number")

    pm = greenml.registry.default().manager
    pm.register(ProviderPlugin(MemoryProvider()), name="memory")
    pm.register(ProviderPlugin(Buggy()), name="buggy")
    catalog = greenml.default_catalog()
    assert any("a plugin bug" in e.reason and e.provider == "buggy" for e in catalog.problems)
    assert "memory" in catalog.provider_names(), "the other plugins' regions are kept"
    pm.register(ProviderPlugin(Misconfigured()), name="misconfigured")
    greenml.registry.clear_cache()
    with pytest.raises(ConfigError, match=r"^/etc/greenml/x.toml:3: sites\[0\].pue"):
        greenml.default_catalog()
    assert issubclass(ConfigError, greenml.CatalogError)
