"""Where the ledger lives and whether a path can be one: the default location (GREENML_LEDGER,
GREENML_STATE_DIR, the user's state directory), and the checks that tell a read-only or foreign
file from a ledger before sqlite opens it, each naming the path and what is accepted."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from greenml.errors import LedgerPathError

ENV_PATH = "GREENML_LEDGER"
ENV_STATE_DIR = "GREENML_STATE_DIR"
#: sqlite's primary result codes (https://sqlite.org/rescode.html) that say "cannot write here".
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_CANTOPEN, SQLITE_NOTADB = 14, 26
NOT_WRITABLE = {SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN}
#: What a file must start with to be an sqlite database (an empty file is a new one).
SQLITE_HEADER = b"SQLite format 3\x00"
TABLES = {"launches", "resources", "attempts"}
#: What a ledger path may be, for every error about one.
ACCEPTED = "give a ledger file: one greenml wrote, or a new file's path in a directory"


def sqlite_code(error: sqlite3.Error) -> int:
    """The primary sqlite result code of ``error``, or -1 when the driver does not say."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def default_path() -> Path:
    """``$GREENML_LEDGER``, else ``ledger.sqlite3`` in ``$GREENML_STATE_DIR`` or the user's
    state directory."""
    return default_location()[0]


def default_location() -> tuple[Path, str]:
    """The default ledger path and the variable that set it (for error messages)."""
    if os.environ.get(ENV_PATH, "").strip():  # blank is unset, as empty is
        return Path(os.environ[ENV_PATH]), ENV_PATH
    if os.environ.get(ENV_STATE_DIR, "").strip():
        return Path(os.environ[ENV_STATE_DIR]) / "ledger.sqlite3", ENV_STATE_DIR
    import platformdirs

    return Path(platformdirs.user_state_dir("greenml")) / "ledger.sqlite3", ENV_STATE_DIR


def check_path(path: Path, field: str) -> None:
    """Refuse a path no ledger can live at, naming ``field`` and what is accepted."""
    if field == ENV_STATE_DIR:
        directory = path.parent
        if directory.exists() and not directory.is_dir():
            raise LedgerPathError(field, f"{directory} is not a directory; give a directory "
                                  "for greenml's state (the ledger is ledger.sqlite3 in it)")
    if path.is_dir():
        raise LedgerPathError(field, f"{path} is a directory; {ACCEPTED}")
    if path.exists() and not path.is_file():
        raise LedgerPathError(field, f"{path} is not a regular file; {ACCEPTED}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise LedgerPathError(field, f"{ancestor} is not a directory, so {path} cannot be "
                              f"created; {ACCEPTED}")
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise LedgerPathError(field, f"{path} cannot be read ({exc.strerror}); "
                                  f"{ACCEPTED}") from None
        if header and header != SQLITE_HEADER:
            raise LedgerPathError(field, f"{path} is not a greenml ledger (not an sqlite "
                                  f"database); {ACCEPTED}")


def why_read_only(path: Path) -> str:
    """Why this process may not write the ledger at ``path``; "" when it may."""
    directory = path.parent
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # a state directory still to be made: its first ancestor
    try:
        if os.statvfs(existing).f_flag & os.ST_RDONLY:
            return "its file system is mounted read-only"
    except OSError:
        pass
    if path.exists() and not os.access(path, os.W_OK):
        return "this user may not write the file"
    if os.access(existing, os.W_OK | os.X_OK):
        return ""
    if existing != directory:
        return f"{existing} is not writable, so {directory} cannot be created"
    if not path.exists():
        return f"its directory {directory} is not writable, so the file cannot be created"
    side = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    if all(s.exists() and os.access(s, os.W_OK) for s in side):
        return ""  # sqlite writes through the existing -wal and -shm files
    return (f"its directory {directory} is not writable, so sqlite cannot create "
            f"{path.name}-wal and {path.name}-shm there")
