"""GET JSON from a carbon service: bounded timeouts, retries with backoff, no secret in any text.

Only the standard library (``http.client``): a connect timeout and a per-read timeout, at most
``attempts`` tries, retrying 429 and 5xx (honouring ``Retry-After``) and network errors with
exponential backoff, all within one deadline: the plan's for the source
(``greenml.carbon.current_deadline()``), else ``GREENML_CARBON_DEADLINE_S`` from the call. Each
socket operation waits at most the time left, so a server that answers late or drips bytes
costs the deadline, never more; a retry or ``Retry-After`` that would pass it is not waited
for. Every message this module writes (errors, warnings, log lines) names the service and the
path, never a header, and goes through the one scrubber (``scrub.scrub``).

Proxies are read from the environment as curl and urllib read them (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, upper or lower case): HTTPS goes through a
``CONNECT`` tunnel, plain HTTP in absolute form; ``user:password@`` in the proxy URL is sent
as ``Proxy-Authorization`` and scrubbed like any other secret. Trusted certificates are the
system's, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (a corporate TLS-inspecting proxy's CA).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import CarbonDataWarning, CarbonSourceError
from ..launch import parse_retry_after
from . import settings
from .scrub import register, scrub

if TYPE_CHECKING:
    import socket

    from ..carbon import Deadline

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A ``Retry-After`` longer than this is not waited for: the request fails and the plan falls
#: back to the next source instead of hanging.
MAX_RETRY_WAIT_S = 30.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
MAX_BODY_BYTES = 20 * 2**20

#: The TLS context, per (SSL_CERT_FILE, SSL_CERT_DIR): loading the trust store takes ~20 ms.
_ssl_contexts: dict[tuple[str, str], Any] = {}


@attrs.frozen
class Proxy:
    """Where to send a request instead of the service itself, and how to sign in there."""

    host: str
    port: int
    authorization: str = attrs.field(repr=False)  # Proxy-Authorization, "" for none
    password: str = attrs.field(repr=False)

    @property
    def shown(self) -> str:
        return f"{self.host}:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


def proxy_for(scheme: str, host: str, source: str) -> Proxy | None:
    """The proxy the environment names for ``scheme`` and ``host``, or None (none set, or
    ``NO_PROXY`` covers the host). A proxy URL greenml cannot use is an error naming it."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import (  # type: ignore[attr-defined]  # untyped, but public
        getproxies_environment,
        proxy_bypass_environment,
    )

    proxies = getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or proxy_bypass_environment(host, proxies):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    variable = f"{scheme.upper()}_PROXY" if proxies.get(scheme) else "ALL_PROXY"
    if parts.scheme != "http" or not parts.hostname:
        raise HttpError(source, f"{variable}: cannot use the proxy {parts.scheme}://"
                        f"{parts.hostname or '?'}: give http://[user:password@]host:port")
    try:
        port = parts.port or 80
    except ValueError:
        raise HttpError(source, f"{variable}: the proxy's port is not a number") from None
    authorization, password = "", unquote(parts.password or "")
    if parts.username:
        authorization = basic_auth(unquote(parts.username), password)
    return Proxy(parts.hostname, port, authorization, password)


def debug(message: str, *args: Any) -> None:
    """Log to ``greenml.sources`` at DEBUG, scrubbed (logging is imported only when a source
    works, and the line is built only when DEBUG is on)."""
    import logging

    logger = logging.getLogger("greenml.sources")
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s", scrub(message % args if args else message))


class HttpError(CarbonSourceError):
    """A request that failed for good; ``status`` is the last HTTP status (None: no response)."""

    def __init__(self, source: str, message: str, status: int | None = None,
                 scope: str = "source") -> None:
        self.status = status
        super().__init__(source, scrub(message), scope)


class DeadlinePassed(TimeoutError):
    """A socket operation stopped because the source's deadline, not its own limit, ran out."""


def rejected(source: str, what: str, why: str, scope: str = "region") -> CarbonSourceError:
    """Warn that a response was rejected, and return the error to raise: it is never used.

    ``why`` may quote the answer: the message is scrubbed before anyone sees it."""
    import warnings

    text = scrub(f"rejected {what}: {why}")
    warnings.warn(f"{source}: {text}", CarbonDataWarning, stacklevel=3)
    debug("%s: %s", source, text)
    return CarbonSourceError(source, text, scope)


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic."""
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class HttpClient:
    """GETs JSON from one service's base URL; ``secrets`` are scrubbed from every message."""

    def __init__(self, source: str, base_url: str, *, secrets: Iterable[str] = (),
                 connect_timeout_s: float | None = None, read_timeout_s: float | None = None,
                 attempts: int | None = None, sleep: Callable[[float], None] | None = None
                 ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        register(*secrets)
        self.connect_timeout_s = (connect_timeout_s if connect_timeout_s is not None
                                  else settings.connect_timeout_s())
        self.read_timeout_s = (read_timeout_s if read_timeout_s is not None
                               else settings.read_timeout_s())
        self.attempts = attempts if attempts is not None else settings.attempts()
        self.sleep = sleep if sleep is not None else _sleep

    def __repr__(self) -> str:
        return f"<HttpClient {self.source} {self.scrub(self.base_url)}>"

    def add_secret(self, value: str) -> None:
        """Scrub ``value`` (a token handed out at login) from every message from now on."""
        register(value)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***`` (``scrub.scrub``)."""
        return scrub(text)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        from urllib.parse import urlencode

        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON body of a 2xx answer; HttpError once every attempt has failed or
        the deadline has passed."""
        from ..carbon import Deadline, current_deadline

        deadline = current_deadline()
        if deadline is None:
            budget_s = settings.deadline_s()
            deadline = Deadline(time.monotonic() + budget_s, budget_s)
        url = self.url(path, params)
        shown = self.scrub(path)
        from urllib.parse import urlsplit

        target = urlsplit(url)
        proxy = proxy_for(target.scheme, target.hostname or "", self.source)
        if proxy is not None:
            self.add_secret(proxy.authorization)
            self.add_secret(proxy.password)
            shown += f" (via the proxy {proxy.shown})"
        failure, status = "no attempt made", None
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            wait: float | None = None
            started = time.monotonic()
            if deadline.left_s() <= 0:
                raise self._late(shown, deadline, attempt - 1, failure)
            try:
                status, reply_headers, body = self._get(url, dict(headers or {}), proxy,
                                                        deadline)
            except HttpError:
                raise
            except DeadlinePassed as exc:
                raise self._late(shown, deadline, attempt, f"stopped while {exc}") from None
            except TimeoutError as exc:
                status = None
                failure = self.scrub(f"timed out ({exc or 'no answer'})")
            except (OSError, ValueError) as exc:
                status = None
                failure = self.scrub(f"connection failed ({type(exc).__name__}: {exc})")
            except Exception as exc:  # http.client.HTTPException and kin: a broken answer
                status = None
                failure = self.scrub(f"broken response ({type(exc).__name__})")
            else:
                debug("%s GET %s -> %s (%.2f s)", self.source, self.scrub(url), status,
                          time.monotonic() - started)
                if 200 <= status < 300:
                    return self._decode(body, shown)
                failure = f"HTTP {status}{self._detail(body)}"
                if status not in RETRY_STATUSES:
                    scope = "region" if status in (400, 404) else "source"
                    raise HttpError(self.source, f"{failure} from {shown}", status, scope)
                wait = parse_retry_after(reply_headers.get("retry-after"))
            if attempt == self.attempts:
                break
            if wait is None:
                wait = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            if wait > MAX_RETRY_WAIT_S:
                failure += f"; asked to retry after {wait:.0f} s"
                break
            if wait >= deadline.left_s():
                raise self._late(shown, deadline, attempt,
                                 f"{failure}; a retry in {wait:.1f} s would pass the deadline")
            debug("%s GET %s: %s; retrying in %.1f s", self.source, shown, failure, wait)
            self.sleep(wait)
        raise HttpError(self.source, f"{failure} from {shown} after {attempt} attempt(s)", status)

    def _late(self, shown: str, deadline: Deadline, attempts: int, last: str) -> HttpError:
        """The error for a request the deadline stopped: the source counts as unavailable."""
        tried = f"; {attempts} attempt(s), the last {last}" if attempts else ""
        return HttpError(self.source, f"no answer from {shown} within its {deadline.budget_s:g} "
                         f"s deadline (GREENML_CARBON_DEADLINE_S{tried})", None, "source")

    def _get(self, url: str, headers: dict[str, str], proxy: Proxy | None = None,
             deadline: Deadline | None = None) -> tuple[int, dict[str, str], bytes]:
        """One GET. Connecting (with any proxy tunnel and TLS handshake) waits at most the
        connect timeout, and every later socket operation at most the read timeout, each cut
        to the time the deadline leaves (then ``DeadlinePassed``)."""
        import functools
        import http.client
        from urllib.parse import urlsplit

        from .. import __version__

        parts = urlsplit(url)
        host = parts.hostname or ""
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        at = (proxy.host, proxy.port) if proxy else (host, parts.port)
        connect_s, cut = _limit(self.connect_timeout_s, deadline)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                *at, timeout=connect_s, context=_ssl())
            if proxy:
                conn.set_tunnel(host, parts.port or 443, headers=proxy.headers())
        elif parts.scheme == "http":
            conn = http.client.HTTPConnection(*at, timeout=connect_s)
            if proxy:
                target, headers = url, {**headers, **proxy.headers()}
        else:
            raise HttpError(self.source, f"unsupported URL scheme {parts.scheme!r} in the "
                            "configured API URL (use https:// or http://)")
        # Every response (a proxy's answer to CONNECT too) reads through the deadline.
        conn.response_class = functools.partial(  # type: ignore[assignment]
            _deadline_response, read_timeout_s=self.read_timeout_s, deadline=deadline)
        phase, limit = "connecting", connect_s
        try:
            try:
                conn.connect()
                phase = "reading"
                assert conn.sock is not None
                limit, cut = _limit(self.read_timeout_s, deadline)
                conn.sock.settimeout(limit)
                conn.request("GET", target, headers={
                    "Accept": "application/json", "User-Agent": f"greenml/{__version__}",
                    **headers})
                response = conn.getresponse()
                body = response.read(MAX_BODY_BYTES + 1)
            except DeadlinePassed:
                raise DeadlinePassed(phase) from None
            except TimeoutError:
                if cut:
                    raise DeadlinePassed(phase) from None
                if phase == "reading":
                    limit = self.read_timeout_s
                raise TimeoutError(f"{phase}, limit {limit:g} s") from None
            if len(body) > MAX_BODY_BYTES:
                raise HttpError(self.source, f"response from {self.scrub(parts.path)} is larger "
                                f"than {MAX_BODY_BYTES // 2**20} MiB")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()

    def _decode(self, body: bytes, shown: str) -> Any:
        import json

        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise rejected(self.source, f"the response from {shown}", "it is not JSON",
                           scope="source") from None

    def _detail(self, body: bytes) -> str:
        """The service's own error message, if its body carries one (scrubbed, shortened)."""
        import json

        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return ""
        message: Any = None
        if isinstance(data, dict):
            message = data.get("error") or data.get("message")
            if isinstance(message, dict):
                message = message.get("message") or message.get("code")
        if not isinstance(message, str) or not message.strip():
            return ""
        return f": {scrub(' '.join(scrub(message).split())[:200])}"


def _limit(limit_s: float, deadline: Deadline | None) -> tuple[float, bool]:
    """How long one socket operation may wait, and whether the deadline cut it short."""
    if deadline is None:
        return limit_s, False
    left = deadline.left_s()
    if left <= 0:
        raise DeadlinePassed("waiting")
    return (left, True) if left < limit_s else (limit_s, False)


class _DeadlineReader(io.RawIOBase):
    """Reads a socket with each read bounded by the per-read timeout and the time left, so a
    server sending a byte at a time cannot hold a request past its deadline."""

    def __init__(self, raw: Any, sock: socket.socket, read_timeout_s: float,
                 deadline: Deadline | None) -> None:
        super().__init__()
        self.raw = raw  # the socket's own file: it keeps the socket open while reading
        self.sock = sock
        self.read_timeout_s = read_timeout_s
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        limit, cut = _limit(self.read_timeout_s, self.deadline)
        self.sock.settimeout(limit)
        try:
            return int(self.raw.readinto(buffer))
        except TimeoutError:
            if cut:
                raise DeadlinePassed("reading") from None
            raise

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


def _deadline_response(sock: socket.socket, *args: Any, read_timeout_s: float,
                       deadline: Deadline | None, **kwargs: Any) -> Any:
    """An ``http.client.HTTPResponse`` that reads through ``_DeadlineReader``."""
    import http.client

    response = http.client.HTTPResponse(sock, *args, **kwargs)
    raw = response.fp.detach()  # the socket file it made; reads go through the deadline
    response.fp = io.BufferedReader(_DeadlineReader(raw, sock, read_timeout_s, deadline))
    return response


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _ssl() -> Any:
    """The default TLS context; SSL_CERT_FILE/SSL_CERT_DIR, read by OpenSSL, choose the trust
    store, so a changed value gets a new context."""
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    if key not in _ssl_contexts:
        import ssl

        _ssl_contexts[key] = ssl.create_default_context()
    return _ssl_contexts[key]
