"""One GET through urllib3, every socket operation bounded by a deadline (``fetch``).

urllib3 (imported on the first request, never with greenml) pools connections per host, so
a plan's requests to one service reuse a kept-alive TLS connection; it tunnels HTTPS through
a proxy, http:// or https:// (TLS in TLS), and forwards plain HTTP in absolute form. What it
does not know is greenml's deadline: a per-read timeout does not bound a server that drips
its answer a byte at a time. So its connections here cut connecting (proxy tunnel and TLS
handshake included) and every read (status line, headers and body, a proxy's answer to
CONNECT too) to the time the deadline leaves, and say when the deadline, not a timeout,
stopped them (``DeadlinePassed``). urllib3's retries and redirects are off: greenml's own
retry policy (``greenml.retry``) decides, and urllib3's log lines go through the scrubber.
"""

from __future__ import annotations

import contextvars
import functools
import io
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from greenml.scrub import scrub

if TYPE_CHECKING:
    import socket

    from greenml.carbon.deadline import Deadline

#: urllib3's loggers: their lines (a header it could not parse quotes the answer) are scrubbed.
URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.response",
                   "urllib3.poolmanager")

#: The TLS context, per (SSL_CERT_FILE, SSL_CERT_DIR): loading the trust store takes ~20 ms.
_ssl_contexts: dict[tuple[str, str], Any] = {}
#: One urllib3 pool manager per (trust store, proxy, proxy credentials), kept for reuse.
_managers: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()
_pool_classes: dict[str, Any] = {}


@attrs.frozen
class Proxy:
    """Where to send a request instead of the service itself, and how to sign in there."""

    host: str
    port: int
    authorization: str = attrs.field(repr=False)  # Proxy-Authorization, "" for none
    password: str = attrs.field(repr=False)
    scheme: str = "http"

    @property
    def shown(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The proxy's URL without its credentials (they travel as a header)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


class DeadlinePassed(TimeoutError):
    """A socket operation stopped because the source's deadline, not its own limit, ran out."""


class Failed(Exception):
    """A request that got no usable answer, in words for a message: the connection failed
    (naming the socket or TLS error underneath) or the answer was broken (its type only: a
    broken answer may quote the service)."""


def fetch(url: str, headers: Mapping[str, str], proxy: Proxy | None, deadline: Deadline | None,
          connect_timeout_s: float, read_timeout_s: float, max_bytes: int
          ) -> tuple[int, Mapping[str, str], bytes]:
    """GET ``url``: (status, headers, at most ``max_bytes`` of the body). Raises
    ``DeadlinePassed``, ``TimeoutError("<phase>, limit <s> s")`` or ``Failed``."""
    import urllib3

    request = _Request(deadline, read_timeout_s)
    token = _current.set(request)
    try:
        tls = url.startswith("https:") or (proxy is not None and proxy.scheme == "https")
        response = _manager(proxy, tls).urlopen(
            "GET", url, headers=dict(headers), retries=False, redirect=False,
            preload_content=False,
            timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s))
        try:
            body = response.read(max_bytes)
        finally:
            response.release_conn()
    except Exception as exc:
        if not _timed_out(exc):
            if isinstance(exc, urllib3.exceptions.HTTPError) and not isinstance(exc, ValueError):
                raise Failed(_failure(exc)) from None
            raise
        if request.cut:
            raise DeadlinePassed(request.phase) from None
        limit = connect_timeout_s if request.phase == "connecting" else read_timeout_s
        raise TimeoutError(f"{request.phase}, limit {limit:g} s") from None
    finally:
        _current.reset(token)
    return response.status, response.headers, body


class _Request:
    """One GET in flight: its deadline, its read timeout, what it is doing ("connecting" or
    "reading") and whether the deadline, not a timeout, set the last socket operation's limit.
    Connections read it from ``_current``, as a pooled connection serves many requests."""

    def __init__(self, deadline: Deadline | None, read_timeout_s: float) -> None:
        self.deadline = deadline
        self.read_timeout_s = read_timeout_s
        self.phase = "reading"  # a kept-alive connection is connected already
        self.cut = False

    def limit(self, limit_s: float) -> float:
        """How long the next socket operation may wait: ``limit_s`` or the time left."""
        if self.deadline is None:
            self.cut = False
            return limit_s
        left = self.deadline.left_s()
        if left <= 0:
            self.cut = True
            raise DeadlinePassed(self.phase)
        self.cut = left < limit_s
        return left if self.cut else limit_s


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "greenml_http_request", default=None)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps (urllib3 wraps socket errors in its own), outermost first."""
    found = [error]
    for _ in range(8):  # a few levels deep is all urllib3 goes
        inner = found[-1].__cause__ or next(
            (a for a in found[-1].args if isinstance(a, BaseException)), None)
        if inner is None or inner in found:
            break
        found.append(inner)
    return found


def _timed_out(error: BaseException) -> bool:
    """Whether ``error`` is a timeout (urllib3's NewConnectionError, refused or unresolved,
    descends from its ConnectTimeoutError without being one)."""
    from urllib3.exceptions import NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    return any(isinstance(e, (TimeoutError, Urllib3Timeout))
               and not isinstance(e, NewConnectionError) for e in _chain(error))


def _failure(error: BaseException) -> str:
    """The words for a urllib3 error (see ``Failed``)."""
    from urllib3.exceptions import NewConnectionError, ProxyError, SSLError

    inner = _chain(error)[-1]
    if isinstance(inner, OSError) or isinstance(error, (NewConnectionError, ProxyError,
                                                        SSLError)):
        return f"connection failed ({type(inner).__name__}: {inner})"
    return f"broken response ({type(inner).__name__})"


class _DeadlineReader(io.RawIOBase):
    """Reads a socket with each read bounded by the per-read timeout and the time left, so a
    server sending a byte at a time cannot hold a request past its deadline."""

    def __init__(self, raw: Any, sock: socket.socket, request: _Request) -> None:
        super().__init__()
        self.raw = raw  # the socket's own file: it keeps the socket open while reading
        self.sock = sock
        self.request = request

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.sock.settimeout(self.request.limit(self.request.read_timeout_s))
        try:
            return int(self.raw.readinto(buffer))
        except TimeoutError:
            if self.request.cut:
                raise DeadlinePassed(self.request.phase) from None
            raise

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


def _deadline_response(sock: socket.socket, *args: Any, request: _Request, **kwargs: Any
                       ) -> Any:
    """An ``http.client.HTTPResponse`` (urllib3 wraps one) reading through ``_DeadlineReader``."""
    import http.client

    response = http.client.HTTPResponse(sock, *args, **kwargs)
    raw = response.fp.detach()  # the socket file it made; reads go through the deadline
    response.fp = io.BufferedReader(_DeadlineReader(raw, sock, request))
    return response


def _arm(connection: Any, connecting: bool) -> Any:
    """Point ``connection`` at the request in flight: its responses read through the deadline
    and, when ``connecting``, its connect timeout is cut to the time left."""
    import http.client

    request = _current.get()
    connection.response_class = (http.client.HTTPResponse if request is None else
                                 functools.partial(_deadline_response, request=request))
    if request is not None and connecting:
        request.phase = "connecting"
        connection.timeout = request.limit(connection.timeout)
    return request


def _pools() -> dict[str, Any]:
    """urllib3's pool classes, with connections that follow the request's deadline (made on
    first use, when urllib3 is imported)."""
    with _lock:
        if _pool_classes:
            return _pool_classes
        import logging

        from urllib3.connection import HTTPConnection, HTTPSConnection
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        class Armed:
            """Sets the deadline's socket timeouts before connecting and before each request."""

            def connect(self) -> None:
                request = _arm(self, connecting=True)
                super().connect()  # type: ignore[misc]
                if request is not None:
                    request.phase = "reading"

            def request(self, *args: Any, **kwargs: Any) -> None:
                _arm(self, connecting=False)
                super().request(*args, **kwargs)  # type: ignore[misc]

        class Connection(Armed, HTTPConnection):
            pass

        class TLSConnection(Armed, HTTPSConnection):
            pass

        class Pool(HTTPConnectionPool):
            ConnectionCls = Connection

        class TLSPool(HTTPSConnectionPool):
            ConnectionCls = TLSConnection

        for name in URLLIB3_LOGGERS:
            logging.getLogger(name).addFilter(_scrub_record)
        _pool_classes.update(http=Pool, https=TLSPool)
        return _pool_classes


def _scrub_record(record: Any) -> bool:
    """A logging filter: the record's text and traceback, scrubbed."""
    record.msg, record.args = scrub(record.getMessage()), None
    if record.exc_info:
        import traceback

        record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)))
        record.exc_info = None
    return True


def _manager(proxy: Proxy | None, tls: bool) -> Any:
    """The pool manager for this trust store and proxy (made once, then reused); plain HTTP
    through a plain proxy needs no TLS context (loading the trust store takes ~30 ms)."""
    context = _ssl() if tls else None
    pools = _pools()
    key = (id(context), proxy.url if proxy else "", proxy.authorization if proxy else "")
    with _lock:
        if key not in _managers:
            import urllib3

            if proxy is None:
                manager = urllib3.PoolManager(ssl_context=context)
            else:
                manager = urllib3.ProxyManager(proxy.url, proxy_headers=proxy.headers(),
                                               ssl_context=context, proxy_ssl_context=context)
            manager.pool_classes_by_scheme = pools
            _managers[key] = manager
        return _managers[key]


def _ssl() -> Any:
    """The default TLS context; SSL_CERT_FILE/SSL_CERT_DIR, read by OpenSSL, choose the trust
    store, so a changed value gets a new context."""
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    if key not in _ssl_contexts:
        import ssl

        _ssl_contexts[key] = ssl.create_default_context()
    return _ssl_contexts[key]
