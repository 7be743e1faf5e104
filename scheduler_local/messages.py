"""`MessageStore` on SQLite: messages, payloads (own table), idempotency keys and attempts."""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.limits import quota_exceeded
from chalicelib.domain.model import FINISHED, Attempt, FailureReason, Message, Page, Status, UsageDelta
from chalicelib.ports import Clock, Inserted, MessageQuery, NewMessage
from scheduler_local.db import Database
from scheduler_local.stores import add_usage

COLUMNS = (
    "id, tenant_id, app_id, status, send_at, due_at, created_at, max_attempts, gen, attempts,"
    " attempts_base, not_after, first_attempt_at, delivered_at, failure_reason, idempotency_key, schedule_id"
)
_ATTEMPT_COLUMNS = "message_id, tenant_id, app_id, n, started_at, duration_ms, status_code, error, snippet"
TRANSACTION_BYTES = 256 * 1024  # payload per create transaction: a turn of the write lock stays short
_INSERT = f"INSERT INTO messages ({COLUMNS}) VALUES ({', '.join('?' * 17)})"


def message_from_row(row: Sequence) -> Message:
    """A `Message` from the first 17 columns of `COLUMNS`."""
    reason = row[14]
    return Message(
        id=row[0],
        tenant_id=row[1],
        app_id=row[2],
        status=Status(row[3]),
        send_at=row[4],
        due_at=row[5],
        created_at=row[6],
        max_attempts=row[7],
        gen=row[8],
        attempts=row[9],
        attempts_base=row[10],
        not_after=row[11],
        first_attempt_at=row[12],
        delivered_at=row[13],
        failure_reason=None if reason is None else FailureReason(reason),
        idempotency_key=row[15],
        schedule_id=row[16],
    )


def message_values(message: Message) -> tuple:
    """The 17 values of `COLUMNS` for a message."""
    return (
        message.id,
        message.tenant_id,
        message.app_id,
        message.status.value,
        message.send_at,
        message.due_at,
        message.created_at,
        message.max_attempts,
        message.gen,
        message.attempts,
        message.attempts_base,
        message.not_after,
        message.first_attempt_at,
        message.delivered_at,
        None if message.failure_reason is None else message.failure_reason.value,
        message.idempotency_key,
        message.schedule_id,
    )


def finished_at(message: Message, now_ms: int) -> int | None:
    """When a message reached a final state (the retention clock), else None."""
    return now_ms if message.status in FINISHED else None


class SqliteMessageStore:
    """Messages in SQLite. Every method is one transaction; counters move with their transition."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @property
    def db(self) -> Database:
        """The database (for tools and tests that read every table)."""
        return self._db

    def insert_messages(
        self, items: Sequence[NewMessage], usage: UsageDelta, *, idempotency_ttl_ms: int, quota: int | None = None
    ) -> list[Inserted]:
        """Store new messages in order; an idempotency key used within the TTL returns its earlier message.

        Items go in transactions of about `TRANSACTION_BYTES` of payload, so a 5 MB batch holds the write
        lock in short turns that other tenants' writes can take in between (writer fairness). The first
        transaction checks the quota for every item and counts them all (a reservation); each later one
        gives back what it did not store (replays). A crash between them leaves the reservation counted,
        erring towards refusing: the quota never lets more through than the plan allows."""
        chunks = _by_payload_bytes(items, TRANSACTION_BYTES)
        results: list[Inserted] = []
        for index, chunk in enumerate(chunks):
            with self._db.write(usage.tenant_id) as conn:
                stored = [self.insert_one(conn, item, idempotency_ttl_ms) for item in chunk]
                created = sum(1 for result in stored if result.created)
                if index == 0:
                    reserved = created + sum(len(later) for later in chunks[1:])
                    delta = UsageDelta(usage.tenant_id, usage.day, scheduled=reserved)
                    self._take_quota(conn, delta, quota)
                else:
                    delta = UsageDelta(usage.tenant_id, usage.day, scheduled=created - len(chunk))
                add_usage(conn, [delta])
            results.extend(stored)
        return results

    def _take_quota(self, conn: sqlite3.Connection, delta: UsageDelta, quota: int | None) -> None:
        """Raise `QuotaExceeded` (the caller's transaction rolls back) if `delta` takes the day past `quota`."""
        if quota is None or not delta.scheduled:
            return
        row = conn.execute(
            "SELECT scheduled FROM usage WHERE tenant_id = ? AND day = ?", (delta.tenant_id, delta.day)
        ).fetchone()
        used = int(row[0]) if row else 0
        if used + delta.scheduled > quota:
            raise quota_exceeded(quota, used, self._clock.now_ms())

    def insert_one(self, conn: sqlite3.Connection, item: NewMessage, ttl_ms: int) -> Inserted:
        """Store one message inside the caller's transaction, or find its idempotency key's earlier message
        (counters are the caller's)."""
        message = item.message
        key = message.idempotency_key
        if key is not None:
            earlier = self._replay(conn, message.tenant_id, key, message.created_at)
            if earlier is not None:
                return earlier
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (tenant_id, key, message_id, request_hash, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (message.tenant_id, key, message.id, item.request_hash, message.created_at + ttl_ms),
            )
        rowid = conn.execute(_INSERT, message_values(message)).lastrowid
        conn.execute("INSERT INTO payloads (message_rowid, body) VALUES (?, ?)", (rowid, item.payload_json))
        return Inserted(message, created=True, request_hash=item.request_hash)

    def _replay(self, conn: sqlite3.Connection, tenant_id: str, key: str, now_ms: int) -> Inserted | None:
        row = conn.execute(
            "SELECT message_id, request_hash FROM idempotency WHERE tenant_id = ? AND key = ? AND expires_at > ?",
            (tenant_id, key, now_ms),
        ).fetchone()
        if row is None:
            return None
        earlier = conn.execute(f"SELECT {COLUMNS} FROM messages WHERE id = ?", (row[0],)).fetchone()
        if earlier is None:  # purged by retention while the key lived on: treat the key as free
            return None
        return Inserted(message_from_row(earlier), created=False, request_hash=row[1])

    def get_message(self, tenant_id: str, message_id: str) -> Message | None:
        """One message of a tenant."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM messages WHERE id = ? AND tenant_id = ?", (message_id, tenant_id)
            ).fetchone()
        return None if row is None else message_from_row(row)

    def get_payload(self, tenant_id: str, message_id: str) -> str | None:
        """The payload JSON of a message."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT p.body FROM messages m JOIN payloads p ON p.message_rowid = m.rowid"
                " WHERE m.id = ? AND m.tenant_id = ?",
                (message_id, tenant_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def list_messages(self, tenant_id: str, query: MessageQuery, *, cursor: str | None, limit: int) -> Page[Message]:
        """Messages by `sendAt`, then id; each filter combination has an index that serves it in order."""
        where = ["tenant_id = ?"]
        args: list[object] = [tenant_id]
        if query.app_id is not None:
            where.append("app_id = ?")
            args.append(query.app_id)
        if query.schedule_id is not None:
            where.append("schedule_id = ?")
            args.append(query.schedule_id)
        if query.status is not None:
            where.append("status = ?")
            args.append(query.status.value)
        if query.send_after is not None:
            where.append("send_at >= ?")
            args.append(query.send_after)
        if query.send_before is not None:
            where.append("send_at <= ?")
            args.append(query.send_before)
        if cursor:
            send_at, last_id = decode_cursor(cursor, int, str)
            where.append("(send_at, id) > (?, ?)")
            args.extend((send_at, last_id))
        sql = f"SELECT {COLUMNS} FROM messages WHERE {' AND '.join(where)} ORDER BY send_at, id LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(sql, (*args, limit + 1)).fetchall()
        items = [message_from_row(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(items, encode_cursor(items[-1].send_at, items[-1].id) if more else None)

    def save(
        self,
        message: Message,
        *,
        expected_gen: int,
        payload_json: str | None = None,
        attempt: Attempt | None = None,
        usage: UsageDelta | None = None,
        quota: int | None = None,
    ) -> None:
        """Compare-and-set on `gen`; payload, attempt and counters (quota checked) in the same transaction."""
        with self._db.write(message.tenant_id) as conn:
            save_in(conn, message, expected_gen=expected_gen, now_ms=self._clock.now_ms())
            if usage is not None:
                self._take_quota(conn, usage, quota)
            if payload_json is not None:
                conn.execute(
                    "UPDATE payloads SET body = ? WHERE message_rowid = (SELECT rowid FROM messages WHERE id = ?)",
                    (payload_json, message.id),
                )
            if attempt is not None:
                insert_attempts(conn, [attempt])
            if usage is not None:
                add_usage(conn, [usage])

    def list_attempts(self, tenant_id: str, message_id: str) -> list[Attempt]:
        """A message's attempts, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE message_id = ? AND tenant_id = ? ORDER BY n, seq",
                (message_id, tenant_id),
            ).fetchall()
        return [Attempt(*row) for row in rows]

    def recent_attempts(self, tenant_id: str, *, app_id: str | None, after: str | None, limit: int) -> Page[Attempt]:
        """Attempts in recording order after the cursor, which holds the tenant's own attempt number
        (`tenant_seq`: 1, 2, … per tenant, so it says nothing of other tenants). `next_cursor` is None on
        a short page (the list ends there for now); `resume_cursor` always marks the position."""
        seq = decode_cursor(after, int)[0] if after else 0
        app_filter = " AND app_id = ?" if app_id else ""
        args: tuple[object, ...] = (tenant_id, seq, app_id, limit) if app_id else (tenant_id, seq, limit)
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT tenant_seq, {_ATTEMPT_COLUMNS} FROM attempts WHERE tenant_id = ? AND tenant_seq > ?"
                f"{app_filter} ORDER BY tenant_seq LIMIT ?",
                args,
            ).fetchall()
        items = [Attempt(*row[1:]) for row in rows]
        position = encode_cursor(rows[-1][0] if rows else seq)
        return Page(items, position if len(rows) == limit else None, resume_cursor=position)

    def latest_attempt_cursor(self, tenant_id: str) -> str:
        """The position after the tenant's newest attempt (one primary-key probe)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT last FROM attempt_counters WHERE tenant_id = ?", (tenant_id,)).fetchone()
        return encode_cursor(row[0] if row else 0)

    def cancel_scheduled_of_app(self, tenant_id: str, app_id: str, *, limit: int) -> int:
        """Cancel a chunk of an app's scheduled messages in one statement."""
        with self._db.write(tenant_id) as conn:
            return conn.execute(
                "UPDATE messages SET status = 'cancelled', failure_reason = 'app_deleted', gen = gen + 1,"
                " finished_at = ? WHERE rowid IN (SELECT rowid FROM messages"
                " WHERE tenant_id = ? AND app_id = ? AND status = 'scheduled' LIMIT ?)",
                (self._clock.now_ms(), tenant_id, app_id, limit),
            ).rowcount


def _by_payload_bytes(items: Sequence[NewMessage], limit: int) -> list[Sequence[NewMessage]]:
    """Consecutive runs of `items` of at most `limit` payload characters each (at least one item a run)."""
    runs: list[Sequence[NewMessage]] = []
    start, size = 0, 0
    for index, item in enumerate(items):
        if index > start and size + len(item.payload_json) > limit:
            runs.append(items[start:index])
            start, size = index, 0
        size += len(item.payload_json)
    if start < len(items):
        runs.append(items[start:])
    return runs


def save_in(conn: sqlite3.Connection, message: Message, *, expected_gen: int, now_ms: int) -> None:
    """The compare-and-set update of one message inside the caller's transaction."""
    values = message_values(message)
    cursor = conn.execute(
        "UPDATE messages SET status = ?, send_at = ?, due_at = ?, max_attempts = ?, gen = ?, attempts = ?,"
        " attempts_base = ?, not_after = ?, first_attempt_at = ?, delivered_at = ?, failure_reason = ?,"
        " lease_owner = NULL, lease_until = NULL, finished_at = ? WHERE id = ? AND gen = ?",
        (*values[3:6], *values[7:15], finished_at(message, now_ms), message.id, expected_gen),
    )
    if cursor.rowcount != 1:
        raise ConcurrentUpdate(f"message {message.id} changed meanwhile; read it again")


def insert_attempts(conn: sqlite3.Connection, attempts: Sequence[Attempt]) -> None:
    """Record attempts inside the caller's transaction, numbering each tenant's attempts in order."""
    if not attempts:
        return
    per_tenant = collections.Counter(a.tenant_id for a in attempts)
    next_seq: dict[str, int] = {}
    for tenant_id, count in per_tenant.items():
        (last,) = conn.execute(
            "INSERT INTO attempt_counters (tenant_id, last) VALUES (?, ?)"
            " ON CONFLICT (tenant_id) DO UPDATE SET last = last + excluded.last RETURNING last",
            (tenant_id, count),
        ).fetchone()
        next_seq[tenant_id] = last - count + 1
    rows = []
    for a in attempts:
        seq = next_seq[a.tenant_id]
        next_seq[a.tenant_id] = seq + 1
        rows.append(
            (
                a.message_id,
                a.tenant_id,
                a.app_id,
                a.n,
                a.started_at,
                a.duration_ms,
                a.status_code,
                a.error,
                a.response_snippet,
                seq,
            )
        )
    conn.executemany(f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}, tenant_seq) VALUES ({', '.join('?' * 10)})", rows)
