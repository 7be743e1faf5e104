"""The local attempt feed's cursor is the tenant's own attempt number (issue 13: with the global
sequence, a tenant paging its 9 attempts saw cursors 38…46 and so how busy everyone else was)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chalicelib.adapters.cursor import decode_cursor
from chalicelib.clock import SystemClock
from chalicelib.domain.model import Attempt
from scheduler_local.db import SCHEMA_VERSION, Database
from scheduler_local.messages import SqliteMessageStore, insert_attempts

V1_ATTEMPTS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL,
    message_id TEXT NOT NULL, n INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
    status_code INTEGER, error TEXT, snippet TEXT NOT NULL);
CREATE INDEX attempts_by_tenant ON attempts (tenant_id, seq);
"""


def attempt(tenant: str, n: int) -> Attempt:
    return Attempt(f"msg_{tenant}{n}", tenant, f"app_{tenant}", 1, 1_000 + n, 5, 200, None, "")


def positions(store: SqliteMessageStore, tenant: str) -> list[int]:
    seen, after = [], None
    while True:
        page = store.recent_attempts(tenant, app_id=None, after=after, limit=1)
        if not page.items:
            return seen
        after = page.resume_cursor
        assert after is not None
        seen.append(decode_cursor(after, int)[0])


def test_cursors_count_the_tenants_own_attempts(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    db.migrate()
    store = SqliteMessageStore(db, SystemClock())
    with db.write() as conn:
        insert_attempts(conn, [attempt("busy", n) for n in range(30)] + [attempt("quiet", 0)])
    for n in range(8):
        with db.write() as conn:
            insert_attempts(conn, [attempt("busy", 100 + n), attempt("quiet", 1 + n), attempt("busy", 200 + n)])
    assert positions(store, "quiet") == list(range(1, 10))
    assert (
        store.latest_attempt_cursor("quiet")
        == store.recent_attempts("quiet", app_id=None, after=None, limit=50).resume_cursor
    )
    assert decode_cursor(store.latest_attempt_cursor("busy"), int) == [46]
    db.close()


def test_a_schema_1_file_is_renumbered_per_tenant(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(V1_ATTEMPTS)
        for tenant in ["a", "b", "b", "a", "b", "a"]:
            old.execute(
                "INSERT INTO attempts (tenant_id, app_id, message_id, n, started_at, duration_ms, snippet)"
                " VALUES (?, 'app', 'msg', 1, 0, 0, '')",
                (tenant,),
            )
    old.close()
    db = Database(path)
    db.migrate()
    store = SqliteMessageStore(db, SystemClock())
    assert positions(store, "a") == [1, 2, 3] and positions(store, "b") == [1, 2, 3]
    with db.write() as conn:
        insert_attempts(conn, [attempt("a", 9)])
    assert positions(store, "a") == [1, 2, 3, 4]
    with db.read() as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    db.close()
