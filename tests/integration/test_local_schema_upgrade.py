"""A data directory written by an older version opens in this one: schema 1 (before leases and retry
policies), 2 (leases and retry policies, attempts numbered globally) and 3 (attempts numbered per tenant,
before recurring schedules) are all brought to 4 in place, with nothing lost; a file of a newer schema is
refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chalicelib.clock import SystemClock
from scheduler_local.db import SCHEMA_VERSION, Database
from scheduler_local.messages import SqliteMessageStore

MESSAGES = """
CREATE TABLE messages (
    id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL, status TEXT NOT NULL,
    send_at INTEGER NOT NULL, due_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL, gen INTEGER NOT NULL, attempts INTEGER NOT NULL,
    attempts_base INTEGER NOT NULL, not_after INTEGER, first_attempt_at INTEGER,
    delivered_at INTEGER, failure_reason TEXT, idempotency_key TEXT,
    lease_owner TEXT, finished_at INTEGER{lease});
CREATE INDEX messages_due ON messages (due_at) WHERE status = 'scheduled';
CREATE TABLE apps (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
    headers TEXT NOT NULL, max_attempts INTEGER NOT NULL, secrets TEXT NOT NULL, created_at INTEGER NOT NULL{retry});
CREATE TABLE attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL,
    message_id TEXT NOT NULL, n INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
    status_code INTEGER, error TEXT, snippet TEXT NOT NULL);
CREATE INDEX attempts_by_tenant ON attempts (tenant_id, seq);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def old_file(path: Path, version: int) -> None:
    lease, retry = (", lease_until INTEGER", ",\n    retry_policy TEXT") if version >= 2 else ("", "")
    with sqlite3.connect(path) as conn:
        conn.executescript(MESSAGES.format(lease=lease, retry=retry))
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
        conn.execute(
            "INSERT INTO messages (id, tenant_id, app_id, status, send_at, due_at, created_at, max_attempts, gen,"
            " attempts, attempts_base) VALUES ('msg_1', 'ten_a', 'app_a', 'scheduled', 5, 5, 1, 3, 1, 0, 0)"
        )
        for tenant in ["ten_a", "ten_b", "ten_a"]:
            conn.execute(
                "INSERT INTO attempts (tenant_id, app_id, message_id, n, started_at, duration_ms, snippet)"
                " VALUES (?, 'app', 'msg', 1, 0, 0, '')",
                (tenant,),
            )
        if version >= 3:
            conn.execute("ALTER TABLE attempts ADD COLUMN tenant_seq INTEGER NOT NULL DEFAULT 0")
            conn.execute("UPDATE attempts SET tenant_seq = CASE seq WHEN 3 THEN 2 ELSE 1 END")
            conn.execute("CREATE TABLE attempt_counters (tenant_id TEXT PRIMARY KEY, last INTEGER NOT NULL)")
            conn.execute("INSERT INTO attempt_counters VALUES ('ten_a', 2), ('ten_b', 1)")
    conn.close()


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_older_file_is_brought_to_the_current_schema(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    old_file(path, version)
    db = Database(path)
    db.migrate()
    db.migrate()  # opening it again changes nothing
    with db.read() as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert conn.execute("SELECT id, status, due_at, lease_until FROM messages").fetchall() == [
            ("msg_1", "scheduled", 5, None)
        ]
        assert {row[1] for row in conn.execute("PRAGMA table_info(apps)")} >= {"retry_policy"}
        numbered = conn.execute("SELECT tenant_id, tenant_seq FROM attempts ORDER BY seq").fetchall()
        assert numbered == [("ten_a", 1), ("ten_b", 1), ("ten_a", 2)]
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "messages_due_by_owner" in indexes and "messages_due" not in indexes
        assert {"messages_by_schedule", "schedules_due"} <= indexes
        assert conn.execute("SELECT schedule_id FROM messages").fetchall() == [(None,)]
        assert conn.execute("SELECT count(*) FROM schedules").fetchone() == (0,)
    store = SqliteMessageStore(db, SystemClock())
    message = store.get_message("ten_a", "msg_1")
    assert message is not None and (message.status.value, message.schedule_id) == ("scheduled", None)
    db.close()


def test_a_file_of_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    old_file(path, 2)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    db = Database(path)
    with pytest.raises(RuntimeError, match=f"has schema {SCHEMA_VERSION + 1}"):
        db.migrate()
    with db.read() as conn:
        assert "tenant_seq" not in {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}
    db.close()
