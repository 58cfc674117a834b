"""The ledger's sqlite file: opened the safest way this process may, with its schema, its
migrations and its write transactions.

Why a class of its own: how a ledger is opened (read-write, read-only, immutable, or an empty
one in memory) and how sqlite's failures become greenml's errors is the same for every record
the ledger keeps, and is the part that must never lose a row; ``greenml.launch.ledger`` builds
the records on top of it. WAL mode and short ``BEGIN IMMEDIATE`` transactions make it safe
for several greenml processes at once.

Reading never needs write access: a ledger this process may not write (a read-only file, a
directory where sqlite cannot create its ``-wal`` and ``-shm`` files, a read-only file system)
is opened read-only (``mode=ro``, or ``immutable=1`` where sqlite could not otherwise read a
WAL-mode file), so ``greenml status`` and the reading half of ``greenml down`` still work; a
write then raises ``LedgerReadOnly``. Nothing is lost by a write that could not happen: the
rows still name every resource as open, and the next ``down`` run on a writable ledger
terminates them again (already gone is fine) and records it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

from greenml.errors import (
    InputError,
    LedgerBusy,
    LedgerError,
    LedgerPathError,
    LedgerReadOnly,
)
from greenml.launch.ledger_file import (
    ACCEPTED,
    NOT_WRITABLE,
    SQLITE_BUSY,
    SQLITE_LOCKED,
    SQLITE_NOTADB,
    TABLES,
    check_path,
    default_location,
    sqlite_code,
    why_read_only,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS launches (
    launch_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    provider TEXT, region TEXT, instance_type TEXT,
    planned_co2e_kg REAL, planned_cost_usd REAL, planned_hours REAL,
    option_json TEXT, reason TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    kept INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS launches_name ON launches(name);
CREATE TABLE IF NOT EXISTS resources (
    token TEXT PRIMARY KEY,
    launch_id TEXT NOT NULL REFERENCES launches(launch_id),
    provider TEXT NOT NULL, region TEXT NOT NULL, zone TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
    resource_id TEXT, state TEXT NOT NULL, reason TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_launch ON resources(launch_id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    launch_id TEXT NOT NULL REFERENCES launches(launch_id),
    provider TEXT, region TEXT, zone TEXT, instance_type TEXT,
    ok INTEGER, scope TEXT, code TEXT, reason TEXT, at REAL NOT NULL
);
"""
#: Columns added since the first ledgers, each with its default: added when a ledger is
#: opened for writing; a ledger only read shows the default.
ADDED_COLUMNS = {"launches": {"kept": "INTEGER NOT NULL DEFAULT 0"}}


class LedgerDatabase:
    """One sqlite file; one connection per thread; every write its own short transaction.

    ``busy_timeout_s``: how long a write waits for another process's write lock before it
    raises ``LedgerBusy``. ``read_only`` (and ``why_read_only``) say whether this process
    may only read the file; see the module's docstring.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 busy_timeout_s: float = 30.0) -> None:
        if path is None:
            self.path, self._field = default_location()
        elif isinstance(path, (str, os.PathLike)) and str(path).strip():
            self.path, self._field = Path(path), "ledger"
        else:
            raise InputError("ledger", f"expected the path of a ledger file, got {path!r}")
        self.busy_timeout_s = float(busy_timeout_s)
        self._local = threading.local()
        check_path(self.path, self._field)
        self.why_read_only = why_read_only(self.path)
        if not self.why_read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.why_read_only = (f"its directory {self.path.parent} cannot be created: "
                                      f"{exc.strerror}")
        self._uri = ""
        self._memory = False
        try:
            self._open()
        except sqlite3.Error as exc:
            if sqlite_code(exc) == SQLITE_NOTADB:
                raise LedgerPathError(self._field, f"{self.path} is not a greenml ledger "
                                      f"({exc}); {ACCEPTED}") from None
            if sqlite_code(exc) in (SQLITE_BUSY, SQLITE_LOCKED):
                raise LedgerBusy(self.path, self.busy_timeout_s) from None
            raise LedgerError(f"the ledger {self.path} cannot be opened: {exc}") from None

    @property
    def read_only(self) -> bool:
        return bool(self.why_read_only)

    def _open(self) -> None:
        """Decide how to open the file (read-write, read-only, immutable) and check it."""
        if not self.read_only:
            existed = self.path.exists()
            if existed and self.path.stat().st_size:
                self._refuse_foreign()
            self._uri = f"file:{quote(str(self.path.absolute()))}?mode=rwc"
            try:
                db = self._connection()
                tables = self._tables(db)
                if not tables >= TABLES:
                    db.executescript(SCHEMA)  # idempotent; runs its own transaction
                self._add_columns(db)
            except sqlite3.OperationalError as exc:
                if sqlite_code(exc) not in NOT_WRITABLE:
                    raise
                self.close()  # the checks above missed it (an ACL, say): sqlite knows
                self.why_read_only = why_read_only(self.path) or f"sqlite: {exc}"
            else:
                if not existed:
                    self._private()
                return
        if not self.path.exists():  # nothing recorded here yet: an empty ledger
            self._memory = True
            self._connection()
            return
        self._check_tables(self._read_only_tables())

    @staticmethod
    def _add_columns(db: sqlite3.Connection) -> None:
        """Bring a ledger written by an older greenml up to date (old rows get defaults)."""
        for table, columns in ADDED_COLUMNS.items():
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            for column, decl in columns.items():
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def _refuse_foreign(self) -> None:
        """Refuse another program's sqlite file before writing anything to it (WAL mode
        included), looking through a read-only connection."""
        peek = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode=ro", uri=True)
        try:
            tables = self._tables(peek)
        except sqlite3.OperationalError:
            return  # cannot look without writing (a WAL file): the read-write open decides
        finally:
            peek.close()
        if tables and "launches" not in tables:
            self._check_tables(tables)

    def _read_only_tables(self) -> set[str]:
        """Open the file read-only; its table names."""
        base = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        try:
            self._uri = base
            return self._tables(self._connection())
        except sqlite3.OperationalError as exc:
            if sqlite_code(exc) not in NOT_WRITABLE:
                raise
        # A WAL-mode file in a directory where sqlite may not create the -shm file can be
        # read no other way; with no -wal file beside it, the file holds every commit.
        self.close()
        self._uri = base + "&immutable=1"
        return self._tables(self._connection())

    def _check_tables(self, tables: set[str]) -> None:
        if not tables:  # an empty file: nothing recorded yet
            self.close()
            self._memory = True
            self._connection()
        elif "launches" not in tables:
            raise LedgerPathError(self._field, f"{self.path} is an sqlite database but not a "
                                  f"greenml ledger (it has no 'launches' table); {ACCEPTED}")

    def _private(self) -> None:
        """A new ledger is readable by its owner only (it names the user's resources)."""
        with suppress(OSError):
            os.chmod(self.path, 0o600)

    @staticmethod
    def _tables(db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if self._memory:
                db = sqlite3.connect(":memory:", isolation_level=None)
                db.executescript(SCHEMA)
            else:
                db = sqlite3.connect(self._uri, uri=True, timeout=self.busy_timeout_s,
                                     isolation_level=None, check_same_thread=True)
            db.row_factory = sqlite3.Row
            if not self.read_only:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            self._local.db = db
        return db

    @contextmanager
    def _write(self, doing: str = "") -> Iterator[sqlite3.Connection]:
        """One short write transaction; sqlite's failures become greenml's ledger errors."""
        if self.read_only:
            raise LedgerReadOnly(self.path, self.why_read_only, doing)
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc, doing) from None
        try:
            yield db
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, doing) from None
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise self._error(exc, doing) from None

    def _error(self, exc: sqlite3.Error, doing: str) -> LedgerError:
        code = sqlite_code(exc)
        if code in (SQLITE_BUSY, SQLITE_LOCKED):
            return LedgerBusy(self.path, self.busy_timeout_s)
        if code in NOT_WRITABLE or "readonly" in str(exc):
            why = why_read_only(self.path) or f"sqlite: {exc}"
            return LedgerReadOnly(self.path, why, doing)
        prefix = f"{doing}: " if doing else ""
        return LedgerError(f"{prefix}the ledger {self.path} could not be written: {exc}")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
