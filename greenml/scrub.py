"""The one scrubber: every text made from a third-party answer loses every configured secret.

A carbon service may echo what it was sent (a token in an error, in a data field, in a header
it quotes), and a rejected answer is quoted back to the user. So every message, warning, note,
log line and cache entry the sources build passes through ``scrub``, which replaces each known
secret with ``***`` wherever it appears: as written, percent-encoded (``%2F`` or ``%2f``, ``+``
for a space), escaped as JSON or ``repr()`` would, base64-encoded, and inside HTTP Basic
credentials (base64 of ``user:password``). A secret under ``SHORT`` characters is scrubbed
where it stands alone, not inside longer words.

The secrets are those the environment configures (``SECRET_VARIABLES``, the password of a
proxy URL), read at each call so a changed environment applies at once, and those registered
while working (a token given to a source's constructor, the token a service hands out at
login). Registered values live in memory only.
"""

from __future__ import annotations

import functools
import os
from typing import Any

#: Environment variables whose whole value is a secret.
SECRET_VARIABLES = ("ELECTRICITYMAPS_API_TOKEN", "WATTTIME_PASSWORD")
#: Environment variables holding a proxy URL, whose password (and user:password) is a secret.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                   "all_proxy")
#: What a secret is replaced by.
MASK = "***"
#: A secret shorter than this is scrubbed where it stands alone (not inside a longer run of
#: letters and digits): a password "t" must not blank out every "t" of every message.
SHORT = 8
#: How many registered secrets are kept (the oldest go first; a login token lives 30 minutes).
MAX_REGISTERED = 256

_registered: dict[str, None] = {}


def register(*secrets: str) -> None:
    """Scrub these from now on (empty values are ignored)."""
    for secret in secrets:
        if secret and secret not in _registered:
            _registered[secret] = None
            while len(_registered) > MAX_REGISTERED:
                del _registered[next(iter(_registered))]


def forget() -> None:
    """Drop the registered secrets (tests: one test's tokens must not mask the next one's
    text); the environment's are read afresh at each scrub anyway."""
    _registered.clear()


def register_basic(username: str, password: str) -> None:
    """Scrub a password and the HTTP Basic credentials it makes with ``username``."""
    register(password, *_basic(username, password))


def configured() -> list[str]:
    """Every secret known now: the environment's and the registered ones."""
    found = [os.environ.get(name, "").strip() for name in SECRET_VARIABLES]
    found += _basic(os.environ.get("WATTTIME_USERNAME", "").strip(),
                    os.environ.get("WATTTIME_PASSWORD", "").strip())
    for name in PROXY_VARIABLES:
        found += _proxy_secrets(os.environ.get(name, ""))
    found += list(_registered)
    return [s for s in dict.fromkeys(found) if s]


def scrub(text: str) -> str:
    """``text`` with every known secret, in any of the forms above, replaced by ``***``."""
    if not text:
        return text
    pattern = _pattern(tuple(configured()))
    return pattern.sub(MASK, text) if pattern is not None else text


def scrub_value(value: Any) -> Any:
    """A JSON-like value with every string in it (keys too) scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_value(k): scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    return value


def shown(value: Any, limit: int = 80) -> str:
    """A value from an answer as a message quotes it: scrubbed first, then ``repr``, shortened
    (a field may hold megabytes), then scrubbed again as a whole."""
    text = repr(scrub_value(value))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return scrub(text)


def holds_secret(text: str) -> bool:
    return scrub(text) != text


def _basic(username: str, password: str) -> list[str]:
    """The base64 of ``user:password`` (what a Basic ``Authorization`` header carries)."""
    import base64

    if not password:
        return []
    return [base64.b64encode(f"{username}:{password}".encode()).decode("ascii").rstrip("=")]


def _proxy_secrets(url: str) -> list[str]:
    from urllib.parse import unquote, urlsplit

    url = url.strip()
    if "@" not in url:
        return []
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
    except ValueError:
        return []
    password = parts.password or ""
    return [password, unquote(password), *_basic(unquote(parts.username or ""),
                                                  unquote(password))]


def _forms(secret: str) -> set[str]:
    """The ways ``secret`` can be written in a text."""
    import base64
    import json
    import re
    from urllib.parse import quote, quote_plus

    found = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
             repr(secret)[1:-1], repr(f"'{secret}")[2:-1], repr(f'"{secret}')[2:-1],
             base64.b64encode(secret.encode()).decode("ascii").rstrip("=")}
    for encoded in (quote(secret, safe=""), quote_plus(secret)):
        found.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded))
    return {f for f in found if f}


@functools.lru_cache(maxsize=32)
def _pattern(secrets: tuple[str, ...]) -> Any:
    import re

    forms: dict[str, str] = {}
    for secret in secrets:
        for form in _forms(secret):
            alone = len(secret) < SHORT
            forms[form] = (rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])" if alone
                           else re.escape(form))
    if not forms:
        return None
    return re.compile("|".join(forms[f] for f in sorted(forms, key=len, reverse=True)))
