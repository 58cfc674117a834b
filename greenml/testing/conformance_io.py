"""What the conformance kit watches: file opens, network calls and process starts, through a
Python audit hook that records only inside ``record_io``; and which packages were imported."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

#: Audit events and the kind of I/O each one is.
IO_EVENTS = {
    "open": "open",
    "socket.connect": "socket", "socket.getaddrinfo": "socket", "socket.sendto": "socket",
    "socket.gethostbyname": "socket", "socket.gethostbyaddr": "socket",
    "subprocess.Popen": "subprocess", "os.system": "subprocess", "os.posix_spawn": "subprocess",
    "os.exec": "subprocess", "os.spawn": "subprocess", "os.fork": "subprocess",
}
#: What the import machinery opens; imports are judged on their own (see ``new_modules``).
IMPORT_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".pth")

_recording = threading.local()
_audit_installed = False
_audit_lock = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    events = getattr(_recording, "events", None)
    if events is None or event not in IO_EVENTS:
        return
    try:
        if event == "open":
            path = str(args[0])
            if path.endswith(IMPORT_SUFFIXES) or isinstance(args[0], int):
                return
            detail = path
        elif event == "socket.connect":
            detail = str(args[1])
        elif event == "subprocess.Popen":
            detail = " ".join(str(a) for a in (args[1] or [args[0]]))[:120]
        else:
            detail = " ".join(str(a) for a in args[:2])[:120]
        events.append((IO_EVENTS[event], f"{event} {detail}"))
    except Exception:  # an audit hook must never raise into the code it watches
        pass


@contextlib.contextmanager
def record_io() -> Iterator[list[tuple[str, str]]]:
    """Record ``(kind, detail)`` for each file open, network call and process start in this
    thread; kind is "open", "socket" or "subprocess". Imports are not recorded.

    Audit hooks cannot be removed, so one is installed once and records only inside this block.
    """
    global _audit_installed
    with _audit_lock:
        if not _audit_installed:
            sys.addaudithook(_audit)
            _audit_installed = True
    outer = getattr(_recording, "events", None)
    events: list[tuple[str, str]] = []
    _recording.events = events
    try:
        yield events
    finally:
        _recording.events = outer
        if outer is not None:
            outer.extend(events)


def by_kind(events: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """One entry per kind of I/O: the kind and its first two events."""
    out: dict[str, list[str]] = {}
    for kind, detail in events:
        out.setdefault(kind, []).append(detail)
    return [(kind, "; ".join(details[:2]) + (f" (+{len(details) - 2} more)"
                                             if len(details) > 2 else ""))
            for kind, details in out.items()]


def new_modules(before: set[str], own: set[str]) -> list[str]:
    """Top-level third-party packages imported since ``before`` (stdlib and ``own`` aside)."""
    tops = {m.split(".")[0] for m in set(sys.modules) - before}
    return sorted(t for t in tops if t not in sys.stdlib_module_names and t not in own
                  and not t.startswith("_"))
