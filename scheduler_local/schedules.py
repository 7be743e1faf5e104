"""`ScheduleStore` on SQLite: recurring schedules, and their runs written with the schedule's bookkeeping.

`record_runs` takes the write lock once for a whole dispatch step and gives each item a savepoint: an
item is all or nothing (its run messages, their idempotency records and counters, the schedule's new
`next_run_at`), items are independent, and the step costs one commit however many schedules it advances.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.errors import ConcurrentUpdate, QuotaExceeded
from chalicelib.domain.limits import quota_exceeded
from chalicelib.domain.model import Page, UsageDelta
from chalicelib.domain.recurrence import MissedRuns, Recurrence, Schedule, ScheduleState
from chalicelib.ports import Clock, Inserted, RunsRecorded, ScheduleRuns
from scheduler_local.db import Database
from scheduler_local.fairness import ENGINE_LANE
from scheduler_local.messages import SqliteMessageStore
from scheduler_local.stores import add_usage

COLUMNS = (
    "id, tenant_id, app_id, payload, cron, every_ms, anchor_ms, timezone, missed_runs, state, created_at,"
    " updated_at, next_run_at, start_at, end_at, last_run_at, skipped_count, version"
)
_INSERT = f"INSERT INTO schedules ({COLUMNS}) VALUES ({', '.join('?' * 18)})"


def schedule_from_row(row: Sequence) -> Schedule:
    """A `Schedule` from the columns of `COLUMNS`."""
    return Schedule(
        id=row[0],
        tenant_id=row[1],
        app_id=row[2],
        payload_json=row[3],
        recurrence=Recurrence(timezone=row[7], cron=row[4], every_ms=row[5], anchor_ms=row[6]),
        missed_runs=MissedRuns(row[8]),
        state=ScheduleState(row[9]),
        created_at=row[10],
        updated_at=row[11],
        next_run_at=row[12],
        start_at=row[13],
        end_at=row[14],
        last_run_at=row[15],
        skipped_count=row[16],
        version=row[17],
    )


def schedule_values(schedule: Schedule) -> tuple:
    """The values of `COLUMNS` for a schedule."""
    recurrence = schedule.recurrence
    return (
        schedule.id,
        schedule.tenant_id,
        schedule.app_id,
        schedule.payload_json,
        recurrence.cron,
        recurrence.every_ms,
        recurrence.anchor_ms,
        recurrence.timezone,
        schedule.missed_runs.value,
        schedule.state.value,
        schedule.created_at,
        schedule.updated_at,
        schedule.next_run_at,
        schedule.start_at,
        schedule.end_at,
        schedule.last_run_at,
        schedule.skipped_count,
        schedule.version,
    )


class SqliteScheduleStore:
    """Schedules in SQLite; runs go in through the message store's own insert (same idempotency rules)."""

    def __init__(self, db: Database, messages: SqliteMessageStore, clock: Clock) -> None:
        self._db = db
        self._messages = messages
        self._clock = clock

    def create_schedule(self, schedule: Schedule, *, max_schedules: int | None) -> bool:
        """Insert unless the tenant has `max_schedules` already (counted in the same transaction)."""
        with self._db.write(schedule.tenant_id) as conn:
            if max_schedules is not None and _count(conn, schedule.tenant_id) >= max_schedules:
                return False
            conn.execute(_INSERT, schedule_values(schedule))
        return True

    def get_schedule(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        """One schedule of a tenant."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM schedules WHERE id = ? AND tenant_id = ?", (schedule_id, tenant_id)
            ).fetchone()
        return None if row is None else schedule_from_row(row)

    def list_schedules(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[Schedule]:
        """A tenant's schedules by id."""
        after = decode_cursor(cursor, str)[0] if cursor else ""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM schedules WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
                (tenant_id, after, limit + 1),
            ).fetchall()
        items = [schedule_from_row(row) for row in rows[:limit]]
        return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)

    def count_schedules(self, tenant_id: str) -> int:
        """How many schedules the tenant has."""
        with self._db.read() as conn:
            return _count(conn, tenant_id)

    def update_schedule(self, schedule: Schedule, *, expected_version: int) -> None:
        """Compare-and-set on `version`."""
        with self._db.write(schedule.tenant_id) as conn:
            _write(conn, schedule, "version = ?", (expected_version,))

    def delete_schedule(self, tenant_id: str, schedule_id: str) -> bool:
        """Delete; its run messages stay."""
        with self._db.write(tenant_id) as conn:
            cursor = conn.execute("DELETE FROM schedules WHERE id = ? AND tenant_id = ?", (schedule_id, tenant_id))
        return cursor.rowcount == 1

    def due_schedules(self, until_ms: int, *, limit: int) -> list[Schedule]:
        """Active schedules with a run by `until_ms`, earliest first (the `schedules_due` index)."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM schedules WHERE state = 'active' AND next_run_at IS NOT NULL"
                " AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
                (until_ms, limit),
            ).fetchall()
        return [schedule_from_row(row) for row in rows]

    def next_run_at(self) -> int | None:
        """The earliest run of any active schedule (one index probe)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT min(next_run_at) FROM schedules WHERE state = 'active' AND next_run_at IS NOT NULL"
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def record_runs(self, items: Sequence[ScheduleRuns], *, idempotency_ttl_ms: int) -> list[RunsRecorded]:
        """Each item in its own savepoint of one transaction (see the module docstring)."""
        results: list[RunsRecorded] = []
        if not items:
            return results
        with self._db.write(ENGINE_LANE) as conn:
            for item in items:
                conn.execute("SAVEPOINT run_item")
                try:
                    inserted = self._record_one(conn, item, idempotency_ttl_ms)
                except (ConcurrentUpdate, QuotaExceeded) as exc:
                    conn.execute("ROLLBACK TO run_item")
                    conn.execute("RELEASE run_item")
                    results.append(RunsRecorded(item.schedule.id, error=exc))
                    continue
                conn.execute("RELEASE run_item")
                results.append(RunsRecorded(item.schedule.id, inserted=inserted))
        return results

    def _record_one(self, conn: sqlite3.Connection, item: ScheduleRuns, ttl_ms: int) -> list[Inserted]:
        schedule = item.schedule
        if item.expected_next_run_at is None:
            _write(conn, schedule, "version = ? AND next_run_at IS NULL", (schedule.version,))
        else:
            _write(conn, schedule, "version = ? AND next_run_at = ?", (schedule.version, item.expected_next_run_at))
        inserted = [self._messages.insert_one(conn, run, ttl_ms) for run in item.runs]
        created = sum(1 for result in inserted if result.created)
        if created:
            delta = UsageDelta(item.usage.tenant_id, item.usage.day, scheduled=created)
            self._take_quota(conn, delta, item.quota)
            add_usage(conn, [delta])
        return inserted

    def _take_quota(self, conn: sqlite3.Connection, delta: UsageDelta, quota: int | None) -> None:
        if quota is None:
            return
        row = conn.execute(
            "SELECT scheduled FROM usage WHERE tenant_id = ? AND day = ?", (delta.tenant_id, delta.day)
        ).fetchone()
        used = int(row[0]) if row else 0
        if used + delta.scheduled > quota:
            raise quota_exceeded(quota, used, self._clock.now_ms())


def _count(conn: sqlite3.Connection, tenant_id: str) -> int:
    return int(conn.execute("SELECT count(*) FROM schedules WHERE tenant_id = ?", (tenant_id,)).fetchone()[0])


def _write(conn: sqlite3.Connection, schedule: Schedule, condition: str, args: tuple[int, ...]) -> None:
    """Replace a schedule's row where `condition` holds (tenant and id always), else `ConcurrentUpdate`."""
    values = schedule_values(schedule)
    cursor = conn.execute(
        "UPDATE schedules SET app_id = ?, payload = ?, cron = ?, every_ms = ?, anchor_ms = ?, timezone = ?,"
        " missed_runs = ?, state = ?, updated_at = ?, next_run_at = ?, start_at = ?, end_at = ?, last_run_at = ?,"
        f" skipped_count = ?, version = ? WHERE id = ? AND tenant_id = ? AND {condition}",
        (*values[2:10], *values[11:18], schedule.id, schedule.tenant_id, *args),
    )
    if cursor.rowcount != 1:
        raise ConcurrentUpdate(f"schedule {schedule.id} changed meanwhile; read it again")
