"""Carbon sources behind a proxy, as on many company networks: the environment's proxy
variables are honoured (HTTPS through CONNECT, HTTP in absolute form), the proxy itself may
be reached over TLS (an https:// proxy: TLS in TLS for an HTTPS service), NO_PROXY is
respected, and a proxy password is a secret like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from carbon_fakes import FakeProxy, UKGridFake, isolate, live_region, tls_service

import greenml
from greenml.carbon.ukgrid import UKCarbonIntensity

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


@pytest.mark.parametrize("url", ["socks5://127.0.0.1:1080", "ftp://proxy.example:3128"])
def test_a_proxy_greenml_cannot_use_is_named(uk, monkeypatch, url) -> None:
    monkeypatch.setenv("HTTP_PROXY", url)
    with pytest.raises(greenml.CarbonSourceError, match="HTTP_PROXY: cannot use the proxy "):
        UKCarbonIntensity().latest(LONDON)
    assert uk.paths() == []


def tls_proxy(tmp_path, credentials: tuple[str, str] | None = None) -> tuple[FakeProxy, str]:
    """A FakeProxy that speaks TLS to its clients, with its own self-signed certificate;
    returns it and the certificate to trust."""
    import ssl

    from greenml.testing import self_signed_certificate

    folder = tmp_path / "proxy-cert"
    folder.mkdir()
    cert_file, key_file = self_signed_certificate(folder, "greenml test proxy")
    server = FakeProxy(credentials=credentials)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    return server, str(cert_file)


def https_url(server: FakeProxy, user: str = "", password: str = "") -> str:
    return server.url(user, password).replace("http://", "https://", 1)


def test_an_https_proxy_forwards_plain_http(uk, monkeypatch, tmp_path) -> None:
    pytest.importorskip("cryptography")
    server, ca_file = tls_proxy(tmp_path)
    try:
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)
        monkeypatch.setenv("HTTP_PROXY", https_url(server))
        reading = UKCarbonIntensity().latest(LONDON)
        assert reading is not None and reading.g_per_kwh == 150.0
        assert server.seen == [("GET", f"{uk.url}/regional/regionid/13", "")]
        assert uk.paths() == ["/regional/regionid/13"]
    finally:
        server.close()


def test_https_through_an_https_proxy_is_tls_in_tls(uk, monkeypatch, tmp_path) -> None:
    pytest.importorskip("cryptography")
    service_ca = tls_service(uk, tmp_path)
    server, proxy_ca = tls_proxy(tmp_path, credentials=("greenml", PROXY_PASSWORD))
    try:
        bundle = tmp_path / "both.pem"
        bundle.write_text(Path(service_ca).read_text() + Path(proxy_ca).read_text())
        port = uk.server.server_address[1]
        monkeypatch.setenv("GREENML_UK_CARBON_API_URL", f"https://127.0.0.1:{port}")
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.setenv("HTTPS_PROXY", https_url(server, "greenml", PROXY_PASSWORD))
        reading = UKCarbonIntensity().latest(LONDON)
        assert reading is not None and reading.g_per_kwh == 150.0
        assert [(m, t) for m, t, _ in server.seen] == [("CONNECT", f"127.0.0.1:{port}")]
        assert server.seen[0][2].startswith("Basic ")
        assert uk.paths() == ["/regional/regionid/13"], "the request went inside the tunnel"
    finally:
        server.close()


def test_an_untrusted_https_proxy_is_refused_without_showing_its_password(
        uk, monkeypatch, tmp_path) -> None:
    pytest.importorskip("cryptography")
    server, _ = tls_proxy(tmp_path, credentials=("greenml", PROXY_PASSWORD))
    try:
        monkeypatch.setenv("GREENML_CARBON_ATTEMPTS", "1")
        monkeypatch.setenv("HTTP_PROXY", https_url(server, "greenml", PROXY_PASSWORD))
        with pytest.raises(greenml.CarbonSourceError) as refused:
            UKCarbonIntensity().latest(LONDON)
        message = str(refused.value)
        assert "CERTIFICATE_VERIFY_FAILED" in message and "via the proxy 127.0.0.1:" in message
        assert PROXY_PASSWORD not in message
        assert server.seen == [] and uk.paths() == []
    finally:
        server.close()
