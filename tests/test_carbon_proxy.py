"""Carbon sources behind a proxy, as on many company networks: the environment's proxy
variables are honoured (HTTPS through CONNECT, HTTP in absolute form), NO_PROXY is respected,
and a proxy password is a secret like any other."""

from __future__ import annotations

import pytest
from carbon_fakes import FakeProxy, UKGridFake, isolate, live_region, tls_service

import greenml
from greenml.sources.ukgrid import UKCarbonIntensity

LONDON = live_region("aws", "eu-west-2", "GB", 230.0, "GB", 51.51, -0.13)
PROXY_PASSWORD = "px-SECRET-9f2c1e"


@pytest.fixture
def uk(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path / "cache")
    monkeypatch.setenv("GREENML_CARBON_CACHE_TTL_S", "0")  # every call asks, through the proxy
    fake = UKGridFake(lambda rid, when: 150.0)
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", fake.url)
    yield fake
    fake.close()


@pytest.fixture
def proxy():
    server = FakeProxy()
    yield server
    server.close()


def test_plain_http_goes_through_the_proxy_in_absolute_form(uk, proxy, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    reading = UKCarbonIntensity().latest(LONDON)
    assert reading is not None and reading.g_per_kwh == 150.0
    assert proxy.seen == [("GET", f"{uk.url}/regional/regionid/13", "")]
    assert uk.paths() == ["/regional/regionid/13"]


def test_no_proxy_sends_the_request_straight_to_the_service(uk, proxy, monkeypatch) -> None:
    monkeypatch.setenv("http_proxy", proxy.url())
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    assert UKCarbonIntensity().latest(LONDON) is not None
    assert proxy.seen == [] and uk.paths() == ["/regional/regionid/13"]


def test_proxy_credentials_are_sent_and_never_shown(uk, monkeypatch) -> None:
    server = FakeProxy(credentials=("greenml", PROXY_PASSWORD))
    try:
        monkeypatch.setenv("HTTP_PROXY", server.url("greenml", PROXY_PASSWORD))
        assert UKCarbonIntensity().latest(LONDON) is not None
        assert server.seen[0][2].startswith("Basic ")

        monkeypatch.setenv("HTTP_PROXY", server.url("greenml", PROXY_PASSWORD + "-wrong"))
        with pytest.raises(greenml.CarbonSourceError) as refused:
            UKCarbonIntensity().latest(LONDON)
        message = str(refused.value)
        assert "HTTP 407" in message and "via the proxy 127.0.0.1:" in message
        assert PROXY_PASSWORD not in message and "greenml:" not in message
    finally:
        server.close()


def test_https_goes_through_a_connect_tunnel(uk, proxy, monkeypatch, tmp_path) -> None:
    pytest.importorskip("cryptography")
    ca_file = tls_service(uk, tmp_path)
    port = uk.server.server_address[1]
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", f"https://127.0.0.1:{port}")
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    reading = UKCarbonIntensity().latest(LONDON)
    assert reading is not None and reading.g_per_kwh == 150.0
    assert proxy.seen == [("CONNECT", f"127.0.0.1:{port}", "")]
    assert uk.paths() == ["/regional/regionid/13"], "the request itself went inside the tunnel"


@pytest.mark.parametrize("url", ["socks5://127.0.0.1:1080", "https://proxy.example:3128"])
def test_a_proxy_greenml_cannot_use_is_named(uk, monkeypatch, url) -> None:
    monkeypatch.setenv("HTTP_PROXY", url)
    with pytest.raises(greenml.CarbonSourceError, match="HTTP_PROXY: cannot use the proxy "):
        UKCarbonIntensity().latest(LONDON)
    assert uk.paths() == []
