"""The durable record of launches and of every resource greenml creates (sqlite3, stdlib).

A resource is written before the cloud call that creates it (intent) and after (result), so a
crash between the two leaves a row that ``greenml down`` follows up by tag. The file itself
(opening it read-write or read-only, its schema, its transactions) is
``greenml.launch.ledger_db``; where it lives is ``greenml.launch.ledger_file``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import attrs

from greenml.errors import InputError
from greenml.launch.ledger_db import LedgerDatabase
from greenml.launch.types import Attempt, Resource

#: Launch states. "launching", "running" and "needs-down" are live; a live name cannot be
#: reused. "needs-down": a failed gang's rollback could not remove what it made, so the
#: ledger keeps those resources open until ``greenml down`` removes them. The others:
#: "failed" (no option launched), "ended" (its providers said every resource had stopped for
#: good, seen by ``greenml status --refresh``), "down" (greenml removed it).
LIVE_STATES = ("launching", "running", "needs-down")

#: Resource states that may still exist in a cloud.
OPEN_RESOURCE_STATES = ("intent", "created", "failed", "terminating")


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


class Ledger(LedgerDatabase):
    """The launches, resources and attempts in one ledger file: each write its own short
    transaction, safe beside other greenml processes; a ledger this process may not write is
    still read (``read_only``, ``why_read_only``; see ``greenml.launch.ledger_db``).

    ``busy_timeout_s``: how long a write waits for another process's write lock before it
    raises ``LedgerBusy``.
    """

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
        resources = tuple(_resource(r) for r in db.execute(
            "SELECT * FROM resources WHERE launch_id = ? ORDER BY created_at",
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
        return [(r["token"], _resource(r)) for r in rows]

    def regions_of(self, launch_id: str) -> dict[str, set[str]]:
        """provider -> regions this launch touched (resources and attempts alike)."""
        out: dict[str, set[str]] = {}
        db = self._connection()
        for table in ("resources", "attempts"):
            for r in db.execute(f"SELECT DISTINCT provider, region FROM {table} "
                                "WHERE launch_id = ?", (launch_id,)):
                out.setdefault(r["provider"], set()).add(r["region"])
        return out


def _resource(row: sqlite3.Row) -> Resource:
    """A ``resources`` row as the Resource it records."""
    return Resource(row["provider"], row["region"], row["resource_id"] or "", row["kind"],
                    row["zone"], row["name"], row["launch_id"], row["state"])

