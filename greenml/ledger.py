"""The durable record of launches and of every resource greenml creates (sqlite3, stdlib).

A resource is written before the cloud call that creates it (intent) and after (result), so a
crash between the two leaves a row that ``greenml down`` follows up by tag. WAL mode and
short ``BEGIN IMMEDIATE`` transactions make it safe for several greenml processes at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from .launch import Attempt, Resource

ENV_PATH = "GREENML_LEDGER"
ENV_STATE_DIR = "GREENML_STATE_DIR"

#: Launch states. "launching" and "running" are live; a live name cannot be reused. The
#: others: "failed" (no option launched), "ended" (its providers said every resource had
#: stopped for good, seen by ``greenml status --refresh``), "down" (greenml removed it).
LIVE_STATES = ("launching", "running")
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
    created_at REAL NOT NULL, updated_at REAL NOT NULL
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

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["resources"] = [r.to_dict() for r in self.resources]
        data["attempts"] = [a.to_dict() for a in self.attempts]
        return data


def default_path() -> Path:
    """``$GREENML_LEDGER``, else ``ledger.sqlite3`` in ``$GREENML_STATE_DIR`` or the user's
    state directory."""
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH])
    if os.environ.get(ENV_STATE_DIR):
        return Path(os.environ[ENV_STATE_DIR]) / "ledger.sqlite3"
    import platformdirs

    return Path(platformdirs.user_state_dir("greenml")) / "ledger.sqlite3"


class Ledger:
    """One sqlite file; one connection per thread; every write its own short transaction."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(SCHEMA)  # idempotent; runs its own transaction
        os.chmod(self.path, 0o600)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # launches

    def begin_launch(self, launch_id: str, name: str, option_json: dict[str, Any]) -> None:
        """Record a new launch; refuse a name that a live launch already uses."""
        now = time.time()
        with self._write() as db:
            clash = db.execute(
                f"SELECT launch_id FROM launches WHERE name = ? AND state IN "
                f"({','.join('?' * len(LIVE_STATES))})", (name, *LIVE_STATES)).fetchone()
            if clash:
                from .errors import InputError

                raise InputError("name", f"a launch named {name!r} is still live "
                                 f"({clash['launch_id']}); run 'greenml down {name}' first")
            db.execute(
                "INSERT INTO launches (launch_id, name, state, planned_co2e_kg, planned_cost_usd,"
                " planned_hours, option_json, created_at, updated_at)"
                " VALUES (?, ?, 'launching', ?, ?, ?, ?, ?, ?)",
                (launch_id, name, option_json.get("co2e_kg"), option_json.get("cost_usd"),
                 option_json.get("hours"), json.dumps(option_json), now, now))

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
            row["planned_hours"], row["reason"], row["created_at"], resources, attempts)

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
