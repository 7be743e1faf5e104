"""`DeliveryQueue` on SQLite: the next due time, claims in batches, results in batches, lease take-back;
and the local housekeeping (purging finished messages and expired idempotency keys)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.model import Message
from chalicelib.ports import Admission, Clock, Completion, Lease, Refused, TimerRef
from scheduler_local.db import Database
from scheduler_local.fairness import ENGINE_LANE
from scheduler_local.messages import COLUMNS, insert_attempts, message_from_row, save_in
from scheduler_local.stores import SqliteAppStore, add_usage


class SqliteDeliveryQueue:
    """`DeliveryQueue` over the `messages_due_by_owner` partial index (it covers tenant and app, so
    excluded rows are skipped cheaply). Leases carry this run's id: the data
    directory is one process's (`fcntl` lock), so another run's lease belongs to a process that is gone
    and counts as expired."""

    def __init__(self, db: Database, apps: SqliteAppStore, clock: Clock, run_id: str) -> None:
        self._db = db
        self._apps = apps
        self._clock = clock
        self.run_id = run_id

    def next_due(self, admission: Admission) -> int | None:
        """The earliest `due_at` of a scheduled message not excluded."""
        skip, args = _exclusion(admission)
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT due_at FROM messages WHERE status = 'scheduled'{skip} ORDER BY due_at LIMIT 1", args
            ).fetchone()
        return None if row is None else int(row[0])

    def claim_due(self, now_ms: int, admission: Admission, *, lease_until: int) -> list[Lease]:
        """Claim up to `admission.limit` due messages, earliest first, with payloads and apps, in one transaction."""
        skip, args = _exclusion(admission)
        with self._db.write(ENGINE_LANE) as conn:
            rows = conn.execute(
                f"UPDATE messages SET status = 'delivering', gen = gen + 1, lease_owner = ?, lease_until = ?"
                f" WHERE rowid IN (SELECT rowid FROM messages WHERE status = 'scheduled' AND due_at <= ?{skip}"
                f" ORDER BY due_at LIMIT ?) RETURNING rowid, {COLUMNS}",
                (self.run_id, lease_until, now_ms, *args, admission.limit),
            ).fetchall()
            if not rows:
                return []
            bodies = _payloads(conn, [row[0] for row in rows])
        messages = [(message_from_row(row[1:]), bodies.get(row[0])) for row in rows]
        apps = self._apps.get_apps({message.app_id for message, _ in messages})
        leases = [Lease(m, body, apps.get(m.app_id), lease_until) for m, body in messages]
        leases.sort(key=lambda lease: lease.message.due_at)
        return leases

    def claim(self, ref: TimerRef, *, now_ms: int, lease_until: int) -> Lease | Refused:
        """Claim one due message at `ref.gen` (what a backend with one timer per message does)."""
        with self._db.write(ENGINE_LANE) as conn:
            row = conn.execute(
                f"UPDATE messages SET status = 'delivering', gen = gen + 1, lease_owner = ?, lease_until = ?"
                f" WHERE id = ? AND tenant_id = ? AND status = 'scheduled' AND gen = ? AND due_at <= ?"
                f" RETURNING rowid, {COLUMNS}",
                (self.run_id, lease_until, ref.message_id, ref.tenant_id, ref.gen, now_ms),
            ).fetchone()
            body = _payloads(conn, [row[0]]).get(row[0]) if row else None
        if row is None:
            stored = self._stored(ref)
            return Refused(stored)
        message = message_from_row(row[1:])
        return Lease(message, body, self._apps.get_apps([message.app_id]).get(message.app_id), lease_until)

    def _stored(self, ref: TimerRef) -> Message | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM messages WHERE id = ? AND tenant_id = ?", (ref.message_id, ref.tenant_id)
            ).fetchone()
        return None if row is None else message_from_row(row)

    def complete(self, completions: Sequence[Completion]) -> list[Completion]:
        """Write many results in one transaction; returns the stale ones (skipped)."""
        stale: list[Completion] = []
        written: list[Completion] = []
        now_ms = self._clock.now_ms()
        with self._db.write(ENGINE_LANE) as conn:
            for item in completions:
                try:
                    save_in(conn, item.message, expected_gen=item.expected_gen, now_ms=now_ms)
                except ConcurrentUpdate:
                    stale.append(item)
                    continue
                written.append(item)
            insert_attempts(conn, [item.attempt for item in written if item.attempt is not None])
            add_usage(conn, [item.usage for item in written])
        return stale

    def take_back_expired(self, now_ms: int, *, limit: int) -> list[Message]:
        """Leases past `lease_until`, or of another run (a crashed or stopped process), back to `scheduled`."""
        with self._db.write(ENGINE_LANE) as conn:
            rows = conn.execute(
                "UPDATE messages SET status = 'scheduled', gen = gen + 1, lease_owner = NULL, lease_until = NULL"
                " WHERE rowid IN (SELECT rowid FROM messages WHERE status = 'delivering'"
                " AND (lease_owner IS NULL OR lease_owner != ? OR lease_until IS NULL OR lease_until < ?) LIMIT ?)"
                f" RETURNING {COLUMNS}",
                (self.run_id, now_ms, limit),
            ).fetchall()
        return [message_from_row(row) for row in rows]

    def purge_finished(self, before_ms: int, limit: int) -> int:
        """Delete up to `limit` messages finished before `before_ms`, with payloads and attempts."""
        with self._db.write(ENGINE_LANE) as conn:
            rows = conn.execute(
                "SELECT rowid, id FROM messages WHERE finished_at IS NOT NULL AND finished_at < ?"
                " ORDER BY finished_at LIMIT ?",
                (before_ms, limit),
            ).fetchall()
            if not rows:
                return 0
            conn.executemany("DELETE FROM payloads WHERE message_rowid = ?", [(r[0],) for r in rows])
            conn.executemany("DELETE FROM attempts WHERE message_id = ?", [(r[1],) for r in rows])
            conn.executemany("DELETE FROM messages WHERE rowid = ?", [(r[0],) for r in rows])
            return len(rows)

    def purge_idempotency(self, now_ms: int, limit: int) -> int:
        """Forget up to `limit` expired idempotency keys."""
        with self._db.write(ENGINE_LANE) as conn:
            cursor = conn.execute(
                "DELETE FROM idempotency WHERE (tenant_id, key) IN"
                " (SELECT tenant_id, key FROM idempotency WHERE expires_at <= ? LIMIT ?)",
                (now_ms, limit),
            )
            return cursor.rowcount


def _exclusion(admission: Admission) -> tuple[str, tuple[str, ...]]:
    sql = ""
    apps, tenants = tuple(admission.excluded_apps), tuple(admission.excluded_tenants)
    if apps:
        sql += f" AND app_id NOT IN ({','.join('?' * len(apps))})"
    if tenants:
        sql += f" AND tenant_id NOT IN ({','.join('?' * len(tenants))})"
    return sql, (*apps, *tenants)


def _payloads(conn: sqlite3.Connection, rowids: list[int]) -> dict[int, str]:
    marks = ",".join("?" * len(rowids))
    rows = conn.execute(f"SELECT message_rowid, body FROM payloads WHERE message_rowid IN ({marks})", rowids)
    return dict(rows.fetchall())
