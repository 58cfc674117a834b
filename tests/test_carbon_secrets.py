"""Secrets a carbon service echoes never get out (issue 17, defect 2).

Each service's fake (reached through a proxy that wants a password) answers every endpoint
greenml uses with a configured secret planted in one field at a time (the answer itself, each
member, the first item of each list, at every depth), and with error answers that echo it.
The secret is planted as written, inside other text, percent-encoded, base64-encoded and as
HTTP Basic or Bearer credentials. Whatever greenml makes of the answer (warnings, plan notes,
the plan's JSON and table, exceptions, log lines at DEBUG, cache files) and what the CLI
prints (``greenml plan --json``, ``greenml intensity``, their errors) must hold none of them.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from carbon_fakes import (
    ElectricityMapsFake,
    FakeProxy,
    UKGridFake,
    WattTimeFake,
    fields,
    isolate,
    live_catalog,
    live_region,
    planted,
)

import greenml
from greenml.carbon.electricitymaps import ElectricityMaps
from greenml.carbon.ukgrid import UKCarbonIntensity
from greenml.carbon.watttime import WattTime
from greenml.testing import run_cli

#: Every secret below holds CORE (WattTime's tokens hold it reversed): a text holding either,
#: whole or cut short, leaked one. Each also has characters that change when percent-encoded.
CORE = "S3CR3T"
EM_TOKEN = "em+S3CR3T-tok/4c2e=9b"
WT_USER, WT_PASSWORD = "ada", "wt/S3CR3T+pw 81f0d3"
PROXY_USER, PROXY_PASSWORD = "corp", "px@S3CR3T:9f2c"

NOW = datetime.now(timezone.utc)
JOB = greenml.Job(accelerator="A100", count=8, hours=2)
WINDOW = greenml.Job(accelerator="A100", count=8, hours=2, deadline=NOW + timedelta(hours=20))
GERMANY = live_region("aws", "eu-central-1", "DE", 380.0, "DE", 50.11, 8.68)
LONDON = live_region("aws", "eu-west-2", "GB", 230.0, "GB", 51.51, -0.13)
#: Not in watttime_regions.csv: its WattTime region comes from /v3/region-from-loc.
HONG_KONG = live_region("aws", "ap-east-1", "HK", 700.0, "HK", 22.28, 114.16)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def forbidden(tokens: list[str]) -> list[str]:
    """What no output may hold: the cores, and the base64 forms (which hide the cores)."""
    found = [CORE, CORE[::-1]]
    for secret in [EM_TOKEN, WT_PASSWORD, PROXY_PASSWORD, *tokens]:
        found.append(b64(secret).rstrip("="))
    found += [b64(f"{WT_USER}:{WT_PASSWORD}").rstrip("="),
              b64(f"{PROXY_USER}:{PROXY_PASSWORD}").rstrip("=")]
    return found


def plantings(secrets: list[str], tokens: list[str]) -> list[str]:
    """Each secret in each form a service could echo it in."""
    found = []
    for secret in secrets:
        found += [secret, f"echo:{secret}!", quote(secret, safe=""), quote_plus(secret),
                  b64(secret)]
    found += [f"Basic {b64(f'{WT_USER}:{WT_PASSWORD}')}",
              f"Basic {b64(f'{PROXY_USER}:{PROXY_PASSWORD}')}"]
    found += [f"Bearer {t}" for t in tokens]
    return found


class World:
    """The three fakes behind a password-protected proxy, greenml configured for them."""

    def __init__(self, monkeypatch: Any, tmp_path: Any) -> None:
        self.monkeypatch, self.tmp_path = monkeypatch, tmp_path
        self.em = ElectricityMapsFake(EM_TOKEN, lambda zone, when: 300.0,
                                      zones=("DE", "FR", "US-CAL-CISO", "GB"),
                                      echo_token_in_errors=True)
        self.wt = WattTimeFake(WT_USER, WT_PASSWORD, lambda code, when: 800.0,
                               regions_by_loc={(22.28, 114.16): "HK_GRID"})
        self.uk = UKGridFake(lambda rid, when: 150.0)
        self.proxy = FakeProxy(credentials=(PROXY_USER, PROXY_PASSWORD))
        host, port = self.proxy.server.server_address[:2]
        monkeypatch.setenv("HTTP_PROXY", f"http://{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}"
                                         f"@{host}:{port}")
        monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", EM_TOKEN)
        monkeypatch.setenv("ELECTRICITYMAPS_API_URL", self.em.api_url)
        monkeypatch.setenv("WATTTIME_USERNAME", WT_USER)
        monkeypatch.setenv("WATTTIME_PASSWORD", WT_PASSWORD)
        monkeypatch.setenv("WATTTIME_API_URL", self.wt.url)
        monkeypatch.setenv("GREENML_UK_CARBON_API_URL", self.uk.url)
        monkeypatch.setenv("GREENML_CARBON_ATTEMPTS", "2")
        self.runs = 0

    def tokens(self) -> list[str]:
        """The WattTime tokens the fake has handed out so far."""
        return list(self.wt.issued)

    def fresh_cache(self) -> Any:
        self.runs += 1
        folder = self.tmp_path / f"cache-{self.runs}"
        self.monkeypatch.setenv("GREENML_CACHE_DIR", str(folder))
        return folder

    def close(self) -> None:
        for server in (self.em, self.wt, self.uk, self.proxy):
            server.close()


@pytest.fixture
def world(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path / "cache")
    made = World(monkeypatch, tmp_path)
    yield made
    made.close()


def texts_of(result: Any) -> list[str]:
    if isinstance(result, greenml.Plan):
        return [result.to_json(), result.table(len(result)),
                *(o.explain() for o in result.options),
                *(e.reason for e in result.excluded), repr(result)]
    if isinstance(result, (list, tuple)):
        return [repr(r) for r in result]
    return [repr(result)]


def run(world: World, call: Callable[[], Any], caplog: Any) -> list[str]:
    """Everything one call makes visible: result, error, warnings, log lines, cache files."""
    cache = world.fresh_cache()
    caplog.clear()
    texts: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            texts += texts_of(call())
        except greenml.GreenmlError as exc:
            texts.append(str(exc))
    texts += [str(w.message) for w in caught]
    texts += [r.getMessage() for r in caplog.records]
    texts += [p.read_text(errors="replace") for p in cache.rglob("*") if p.is_file()]
    return texts


def em_cases() -> list[tuple[str, Callable[[], Any]]]:
    old = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [
        ("/v3/carbon-intensity/latest", lambda: greenml.plan(
            JOB, catalog=live_catalog(), carbon_sources=[ElectricityMaps(), "embedded"])),
        ("/v3/carbon-intensity/forecast", lambda: greenml.plan(
            WINDOW, catalog=live_catalog(), carbon_sources=[ElectricityMaps(), "embedded"],
            now=NOW)),
        ("/v3/carbon-intensity/history", lambda: ElectricityMaps().history(
            GERMANY, NOW - timedelta(hours=3), NOW)),
        ("/v3/carbon-intensity/past-range", lambda: ElectricityMaps().history(
            GERMANY, old, old + timedelta(hours=3))),
    ]


def wt_cases() -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("/login", lambda: greenml.plan(JOB, catalog=live_catalog(),
                                        carbon_sources=[WattTime()])),
        ("/v3/historical", lambda: greenml.plan(JOB, catalog=live_catalog(),
                                                carbon_sources=[WattTime()])),
        ("/v3/forecast", lambda: greenml.plan(WINDOW, catalog=live_catalog(),
                                              carbon_sources=[WattTime()], now=NOW)),
        ("/v3/region-from-loc", lambda: WattTime().latest(HONG_KONG)),
    ]


def uk_cases() -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("/regional/regionid/", lambda: greenml.plan(
            JOB, catalog=live_catalog(), carbon_sources=[UKCarbonIntensity(), "embedded"])),
        ("/intensity", lambda: UKCarbonIntensity(national=True).latest(LONDON)),
        ("/regional/intensity/", lambda: greenml.plan(
            WINDOW, catalog=live_catalog(), carbon_sources=[UKCarbonIntensity(), "embedded"],
            now=NOW)),
        ("/intensity/", lambda: UKCarbonIntensity(national=True).forecast(LONDON, NOW)),
        ("/intensity/", lambda: UKCarbonIntensity(national=True).history(
            LONDON, NOW - timedelta(hours=2), NOW)),
        ("/regional/intensity/", lambda: UKCarbonIntensity().history(
            LONDON, NOW - timedelta(hours=2), NOW)),
    ]


SOURCES = {
    "electricitymaps": (lambda w: w.em, em_cases, lambda w: [EM_TOKEN, PROXY_PASSWORD]),
    "watttime": (lambda w: w.wt, wt_cases,
                 lambda w: [WT_PASSWORD, PROXY_PASSWORD, *w.tokens()[-1:]]),
    "uk-carbon-intensity": (lambda w: w.uk, uk_cases,
                            lambda w: [PROXY_PASSWORD, EM_TOKEN, WT_PASSWORD]),
}


@pytest.mark.parametrize("name", list(SOURCES))
def test_a_secret_planted_in_any_field_of_any_answer_never_gets_out(world, caplog, name
                                                                    ) -> None:
    caplog.set_level(logging.DEBUG, logger="greenml")
    fake_of, cases, secrets_of = SOURCES[name]
    fake = fake_of(world)
    runs = scrubbed = 0
    for prefix, call in cases():
        pristine: list[Any] = []

        def record(request: Any, status: int, body: Any, headers: dict[str, str],
                   prefix: str = prefix, seen: list[Any] = pristine
                   ) -> tuple[int, Any, dict[str, str]]:
            if request.path.startswith(prefix) and status == 200 and not seen:
                seen.append(body)
            return status, body, headers

        fake.tamper = record
        texts = run(world, call, caplog)
        assert pristine, f"{prefix} was never asked"
        leaks = [t for t in texts if any(f in t for f in forbidden(world.tokens()))]
        assert not leaks, f"a clean answer from {prefix} leaked: {leaks[0][:300]}"

        variants: list[Callable[[str], tuple[int, Any, dict[str, str]]]] = []
        answer = pristine[0]
        for path in fields(answer):
            variants.append(lambda text, path=path, answer=answer: (
                200, planted(answer, path, text), {}))
        for status in (400, 401, 403, 404, 429, 500):
            variants.append(lambda text, status=status: (
                status, {"error": text, "message": text, "detail": [text]},
                {"Retry-After": text, "X-Echo": text}))
        variants.append(lambda text: (400, {"error": {"code": text, "message": text}}, {}))
        variants.append(lambda text: (200, f"not json {text}".encode(), {}))

        for k, variant in enumerate(variants):
            forms = plantings(secrets_of(world), world.tokens()[-1:])
            text = forms[k % len(forms)]

            def tamper(request: Any, status: int, body: Any, headers: dict[str, str],
                       prefix: str = prefix, variant: Any = variant, text: str = text
                       ) -> tuple[int, Any, dict[str, str]]:
                if request.path.startswith(prefix):
                    return variant(text)
                return status, body, headers

            fake.tamper = tamper
            texts = run(world, call, caplog)
            runs += 1
            scrubbed += any("***" in t for t in texts)
            everything = forbidden(world.tokens())
            leaks = [t for t in texts if any(f in t for f in everything)]
            assert not leaks, (f"{name} {prefix}: {text!r} planted by variant {k} leaked: "
                               f"{leaks[0][:300]}")
    fake.tamper = None
    print(f"\n{name}: {runs} planted answers, a secret scrubbed from the output of {scrubbed}")
    assert runs >= 20 and scrubbed >= runs // 3, "the planted secrets reached the messages"


def greenml_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=120)


@pytest.mark.catalogs
@pytest.mark.parametrize("name,plant,error_status", [
    ("electricitymaps", ("zone",), 401),
    ("watttime", ("meta", "region"), 500),
    ("uk-carbon-intensity", ("data", 0, "regionid"), 400),
])
def test_the_cli_prints_no_echoed_secret(world, name, plant, error_status) -> None:
    fake_of, _, secrets_of = SOURCES[name]
    fake = fake_of(world)
    region = "eu-west-2" if name == "uk-carbon-intensity" else "eu-central-1"
    sources = name if name == "watttime" else f"{name},embedded"
    outputs = []
    secret = secrets_of(world)[0]
    fake.tamper = lambda request, status, body, headers: (
        (status, planted(body, plant, f"echo {secret}"), headers)
        if status == 200 and request.path != "/login" else (status, body, headers))
    world.fresh_cache()
    done = greenml_cli("plan", "--accelerator", "A100", "--count", "8", "--hours", "10",
                       "--region", region, "--carbon-source", sources, "--json")
    assert done.returncode == (2 if name == "watttime" else 0), done.stderr  # 2: no option
    assert "rejected" in done.stderr and "***" in done.stderr + done.stdout
    outputs.append(done)
    done = greenml_cli("intensity", region, "--provider", "aws", "--source", name)
    assert done.returncode == 2 and "***" in done.stderr
    outputs.append(done)
    fake.tamper = lambda request, status, body, headers: (
        (error_status, {"error": {"code": secret, "message": f"echo {secret}"}}
         if name == "uk-carbon-intensity" else {"error": f"echo {secret}"}, {})
        if request.path != "/login" else (status, body, headers))
    world.fresh_cache()
    done = greenml_cli("intensity", region, "--provider", "aws", "--json")
    assert done.returncode == 0, done.stderr
    outputs.append(done)
    fake.tamper = None
    tokens = world.tokens()
    for done in outputs:
        for text in (done.stdout, done.stderr):
            leaks = [f for f in forbidden(tokens) if f in text]
            assert not leaks, f"{done.args[3:]} printed {leaks}: {text[:400]}"
    files = [p.read_text(errors="replace") for p in world.tmp_path.rglob("cache-*/**/*")
             if p.is_file()]
    assert not [t for t in files if any(f in t for f in forbidden(tokens))]


def test_the_plugin_listing_masks_a_secret_a_source_quotes(monkeypatch) -> None:
    """``greenml plugins`` shows each source's credentials check: one that quotes the
    configured token (a third-party source's careless message) is masked there too."""
    token = "em-token-listed-6c1f0a77"
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", token)

    class Careless(greenml.CarbonSource):
        name = "careless"

        def check_credentials(self) -> tuple[bool, str]:
            return False, f"refused token {token}"

    class Plugin:
        @greenml.hookimpl
        def greenml_carbon_sources(self):
            return [Careless()]

    greenml.registry.default().manager.register(Plugin(), name="careless-plugin")
    [info] = [i for i in greenml.registry.infos() if i.name == "careless-plugin"]
    assert info.carbon_sources and token not in " ".join(info.carbon_sources)
    assert "refused token" in info.carbon_sources[0]
