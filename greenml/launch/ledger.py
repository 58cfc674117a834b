"""The durable record of launches and of every resource greenml creates (sqlite3, stdlib).

A resource is written before the cloud call that creates it (intent) and after (result), so a
crash between the two leaves a row that ``greenml down`` follows up by tag. WAL mode and
short ``BEGIN IMMEDIATE`` transactions make it safe for several greenml processes at once.

Reading never needs write access: a ledger this process may not write (a read-only file, a
directory where sqlite cannot create its ``-wal`` and ``-shm`` files, a read-only file system)
is opened read-only (``mode=ro``, or ``immutable=1`` where sqlite could not otherwise read a
WAL-mode file), so ``greenml status`` and the reading half of ``greenml down`` still work; a
write then raises ``LedgerReadOnly``. Nothing is lost by a write that could not happen: the
rows still name every resource as open, and the next ``down`` run on a writable ledger
terminates them again (already gone is fine) and records it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

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
from greenml.launch.types import Attempt, Resource

#: Launch states. "launching", "running" and "needs-down" are live; a live name cannot be
#: reused. "needs-down": a failed gang's rollback could not remove what it made, so the
#: ledger keeps those resources open until ``greenml down`` removes them. The others:
#: "failed" (no option launched), "ended" (its providers said every resource had stopped for
#: good, seen by ``greenml status --refresh``), "down" (greenml removed it).
LIVE_STATES = ("launching", "running", "needs-down")

#: Resource states that may still exist in a cloud.
OPEN_RESOURCE_STATES = ("intent", "created", "failed", "terminating")

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


@attrs.frozen
class LaunchRecord:
    """What the ledger knows of one launch, for ``greenml status`` and ``greenml down``."""

    launch_id: str
    name: str
    state: str
    provider: str | None
    region: str | None
    instance_type: str | None
    planned_co2e_kg: float | None
    planned_cost_usd: float | None
    planned_hours: float | None
    reason: str | None
    created_at: float
    resources: tuple[Resource, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    #: The run's exit code, from its consoles' ``greenml-exit=N`` lines (``greenml status
    #: --refresh`` on a provider that declares ``logs``); None when not asked or not known.
    exit_code: int | None = None
    #: Launched with ``keep``: its instances stay when the command exits.
    kept: bool = False

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["resources"] = [r.to_dict() for r in self.resources]
        data["attempts"] = [a.to_dict() for a in self.attempts]
        return data


class Ledger:
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

    # launches

    def begin_launch(self, launch_id: str, name: str, option_json: dict[str, Any], *,
                     kept: bool = False) -> None:
        """Record a new launch; refuse a name that a live launch already uses."""
        now = time.time()
        with self._write() as db:
            clash = db.execute(
                f"SELECT launch_id FROM launches WHERE name = ? AND state IN "
                f"({','.join('?' * len(LIVE_STATES))})", (name, *LIVE_STATES)).fetchone()
            if clash:
                raise InputError("name", f"a launch named {name!r} is still live "
                                 f"({clash['launch_id']}); run 'greenml down {name}' first")
            db.execute(
                "INSERT INTO launches (launch_id, name, state, planned_co2e_kg, planned_cost_usd,"
                " planned_hours, option_json, created_at, updated_at, kept)"
                " VALUES (?, ?, 'launching', ?, ?, ?, ?, ?, ?, ?)",
                (launch_id, name, option_json.get("co2e_kg"), option_json.get("cost_usd"),
                 option_json.get("hours"), json.dumps(option_json), now, now, int(kept)))

    def set_launch(self, launch_id: str, state: str, *, option_json: dict[str, Any] | None = None,
                   reason: str | None = None) -> None:
        fields = {"state": state, "updated_at": time.time()}
        if option_json is not None:
            fields.update(provider=option_json["provider"], region=option_json["region"],
                          instance_type=option_json["instance_type"],
                          planned_co2e_kg=option_json["co2e_kg"],
                          planned_cost_usd=option_json["cost_usd"],
                          planned_hours=option_json["hours"],
                          option_json=json.dumps(option_json))
        if reason is not None:
            fields["reason"] = reason
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as db:
            db.execute(f"UPDATE launches SET {assignments} WHERE launch_id = ?",
                       (*fields.values(), launch_id))

    # resources

    def intent(self, token: str, launch_id: str, provider: str, region: str, zone: str,
               name: str, kind: str = "instance", resource_id: str = "") -> None:
        """Before the cloud call: this resource is about to be created (under
        ``resource_id``, where the provider can tell before creating it)."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO resources (token, launch_id, provider, region, zone, kind, name,"
                " resource_id, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?)"
                " ON CONFLICT(token) DO UPDATE SET updated_at = excluded.updated_at",
                (token, launch_id, provider, region, zone or "", kind, name,
                 resource_id or None, now, now))

    def result(self, token: str, state: str, resource_id: str | None = None,
               reason: str | None = None) -> None:
        """After the cloud call (or a later one): what became of the resource."""
        with self._write() as db:
            db.execute(
                "UPDATE resources SET state = ?, resource_id = COALESCE(?, resource_id),"
                " reason = COALESCE(?, reason), updated_at = ? WHERE token = ?",
                (state, resource_id, reason, time.time(), token))

    def adopt(self, launch_id: str, resource: Resource, state: str) -> None:
        """Record a resource found by tag that the ledger had no row for."""
        token = f"found-{resource.provider}-{resource.region}-{resource.resource_id}"
        self.intent(token, launch_id, resource.provider, resource.region, resource.zone,
                    resource.name, resource.kind)
        self.result(token, state, resource.resource_id, "found by tag")

    def attempt(self, launch_id: str, attempt: Attempt) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO attempts (launch_id, provider, region, zone, instance_type, ok,"
                " scope, code, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (launch_id, attempt.provider, attempt.region, attempt.zone,
                 attempt.instance_type, int(attempt.ok), attempt.scope, attempt.code,
                 attempt.reason, time.time()))

    # reading

    def launches(self, name: str | None = None, live_only: bool = False) -> list[LaunchRecord]:
        """Launches, newest first, each with its resources and attempts."""
        db = self._connection()
        where, args = [], []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if live_only:
            where.append(f"state IN ({','.join('?' * len(LIVE_STATES))})")
            args.extend(LIVE_STATES)
        sql = "SELECT * FROM launches" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = db.execute(sql + " ORDER BY created_at DESC", args).fetchall()
        return [self._record(row) for row in rows]

    def launch(self, launch_id: str) -> LaunchRecord:
        """One launch by id, as it stands now."""
        row = self._connection().execute("SELECT * FROM launches WHERE launch_id = ?",
                                         (launch_id,)).fetchone()
        if row is None:
            raise KeyError(launch_id)
        return self._record(row)

    def names(self) -> list[str]:
        return [r[0] for r in self._connection().execute("SELECT DISTINCT name FROM launches")]

    def planned_option(self, launch_id: str) -> dict[str, Any] | None:
        """The option the launch was planned as (its figures and sources, as JSON stored by
        ``begin_launch``), or None when the ledger holds none readable."""
        row = self._connection().execute("SELECT option_json FROM launches WHERE launch_id = ?",
                                         (launch_id,)).fetchone()
        try:
            option = json.loads(row[0]) if row is not None and row[0] else None
        except ValueError:
            return None
        return option if isinstance(option, dict) else None

    def _record(self, row: sqlite3.Row) -> LaunchRecord:
        db = self._connection()
        resources = tuple(
            Resource(r["provider"], r["region"], r["resource_id"] or "", r["kind"], r["zone"],
                     r["name"], r["launch_id"], r["state"])
            for r in db.execute("SELECT * FROM resources WHERE launch_id = ? ORDER BY created_at",
                                (row["launch_id"],)))
        attempts = tuple(
            Attempt(a["provider"], a["region"], a["instance_type"], a["zone"] or "",
                    bool(a["ok"]), a["reason"] or "", a["scope"] or "none", a["code"] or "")
            for a in db.execute("SELECT * FROM attempts WHERE launch_id = ? ORDER BY id",
                                (row["launch_id"],)))
        return LaunchRecord(
            row["launch_id"], row["name"], row["state"], row["provider"], row["region"],
            row["instance_type"], row["planned_co2e_kg"], row["planned_cost_usd"],
            row["planned_hours"], row["reason"], row["created_at"], resources, attempts,
            kept=bool(row["kept"]) if "kept" in row.keys() else False)  # noqa: SIM118

    def open_resources(self, launch_id: str) -> list[tuple[str, Resource]]:
        """(token, resource) for every resource of a launch that may still exist."""
        db = self._connection()
        rows = db.execute(
            f"SELECT * FROM resources WHERE launch_id = ? AND state IN "
            f"({','.join('?' * len(OPEN_RESOURCE_STATES))})",
            (launch_id, *OPEN_RESOURCE_STATES)).fetchall()
        return [(r["token"], Resource(r["provider"], r["region"], r["resource_id"] or "",
                                      r["kind"], r["zone"], r["name"], r["launch_id"],
                                      r["state"])) for r in rows]

    def regions_of(self, launch_id: str) -> dict[str, set[str]]:
        """provider -> regions this launch touched (resources and attempts alike)."""
        out: dict[str, set[str]] = {}
        db = self._connection()
        for table in ("resources", "attempts"):
            for r in db.execute(f"SELECT DISTINCT provider, region FROM {table} "
                                "WHERE launch_id = ?", (launch_id,)):
                out.setdefault(r["provider"], set()).add(r["region"])
        return out

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def token_states(ledger: Ledger, tokens: Sequence[str]) -> dict[str, str]:
    """Current state per token (tests and diagnostics)."""
    db = ledger._connection()
    marks = ",".join("?" * len(tokens))
    return {r["token"]: r["state"] for r in db.execute(
        f"SELECT token, state FROM resources WHERE token IN ({marks})", tuple(tokens))}
