"""GET JSON from a carbon service: bounded timeouts, retries with backoff, no secret in any text.

Each GET goes through urllib3 (``transport.fetch``: pooled connections, proxies, TLS) with a
connect timeout and a per-read timeout, all within one deadline: the plan's for the source
(``greenml.carbon.deadline.current_deadline()``), else ``GREENML_CARBON_DEADLINE_S`` from the call.
Every socket operation waits at most the time left, so a server that answers late or drips
bytes costs the deadline, never more. 429 and 5xx answers (honouring ``Retry-After``) and
network errors are retried by the shared policy (``greenml.retry.RetryPolicy``: 0.5 s, 1 s,
2 s ..., at most ``GREENML_CARBON_ATTEMPTS`` tries); a wait that would pass the deadline is
not waited for. Every message this module writes (errors, warnings, log lines) names the
service and the path, never a header, and goes through the one scrubber (``scrub.scrub``).

Proxies are read from the environment as curl and urllib read them (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, upper or lower case), http:// or https://;
``user:password@`` in the proxy URL is sent as ``Proxy-Authorization`` and scrubbed like any
other secret. Trusted certificates, for the services and an https:// proxy alike, are the
system's, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (a corporate TLS-inspecting proxy's CA).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from greenml.carbon import settings
from greenml.errors import CarbonDataWarning, CarbonSourceError
from greenml.scrub import register, scrub

if TYPE_CHECKING:  # the transport (urllib3) and the retry policy load with the first request
    from greenml.carbon.deadline import Deadline
    from greenml.carbon.transport import Proxy
    from greenml.retry import RetryPolicy

__all__ = ["HttpClient", "HttpError", "basic_auth", "debug", "proxy_for", "rejected",
           "retry_policy"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A ``Retry-After`` longer than this is not waited for: the request fails and the plan falls
#: back to the next source instead of hanging.
MAX_RETRY_WAIT_S = 30.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
MAX_BODY_BYTES = 20 * 2**20


def proxy_for(scheme: str, host: str, source: str) -> Proxy | None:
    """The proxy the environment names for ``scheme`` and ``host``, or None (none set, or
    ``NO_PROXY`` covers the host). A proxy URL greenml cannot use is an error naming it."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import (  # type: ignore[attr-defined]  # untyped, but public
        getproxies_environment,
        proxy_bypass_environment,
    )

    from greenml.carbon.transport import Proxy

    proxies = getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or proxy_bypass_environment(host, proxies):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    variable = f"{scheme.upper()}_PROXY" if proxies.get(scheme) else "ALL_PROXY"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(source, f"{variable}: cannot use the proxy {parts.scheme}://"
                        f"{parts.hostname or '?'}: give http(s)://[user:password@]host:port")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HttpError(source, f"{variable}: the proxy's port is not a number") from None
    authorization, password = "", unquote(parts.password or "")
    if parts.username:
        authorization = basic_auth(unquote(parts.username), password)
    return Proxy(parts.hostname, port, authorization, password, parts.scheme)


def debug(message: str, *args: Any) -> None:
    """Log to ``greenml.carbon`` at DEBUG, scrubbed (logging is imported only when a source
    works, and the line is built only when DEBUG is on)."""
    import logging

    logger = logging.getLogger("greenml.carbon")
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s", scrub(message % args if args else message))


class HttpError(CarbonSourceError):
    """A request that failed for good; ``status`` is the last HTTP status (None: no response)."""

    def __init__(self, source: str, message: str, status: int | None = None,
                 scope: str = "source") -> None:
        self.status = status
        super().__init__(source, scrub(message), scope)


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


def retry_policy(attempts: int) -> RetryPolicy:
    """The carbon sources' use of the shared policy: 0.5 s, 1 s, 2 s ... (at most 8 s, no
    jitter: one process asks one service at a time), a ``Retry-After`` up to 30 s."""
    from greenml.retry import RetryPolicy

    return RetryPolicy(attempts=attempts, base_delay_s=BACKOFF_BASE_S, max_delay_s=BACKOFF_CAP_S,
                       jitter=False, longest_retry_after_s=MAX_RETRY_WAIT_S)


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
        from urllib.parse import urlsplit

        from greenml.carbon.deadline import Deadline, current_deadline
        from greenml.carbon.transport import DeadlinePassed, Failed
        from greenml.retry import Tries, parse_retry_after

        deadline = current_deadline()
        if deadline is None:
            budget_s = settings.deadline_s()
            deadline = Deadline(time.monotonic() + budget_s, budget_s)
        url = self.url(path, params)
        shown = self.scrub(path)
        target = urlsplit(url)
        proxy = proxy_for(target.scheme, target.hostname or "", self.source)
        if proxy is not None:
            self.add_secret(proxy.authorization)
            self.add_secret(proxy.password)
            shown += f" (via the proxy {proxy.shown})"
        tries = Tries(retry_policy(self.attempts), deadline.left_s)
        failure, status = "no attempt made", None
        while True:
            attempt = tries.failures + 1
            retry_after_s: float | None = None
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
            except Failed as exc:
                status, failure = None, self.scrub(str(exc))
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
                retry_after_s = parse_retry_after(reply_headers.get("retry-after"))
            verdict = tries.failed(retry_after_s)
            if verdict.stop == "deadline":
                raise self._late(shown, deadline, attempt, f"{failure}; {verdict.note}")
            if verdict.wait_s is None:
                failure += f"; {verdict.note}" if verdict.note else ""
                break
            debug("%s GET %s: %s; retrying in %.1f s", self.source, shown, failure,
                  verdict.wait_s)
            self.sleep(verdict.wait_s)
        raise HttpError(self.source, f"{failure} from {shown} after {attempt} attempt(s)", status)

    def _late(self, shown: str, deadline: Deadline, attempts: int, last: str) -> HttpError:
        """The error for a request the deadline stopped: the source counts as unavailable."""
        tried = f"; {attempts} attempt(s), the last {last}" if attempts else ""
        return HttpError(self.source, f"no answer from {shown} within its {deadline.budget_s:g} "
                         f"s deadline (GREENML_CARBON_DEADLINE_S{tried})", None, "source")

    def _get(self, url: str, headers: dict[str, str], proxy: Proxy | None = None,
             deadline: Deadline | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """One GET (``transport.fetch``): connecting waits at most the connect timeout and
        every read at most the read timeout, each cut to the time the deadline leaves."""
        from urllib.parse import urlsplit

        from greenml import __version__
        from greenml.carbon.transport import fetch

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise HttpError(self.source, f"unsupported URL scheme {parts.scheme!r} in the "
                            "configured API URL (use https:// or http://)")
        status, reply_headers, body = fetch(
            url, {"Accept": "application/json", "User-Agent": f"greenml/{__version__}",
                  **headers}, proxy, deadline, self.connect_timeout_s, self.read_timeout_s,
            MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise HttpError(self.source, f"response from {self.scrub(parts.path)} is larger "
                            f"than {MAX_BODY_BYTES // 2**20} MiB")
        return status, reply_headers, body

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


def _sleep(seconds: float) -> None:
    time.sleep(seconds)
