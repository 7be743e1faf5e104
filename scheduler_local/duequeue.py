"""The engine's SQL: find the next due time, claim due messages in batches, record results, recover, purge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.model import Attempt, Message, UsageDelta
from chalicelib.services.fairness import Admission
from scheduler_local.db import Database
from scheduler_local.fairness import ENGINE_LANE
from scheduler_local.messages import COLUMNS, insert_attempts, message_from_row, save_in
from scheduler_local.stores import add_usage


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message this run holds for delivery, with its payload."""

    message: Message
    payload_json: str


@dataclass(frozen=True, slots=True)
class Completion:
    """What to write when an attempt (or a skip) ends."""

    message: Message
    expected_gen: int
    attempt: Attempt | None
    usage: UsageDelta


class DueQueue:
    """Due-time queries over the `messages_due_by_owner` partial index; leases are tagged with the run id."""

    def __init__(self, db: Database, run_id: str) -> None:
        self._db = db
        self.run_id = run_id

    def next_due(self, admission: Admission | None = None) -> int | None:
        """The earliest `due_at` of a scheduled message (of a tenant and app the admission does not exclude)."""
        skip, args = _exclusion(admission)
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT due_at FROM messages WHERE status = 'scheduled'{skip} ORDER BY due_at LIMIT 1", args
            ).fetchone()
        return None if row is None else int(row[0])

    def claim_due(self, now_ms: int, limit: int, admission: Admission | None = None) -> list[Claimed]:
        """Claim up to `limit` messages with `due_at <= now_ms`, earliest first, with their payloads, of the
        tenants and apps the admission does not exclude (the covering index skips excluded rows cheaply)."""
        skip, args = _exclusion(admission)
        with self._db.write(ENGINE_LANE) as conn:
            rows = conn.execute(
                f"UPDATE messages SET status = 'delivering', gen = gen + 1, lease_owner = ?"
                f" WHERE rowid IN (SELECT rowid FROM messages WHERE status = 'scheduled' AND due_at <= ?{skip}"
                f" ORDER BY due_at LIMIT ?) RETURNING rowid, {COLUMNS}",
                (self.run_id, now_ms, *args, limit),
            ).fetchall()
            if not rows:
                return []
            marks = ",".join("?" * len(rows))
            bodies = dict(
                conn.execute(
                    f"SELECT message_rowid, body FROM payloads WHERE message_rowid IN ({marks})", [r[0] for r in rows]
                ).fetchall()
            )
        claimed = [Claimed(message_from_row(row[1:]), bodies.get(row[0], "null")) for row in rows]
        claimed.sort(key=lambda item: item.message.due_at)
        return claimed

    def complete(self, completions: Sequence[Completion], now_ms: int) -> list[Message]:
        """Write many results in one transaction; returns the messages whose write was stale (skipped)."""
        stale: list[Message] = []
        attempts: list[Attempt] = []
        with self._db.write(ENGINE_LANE) as conn:
            for item in completions:
                try:
                    save_in(conn, item.message, expected_gen=item.expected_gen, now_ms=now_ms)
                except ConcurrentUpdate:
                    stale.append(item.message)
                    continue
                if item.attempt is not None:
                    attempts.append(item.attempt)
            insert_attempts(conn, attempts)
            stale_ids = {message.id for message in stale}
            add_usage(conn, [item.usage for item in completions if item.message.id not in stale_ids])
        return stale

    def reclaim_foreign_leases(self) -> int:
        """Put back every message another run (a crashed or stopped process) held; they are due at once."""
        with self._db.write(ENGINE_LANE) as conn:
            cursor = conn.execute(
                "UPDATE messages SET status = 'scheduled', gen = gen + 1, lease_owner = NULL"
                " WHERE status = 'delivering' AND (lease_owner IS NULL OR lease_owner != ?)",
                (self.run_id,),
            )
            return cursor.rowcount

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


def _exclusion(admission: Admission | None) -> tuple[str, tuple[str, ...]]:
    if admission is None:
        return "", ()
    sql, args = "", list[str]()
    for column, values in (("tenant_id", admission.excluded_tenants), ("app_id", admission.excluded_apps)):
        if values:
            sql += f" AND {column} NOT IN ({','.join('?' * len(values))})"
            args.extend(values)
    return sql, tuple(args)
