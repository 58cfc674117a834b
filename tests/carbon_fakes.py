"""Local HTTP servers that speak the carbon services' documented shapes (CARBON_APIS.md).

Each fake is a ``greenml.testing.fakeserver.FakeServer`` (a real HTTP server on 127.0.0.1)
driven through greenml's real clients. A fake records every request, can be told to answer
the next requests with a scripted status and body (429 then success, 500, garbage), to change
its answers as a hostile or broken service would (``tamper``: echo a token into any field), to
answer late (``delay_s``) or to drip its answer a byte at a time (``drip_s``).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import attrs

import greenml
from greenml.testing import region
from greenml.testing.fakeserver import FakeServer, Reply, split_target

Body = Any  # a JSON-able value, or bytes sent as they are


@attrs.define
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def hour(when: datetime) -> datetime:
    return when.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def half_hour(when: datetime) -> datetime:
    when = when.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return when.replace(minute=when.minute // 30 * 30)


def iso_z(when: datetime, millis: bool = True) -> str:
    text = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if millis else "Z")


def uk_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def parse_uk(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)


class FakeService(FakeServer):
    """A local server, serving from construction; subclasses implement
    ``answer(request) -> (status, body, headers)``."""

    protocol_version = "HTTP/1.0"

    def __init__(self) -> None:
        super().__init__()
        #: Seconds to wait before answering (a late server).
        self.delay_s = 0.0
        #: Seconds between the bytes of an answer, status line and headers included (a
        #: dripping server: each read gets a byte well within any per-read timeout).
        self.drip_s = 0.0
        #: Rewrites each answer before it is sent: ``tamper(request, status, body, headers)``
        #: returns the (status, body, headers) to send instead.
        self.tamper: Callable[[Request, int, Body, dict[str, str]],
                              tuple[int, Body, dict[str, str]]] | None = None
        self.start()

    @property
    def requests(self) -> list[Request]:
        """Every request received, oldest first."""
        return [Request(c["path"], c["query"], c["headers"]) for c in self.calls()]

    def script(self, status: int, body: Body, headers: dict[str, str] | None = None,
               times: int = 1) -> None:
        """Answer the next ``times`` requests with this, whatever they ask."""
        self.add_rule("script", times=times, status=status, body=body, headers=headers or {})

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def answer(self, request: Request) -> tuple[int, Body, dict[str, str]]:
        raise NotImplementedError

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> Reply:
        path, query = split_target(target)
        request = Request(path, query, {k.lower(): v for k, v in headers.items()})
        self.record({"method": verb, "path": path, "query": query, "headers": request.headers})
        if self.delay_s:
            self.pause(self.delay_s)
        scripted = self.fire("script", {})
        if scripted is not None:
            status, answer, extra = scripted.status, scripted.detail["body"], \
                scripted.detail["headers"]
        else:
            status, answer, extra = self.answer(request)
        if self.tamper is not None:
            status, answer, extra = self.tamper(request, status, copy.deepcopy(answer),
                                                dict(extra))
        payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        close = [("Connection", "close")] if self.drip_s else []
        return status, [("Content-Type", "application/json"), *close, *extra.items()], payload

    def write(self, out: io.BufferedIOBase, data: bytes) -> None:
        """Drip the answer a byte every ``drip_s`` (until ``close()``), or send it whole."""
        if not self.drip_s:
            return super().write(out, data)
        for i in range(len(data)):
            out.write(data[i:i + 1])
            if self.pause(self.drip_s):
                return

    def close(self) -> None:
        self.stop()


def fields(body: Body, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every field of a JSON answer, as a path of keys and indexes: the answer itself, each
    object member and the first item of each list, at every depth."""
    found = [path]
    if isinstance(body, dict):
        for key, value in body.items():
            found += fields(value, (*path, key))
    elif isinstance(body, list) and body:
        found += fields(body[0], (*path, 0))
    return found


def planted(body: Body, path: tuple[Any, ...], value: Any) -> Body:
    """``body`` with the field at ``path`` replaced by ``value``."""
    if not path:
        return value
    body = copy.deepcopy(body)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return body


def flat(value: float) -> Callable[[str, datetime], float | None]:
    return lambda zone, when: value


class ElectricityMapsFake(FakeService):
    """Electricity Maps v3 under ``/v3``: latest, history, forecast, past-range, zones.

    ``intensity(zone, time)`` gives each hour's value (None: a null carbonIntensity);
    ``zones`` None serves every zone.
    """

    def __init__(self, token: str, intensity: Callable[[str, datetime], float | None],
                 zones: tuple[str, ...] | None = ("DE", "FR", "SE-SE3"),
                 forecast_hours: int = 24,
                 echo_token_in_errors: bool = False) -> None:
        self.token = token
        self.intensity = intensity
        self.zones = zones
        self.forecast_hours = forecast_hours
        self.echo = echo_token_in_errors
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"{self.url}/v3"

    def item(self, zone: str, when: datetime, factor: str) -> dict[str, Any]:
        stamp = iso_z(when)
        return {"zone": zone, "carbonIntensity": self.intensity(zone, when), "datetime": stamp,
                "updatedAt": stamp, "createdAt": stamp, "emissionFactorType": factor,
                "isEstimated": False, "estimationMethod": None}

    def answer(self, request: Request) -> tuple[int, Body, dict[str, str]]:
        token = request.headers.get("auth-token", "")
        if token != self.token:
            message = f"Invalid auth-token {token}" if self.echo else "Invalid auth-token"
            return 401, {"error": message}, {}
        if request.path == "/v3/zones":
            return 200, {z: {"zoneName": z, "access": ["carbon-intensity/history",
                                                        "carbon-intensity/forecast"]}
                         for z in self.zones or ()}, {}
        zone = request.query.get("zone", "")
        if self.zones is not None and zone not in self.zones:
            return 404, {"message": f"Zone '{zone}' does not exist"}, {}
        factor = request.query.get("emissionFactorType", "lifecycle")
        now = datetime.now(timezone.utc)
        if request.path == "/v3/carbon-intensity/latest":
            return 200, self.item(zone, hour(now), factor), {}
        if request.path == "/v3/carbon-intensity/history":
            start = hour(now) - timedelta(hours=23)
            items = [self.item(zone, start + timedelta(hours=i), factor) for i in range(24)]
            return 200, {"zone": zone, "history": items}, {}
        if request.path == "/v3/carbon-intensity/past-range":
            start = hour(datetime.fromisoformat(request.query["start"]))
            end = datetime.fromisoformat(request.query["end"])
            items, when = [], start
            while when < end:
                items.append(self.item(zone, when, factor))
                when += timedelta(hours=1)
            return 200, {"zone": zone, "data": items}, {}
        if request.path == "/v3/carbon-intensity/forecast":
            start = hour(now)
            items = [{"carbonIntensity": self.intensity(zone, start + timedelta(hours=i)),
                      "datetime": iso_z(start + timedelta(hours=i))}
                     for i in range(self.forecast_hours)]
            return 200, {"zone": zone, "forecast": items, "updatedAt": iso_z(now)}, {}
        return 404, {"error": f"no route {request.path}"}, {}


class WattTimeFake(FakeService):
    """WattTime v3: /login (Basic), then Bearer on /v3/forecast, /v3/historical,
    /v3/region-from-loc. ``lbs(region, time)`` gives each 5-minute value in lb/MWh."""

    def __init__(self, username: str, password: str,
                 lbs: Callable[[str, datetime], float],
                 regions_by_loc: dict[tuple[float, float], str] | None = None,
                 units: str = "lbs_co2_per_mwh", horizon_hours: int = 24) -> None:
        self.username = username
        self.password = password
        self.lbs = lbs
        self.regions_by_loc = regions_by_loc or {}
        self.units = units
        self.horizon_hours = horizon_hours
        self.tokens: set[str] = set()
        self.issued: list[str] = []
        self.logins = 0
        super().__init__()

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def series(self, code: str, signal: str, start: datetime, points: int
               ) -> dict[str, Any]:
        data = [{"point_time": (start + timedelta(minutes=5 * i)).isoformat(),
                 "value": self.lbs(code, start + timedelta(minutes=5 * i)), "version": "1.0"}
                for i in range(points)]
        now = datetime.now(timezone.utc).isoformat()
        return {"data": data, "meta": {
            "region": code, "signal_type": signal, "units": self.units,
            "data_point_period_seconds": 300, "generated_at_period_seconds": 300,
            "generated_at": now, "model": {"date": "2023-03-01", "type": "binned_regression"}}}

    def answer(self, request: Request) -> tuple[int, Body, dict[str, str]]:
        auth = request.headers.get("authorization", "")
        if request.path == "/login":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if auth != f"Basic {expected}":
                return 403, {"error": "invalid credentials"}, {}
            self.logins += 1
            token = f"wt-token-{self.logins}-{self.password[::-1]}"
            self.tokens.add(token)
            self.issued.append(token)
            return 200, {"token": token}, {}
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return 401, {"error": "token expired"}, {}
        q = request.query
        signal = q.get("signal_type", "co2_moer")
        if request.path == "/v3/region-from-loc":
            key = (round(float(q["latitude"]), 2), round(float(q["longitude"]), 2))
            if key not in self.regions_by_loc:
                return 400, {"error": "Coordinates not found in any region"}, {}
            code = self.regions_by_loc[key]
            return 200, {"region": code, "region_full_name": code, "signal_type": signal}, {}
        if request.path == "/v3/forecast":
            now = datetime.now(timezone.utc)
            start = now.replace(minute=now.minute // 5 * 5, second=0, microsecond=0)
            hours = min(int(q.get("horizon_hours", 24)), self.horizon_hours)
            return 200, self.series(q["region"], signal, start, hours * 12), {}
        if request.path == "/v3/historical":
            start = datetime.fromisoformat(q["start"])
            end = datetime.fromisoformat(q["end"])
            start = start.replace(minute=start.minute // 5 * 5, second=0, microsecond=0)
            points = max(0, int((end - start).total_seconds() // 300))
            return 200, self.series(q["region"], signal, start, points), {}
        return 404, {"error": "not found"}, {}


class UKGridFake(FakeService):
    """The UK carbon intensity API: national and regional, latest, fw48h and ranges.

    ``intensity(regionid or 0, time)`` gives each half hour's forecast; national past
    periods carry it as ``actual`` too."""

    def __init__(self, intensity: Callable[[int, datetime], float | None]) -> None:
        self.intensity = intensity
        super().__init__()

    def period(self, rid: int, start: datetime, national: bool) -> dict[str, Any]:
        value = self.intensity(rid, start)
        past = start + timedelta(minutes=30) <= datetime.now(timezone.utc)
        intensity: dict[str, Any] = {"forecast": value, "index": "moderate"}
        if national:
            intensity["actual"] = value if past else None
        item = {"from": uk_time(start), "to": uk_time(start + timedelta(minutes=30)),
                "intensity": intensity}
        if not national:
            item["generationmix"] = [{"fuel": "gas", "perc": 43.6}, {"fuel": "wind",
                                                                      "perc": 56.4}]
        return item

    def periods(self, rid: int, start: datetime, count: int, national: bool) -> list[Any]:
        return [self.period(rid, start + timedelta(minutes=30 * i), national)
                for i in range(count)]

    def region(self, rid: int, periods: list[Any]) -> dict[str, Any]:
        return {"regionid": rid, "dnoregion": "UKPN London", "shortname": "London",
                "data": periods}

    def answer(self, request: Request) -> tuple[int, Body, dict[str, str]]:
        parts = [p for p in request.path.split("/") if p]
        now = half_hour(datetime.now(timezone.utc))
        try:
            if parts == ["intensity"]:
                return 200, {"data": self.periods(0, now, 1, True)}, {}
            if len(parts) == 3 and parts[0] == "intensity" and parts[2] == "fw48h":
                return 200, {"data": self.periods(0, parse_uk(parts[1]), 96, True)}, {}
            if len(parts) == 3 and parts[0] == "intensity":
                start, end = parse_uk(parts[1]), parse_uk(parts[2])
                count = int((end - start).total_seconds() // 1800)
                return 200, {"data": self.periods(0, start, count, True)}, {}
            if parts[:2] == ["regional", "regionid"]:
                rid = int(parts[2])
                return 200, {"data": [self.region(rid, self.periods(rid, now, 1, False))]}, {}
            if parts[:2] == ["regional", "intensity"] and parts[3] == "fw48h":
                rid = int(parts[5])
                periods = self.periods(rid, parse_uk(parts[2]), 96, False)
                return 200, {"data": [self.region(rid, periods)]}, {}
            if parts[:2] == ["regional", "intensity"]:
                rid = int(parts[5])
                start, end = parse_uk(parts[2]), parse_uk(parts[3])
                count = int((end - start).total_seconds() // 1800)
                return 200, {"data": [self.region(rid, self.periods(rid, start, count,
                                                                     False))]}, {}
        except (ValueError, IndexError):
            pass
        return 400, {"error": {"code": "400 Bad Request",
                               "message": f"Please enter a valid path: {request.path}"}}, {}


def live_region(provider: str, name: str, country: str, annual_g: float, grid_zone: str,
                latitude: float | None = None, longitude: float | None = None
                ) -> greenml.Region:
    """A test region with a grid zone and coordinates, as the live sources need."""
    return attrs.evolve(region(provider, name, country, annual_g), grid_zone=grid_zone,
                        latitude=latitude, longitude=longitude)


def live_catalog(sources: tuple[greenml.CarbonSource, ...] = ()) -> greenml.Catalog:
    """Four regions whose names match the WattTime and UK package data, one A100 offer each."""
    from greenml.testing import accelerator, offer

    regions = [
        live_region("aws", "eu-central-1", "DE", 380.0, "DE", 50.11, 8.68),
        live_region("aws", "eu-west-3", "FR", 60.0, "FR", 48.86, 2.34),
        live_region("aws", "us-west-1", "US", 250.0, "US-CAL-CISO", 37.78, -122.42),
        live_region("aws", "eu-west-2", "GB", 230.0, "GB", 51.51, -0.13),
    ]
    offers = [offer("aws", r.name, "p4d", "A100", 8, 30.0) for r in regions]
    return greenml.Catalog(regions, offers, [accelerator("A100", 400, 312)], sources)


CARBON_VARIABLES = (
    "ELECTRICITYMAPS_API_TOKEN", "ELECTRICITYMAPS_API_URL", "ELECTRICITYMAPS_EMISSION_FACTOR_TYPE",
    "WATTTIME_USERNAME", "WATTTIME_PASSWORD", "WATTTIME_API_URL", "WATTTIME_SIGNAL_TYPE",
    "GREENML_UK_CARBON_API_URL", "GREENML_CACHE_DIR", "GREENML_CARBON_CACHE_TTL_S",
    "GREENML_CARBON_CONNECT_TIMEOUT_S", "GREENML_CARBON_READ_TIMEOUT_S",
    "GREENML_CARBON_ATTEMPTS", "GREENML_CARBON_DEADLINE_S",
    # a proxy the machine running the tests may set would stand between the clients and fakes
    *(f"{name}_{suffix}" for name in ("HTTP", "HTTPS", "ALL", "NO")
      for suffix in ("PROXY", "proxy")),
)


def isolate(monkeypatch: Any, cache_dir: Any) -> list[float]:
    """A clean carbon environment: no keys, a private cache, short timeouts, no real sleeping.

    Returns the list the retry waits are recorded in.
    """
    import greenml.carbon.http as http

    for name in CARBON_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GREENML_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("GREENML_CARBON_CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("GREENML_CARBON_READ_TIMEOUT_S", "2")
    monkeypatch.setenv("GREENML_UK_CARBON_API_URL", "http://127.0.0.1:9/not-used")
    slept: list[float] = []
    monkeypatch.setattr(http, "_sleep", slept.append)
    return slept


@contextlib.contextmanager
def rejected(why: str, error: str = "rejected") -> Iterator[Any]:
    """Expect a rejected response: a CarbonDataWarning matching ``why``, then the error."""
    import pytest

    with pytest.warns(greenml.CarbonDataWarning, match=why), \
            pytest.raises(greenml.CarbonSourceError, match=error) as info:
        yield info


class FakeProxy:
    """A local forward proxy: plain HTTP in absolute form, anything else through ``CONNECT``.

    It records ``(method, target, Proxy-Authorization)`` for each request and, given
    ``credentials``, answers 407 to a request that does not carry them, as a proxy does.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        import http.client
        import select
        import socket

        self.seen: list[tuple[str, str, str]] = []
        expected = ("Basic " + base64.b64encode(":".join(credentials).encode()).decode()
                    if credentials else "")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _allowed(self) -> bool:
                given = self.headers.get("Proxy-Authorization", "")
                proxy.seen.append((self.command, self.path, given))
                if given == expected:
                    return True
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                if not self._allowed():
                    return
                parts = urlsplit(self.path)
                upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                forwarded = {k: v for k, v in self.headers.items()
                             if k.lower() not in ("proxy-authorization", "connection")}
                upstream.request("GET", self.path[len(f"http://{parts.netloc}"):] or "/",
                                 headers=forwarded)
                reply = upstream.getresponse()
                body = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                upstream.close()

            def do_CONNECT(self) -> None:  # noqa: N802
                if not self._allowed():
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                ends = [self.connection, upstream]
                while True:
                    ready, _, _ = select.select(ends, [], [], 10)
                    if not ready:
                        break
                    for end in ready:
                        data = end.recv(65536)
                        if not data:
                            upstream.close()
                            return
                        (upstream if end is self.connection else self.connection).sendall(data)
                upstream.close()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def url(self, user: str = "", password: str = "") -> str:
        host, port = self.server.server_address[:2]
        login = f"{user}:{password}@" if user else ""
        return f"http://{login}{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tls_service(fake: FakeService, directory: Any) -> str:
    """Serve ``fake`` over TLS with a new self-signed certificate; returns the CA file to trust
    (``SSL_CERT_FILE``). Needs the ``cryptography`` package."""
    return str(fake.use_tls(directory, "greenml carbon test"))
