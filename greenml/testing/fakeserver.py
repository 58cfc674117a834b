"""One local HTTP(S) server under every test double of greenml and its plugins.

Why one: the carbon services' doubles, the local Compute Engine and Azure Resource Manager,
the EC2 front on moto and the docs' example cloud each used to carry their own server, threads,
TLS, fault rules, delays and call log, each a little different (one could not release a held
reply, one did its TLS handshakes on the accepting thread). A double now says only what its
API is: how it answers a request (``handle``) and how its errors look. The rest is alike:

* a ``ThreadingHTTPServer`` on 127.0.0.1, port 0, daemon threads: ``start()``/``stop()`` or
  ``with``, then ``url``; HTTP/1.1 keep-alive unless the double sets ``protocol_version``;
* TLS (``tls=True`` or ``use_tls()``) with a certificate from ``self_signed_certificate``;
  clients trust ``ca_bundle``. Each handshake runs on its request's own thread, so a client
  that never finishes one holds up nobody else;
* a call log: ``record(call)`` keeps a dict in the double's own words (method, path, query,
  the headers it cares about, body, status, outcome), ``calls(**where)`` returns copies;
* fault rules: ``add_rule(kind, where, times=, after=, status=, **detail)``, then
  ``fire(kind, key)`` where the double decides (after routing, say): the first rule whose
  ``where`` all equal ``key``'s (None: any) and whose ``Countdown`` says so acts, and the
  double answers its ``status`` and ``detail`` in its API's error shape;
* delays: ``add_rule("delay", where, seconds=)``, then ``hold_reply(key)`` once the request has
  had its effect (the VM exists before the client hears of it). ``reset()``,
  ``clear_faults()`` and ``stop()`` release every held reply at once (the Event they wait on
  is set and swapped), so no test waits out an earlier test's delay.

Shared state is guarded by ``lock``, re-entrant, which a double may use for its own too.
"""

from __future__ import annotations

import copy
import http
import io
import shutil
import socket
import ssl
import tempfile
import threading
import traceback
import weakref
from collections.abc import Mapping, Sequence
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import attrs

from greenml.testing import Countdown, self_signed_certificate

__all__ = ["FakeServer", "Headers", "Reply", "Rule", "split_target"]

#: Reply headers: a mapping, or (name, value) pairs where a name may repeat.
Headers = Mapping[str, str] | Sequence[tuple[str, str]]
#: What ``handle`` answers: (status, headers, body).
Reply = tuple[int, Headers, bytes]
_Fake = TypeVar("_Fake", bound="FakeServer")


@attrs.define
class Rule(Countdown):
    """One injected behaviour: where it applies, how often, and what the double makes of it."""

    kind: str  # "delay", or the double's own ("error", "operation", "script", ...)
    where: dict[str, Any]  # key -> required value; None matches anything
    skip: int = 0
    remaining: int | None = 1  # None: every matching call until cleared
    status: int = 0
    seconds: float = 0.0
    detail: dict[str, Any] = attrs.field(factory=dict)

    def matches(self, key: Mapping[str, Any]) -> bool:
        return all(want is None or key.get(name) == want for name, want in self.where.items())


def split_target(target: str) -> tuple[str, dict[str, str]]:
    """A request target's path and query (the last value of each name; blank values kept)."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    return parts.path, {name: values[-1] for name, values in query.items()}


class FakeServer:
    """A local server for a test double; subclasses implement ``handle``."""

    protocol_version = "HTTP/1.1"
    server_version = "greenml-fake"
    poll_interval_s = 0.05

    def __init__(self, *, tls: bool = False) -> None:
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.ca_bundle: Path | None = None
        self._tls: ssl.SSLContext | None = None
        self._rules: list[Rule] = []
        self._calls: list[dict[str, Any]] = []
        self._release = threading.Event()
        if tls:
            self.use_tls()

    # ------------------------------------------------------------------ lifecycle

    def start(self: _Fake) -> _Fake:
        """Serve on 127.0.0.1 at a port the OS picks (again after ``stop()``)."""
        if self.server is None:
            handler = type("Handler", (_Handler,), {
                "fake": self, "protocol_version": self.protocol_version})
            self.server = _Server(self, handler)
            threading.Thread(target=self.server.serve_forever, args=(self.poll_interval_s,),
                             daemon=True, name=type(self).__name__).start()
        return self

    def stop(self) -> None:
        """Release held replies, stop serving and close the socket."""
        with self.lock:
            self._release_held()
            server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self: _Fake) -> _Fake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError(f"start() the {type(self).__name__} first")
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def use_tls(self, directory: Path | None = None, name: str = "greenml test server"
                ) -> Path:
        """Serve HTTPS from now on, with a new self-signed certificate written to
        ``directory`` (default: a temporary one); returns the CA file to trust."""
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="greenml-fake-tls-"))
            weakref.finalize(self, shutil.rmtree, directory, True)
        cert_file, key_file = self_signed_certificate(directory, name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._tls, self.ca_bundle = context, cert_file
        return cert_file

    # ------------------------------------------------------------------ the double's part

    def handle(self, verb: str, target: str, headers: Message, body: bytes) -> Reply:
        """Answer one request (``headers`` reads case-insensitively): (status, headers,
        body). Runs on the request's thread; an exception answers 500 with its traceback."""
        raise NotImplementedError

    def write(self, out: io.BufferedIOBase, data: bytes) -> None:
        """Send a whole reply's bytes; a double may send them otherwise (a byte at a time)."""
        out.write(data)

    # ------------------------------------------------------------------ call log

    def record(self, call: dict[str, Any]) -> dict[str, Any]:
        """Log a call; the same dict comes back, to fill in (under ``lock``) as it is answered."""
        with self.lock:
            self._calls.append(call)
        return call

    def calls(self, **where: Any) -> list[dict[str, Any]]:
        """Copies of the logged calls, oldest first, whose fields equal ``where`` (None: any)."""
        with self.lock:
            return [copy.deepcopy(c) for c in self._calls
                    if all(v is None or c.get(k) == v for k, v in where.items())]

    # ------------------------------------------------------------------ faults and delays

    def add_rule(self, kind: str, where: Mapping[str, Any] | None = None, *,
                 times: int | None = 1, after: int = 0, status: int = 0, seconds: float = 0.0,
                 **detail: Any) -> Rule:
        """Act on ``times`` calls matching ``where`` (None: every one), after letting ``after``
        of them through. Rules are tried in the order they were added."""
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for every matching request")
        if after < 0:
            raise ValueError("after must be >= 0")
        rule = Rule(kind, dict(where or {}), after, times, status, seconds, dict(detail))
        with self.lock:
            self._rules.append(rule)
        return rule

    def fire(self, kind: str, key: Mapping[str, Any]) -> Rule | None:
        """The first rule of ``kind`` that acts on a call described by ``key``; each matching
        rule passed on the way counts the call against its ``after``. Spent rules go."""
        with self.lock:
            fired = next((r for r in self._rules
                          if r.kind == kind and r.matches(key) and r.take()), None)
            self._rules = [r for r in self._rules if not r.spent]
            return fired

    def rules(self, kind: str, key: Mapping[str, Any] | None = None) -> list[Rule]:
        """The live rules of ``kind`` (matching ``key``), oldest first, without counting."""
        with self.lock:
            return [r for r in self._rules if r.kind == kind and (key is None or r.matches(key))]

    def hold_reply(self, key: Mapping[str, Any]) -> None:
        """Wait out a matching "delay" rule; call it after the effect, outside ``lock``."""
        with self.lock:
            rule, release = self.fire("delay", key), self._release
        if rule is not None:
            release.wait(rule.seconds)

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` unless released sooner (then True): a reply held by hand."""
        with self.lock:
            release = self._release
        return release.wait(seconds)

    def clear_faults(self) -> None:
        """Forget every rule and release held replies; the double's state and log stay."""
        with self.lock:
            self._rules.clear()
            self._release_held()

    def reset(self) -> None:
        """Forget rules and calls and release held replies; doubles extend it with theirs."""
        with self.lock:
            self._rules.clear()
            self._calls.clear()
            self._release_held()

    def _release_held(self) -> None:
        self._release.set()
        self._release = threading.Event()

    # ------------------------------------------------------------------ plumbing

    def _reply_bytes(self, verb: str, version: str, reply: Reply) -> tuple[bytes, bool]:
        """The reply on the wire, and whether it asks to close the connection."""
        status, headers, body = reply
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        names = {name.lower(): value for name, value in pairs}
        if verb == "HEAD":
            length, body = names.get("content-length", str(len(body))), b""
        else:
            length = str(len(body))
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [f"{version} {status} {phrase}".rstrip()]
        if "server" not in names:
            lines.append(f"Server: {self.server_version}")
        if "date" not in names:
            lines.append(f"Date: {formatdate(usegmt=True)}")
        lines += [f"{k}: {v}" for k, v in pairs if k.lower() != "content-length"]
        lines.append(f"Content-Length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + body, names.get("connection", "").lower() == "close"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeServer, handler: type[BaseHTTPRequestHandler]) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:  # no Nagle: a reply's bytes go out as they are written
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.fake._tls is not None:  # the handshake, on this request's own thread
                request = self.fake._tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, lets the fake answer, writes the answer; quiet (read ``calls()``)."""

    fake: FakeServer

    def _serve(self) -> None:
        body = self._body()
        try:
            reply = self.fake.handle(self.command, self.path, self.headers, body)
        except Exception:  # a broken double: say so to the client and on stderr
            traceback.print_exc()
            reply = 500, {"Content-Type": "text/plain"}, traceback.format_exc().encode()
        data, close = self.fake._reply_bytes(self.command, self.protocol_version, reply)
        self.close_connection = self.close_connection or close
        try:
            self.fake.write(self.wfile, data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client went away (killed mid-delay): fine

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer encoding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass
