"""SQLite plumbing: one file in WAL mode, a versioned schema, a connection per thread, one writer at a time.

Writes take a process-wide lock and then `BEGIN IMMEDIATE`: SQLite never sees two writers of this
process at once, so no read-then-write meets `SQLITE_BUSY_SNAPSHOT` and nobody waits in SQLite's
sleeping busy handler. The lock is fair by lane (`fairness.FairSemaphore`): each write names its
tenant (the engine has a lane of its own), and waiting writers are served round-robin by lane, so a
tenant's queue of big transactions cannot keep another tenant's write waiting behind all of it.
Reads run concurrently on each thread's own connection (WAL).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from chalicelib.domain.errors import StorageUnavailable
from scheduler_local.fairness import SYSTEM_LANE, FairSemaphore

# 2: messages.lease_until, apps.retry_policy; 3: attempts carry a per-tenant sequence (`tenant_seq`, the
# feed's cursor) and the due index also covers tenant and app; 4: recurring schedules (table `schedules`) and
# messages.schedule_id (the schedule a message is a run of). Each step is detected by what the file lacks,
# so a file of schema 1, 2 or 3 is brought to 4 when opened.
SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, scopes TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
    headers TEXT NOT NULL, max_attempts INTEGER NOT NULL, secrets TEXT NOT NULL, created_at INTEGER NOT NULL,
    retry_policy TEXT);
CREATE INDEX IF NOT EXISTS apps_by_tenant ON apps (tenant_id, id);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL, status TEXT NOT NULL,
    send_at INTEGER NOT NULL, due_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL, gen INTEGER NOT NULL, attempts INTEGER NOT NULL,
    attempts_base INTEGER NOT NULL, not_after INTEGER, first_attempt_at INTEGER,
    delivered_at INTEGER, failure_reason TEXT, idempotency_key TEXT,
    lease_owner TEXT, finished_at INTEGER, lease_until INTEGER, schedule_id TEXT);
CREATE INDEX IF NOT EXISTS messages_due_by_owner ON messages (due_at, tenant_id, app_id) WHERE status = 'scheduled';
CREATE INDEX IF NOT EXISTS messages_leased ON messages (lease_owner) WHERE status = 'delivering';
CREATE INDEX IF NOT EXISTS messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_send ON messages (tenant_id, send_at, id);
CREATE INDEX IF NOT EXISTS messages_by_app ON messages (tenant_id, app_id, send_at, id);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages (tenant_id, status, send_at, id);
CREATE INDEX IF NOT EXISTS messages_by_app_status ON messages (tenant_id, app_id, status, send_at, id);
CREATE INDEX IF NOT EXISTS messages_by_schedule ON messages (tenant_id, schedule_id, send_at, id)
    WHERE schedule_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS payloads (message_rowid INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant_id TEXT NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL, request_hash TEXT,
    expires_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at);
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL,
    message_id TEXT NOT NULL, n INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
    status_code INTEGER, error TEXT, snippet TEXT NOT NULL, tenant_seq INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS attempts_by_message ON attempts (message_id, n);
CREATE INDEX IF NOT EXISTS attempts_feed ON attempts (tenant_id, tenant_seq);
CREATE INDEX IF NOT EXISTS attempts_feed_by_app ON attempts (tenant_id, app_id, tenant_seq);
CREATE TABLE IF NOT EXISTS attempt_counters (tenant_id TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage (
    tenant_id TEXT NOT NULL, day TEXT NOT NULL, scheduled INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL, payload TEXT NOT NULL, cron TEXT,
    every_ms INTEGER, anchor_ms INTEGER NOT NULL, timezone TEXT NOT NULL, missed_runs TEXT NOT NULL,
    state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, next_run_at INTEGER,
    start_at INTEGER, end_at INTEGER, last_run_at INTEGER, skipped_count INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS schedules_by_tenant ON schedules (tenant_id, id);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_run_at) WHERE state = 'active' AND next_run_at IS NOT NULL;
"""


class Database:
    """The SQLite file: per-thread connections and serialized write transactions."""

    def __init__(self, path: Path, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._local = threading.local()
        self._write_lock = FairSemaphore(1)
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

    def migrate(self) -> None:
        """Create or upgrade the schema (from 1, 2 or 3 to 4); refuses a file written by a newer version."""
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                found = int(row[0]) if row else 0
                if found > SCHEMA_VERSION:
                    raise RuntimeError(f"{self.path} has schema {found}; this version reads up to {SCHEMA_VERSION}")
            for table, column in (("messages", "lease_until INTEGER"), ("apps", "retry_policy TEXT")):
                _add_column(conn, table, column)  # schema 1 -> 2
            _number_attempts_per_tenant(conn)  # schema 2 -> 3
            _add_column(conn, "messages", "schedule_id TEXT")  # schema 3 -> 4 (the table: SCHEMA below)
        with self._write_lock.hold(SYSTEM_LANE), _storage_errors():
            self.connection().executescript(SCHEMA)
            # the older due index, replaced by one that also covers tenant and app (fair claims skip by them)
            self.connection().execute("DROP INDEX IF EXISTS messages_due")
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -16000")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; SQLite errors become `StorageUnavailable`."""
        with _storage_errors():
            yield self.connection()

    @contextlib.contextmanager
    def write(self, lane: str = SYSTEM_LANE) -> Iterator[sqlite3.Connection]:
        """One write transaction (`BEGIN IMMEDIATE` … `COMMIT`) in `lane`'s turn (a tenant id, or the
        engine's), rolled back on any error."""
        conn = self.connection()
        with self._write_lock.hold(lane), _storage_errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close every connection this database opened."""
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()


def _add_column(conn: sqlite3.Connection, table: str, column: str) -> None:
    """Add `column` (name and type) to `table` if the table exists without it."""
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    if columns and column.split(maxsplit=1)[0] not in columns:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def _number_attempts_per_tenant(conn: sqlite3.Connection) -> None:
    """Schema 2 → 3 (or 1 → 3): number each tenant's attempts 1, 2, … in recording order (the feed's cursor was the
    global sequence, which told a tenant how busy the others were)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}
    if not columns or "tenant_seq" in columns:
        return
    conn.execute("ALTER TABLE attempts ADD COLUMN tenant_seq INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE attempts SET tenant_seq = numbered.n FROM (SELECT seq, row_number() OVER"
        " (PARTITION BY tenant_id ORDER BY seq) AS n FROM attempts) AS numbered WHERE numbered.seq = attempts.seq"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS attempt_counters (tenant_id TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID"
    )
    conn.execute(
        "INSERT OR REPLACE INTO attempt_counters (tenant_id, last)"
        " SELECT tenant_id, max(tenant_seq) FROM attempts GROUP BY tenant_id"
    )
    conn.execute("DROP INDEX IF EXISTS attempts_by_tenant")
    conn.execute("DROP INDEX IF EXISTS attempts_by_app")


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """Locked, full or failing storage is a 503 for the caller, never a 500."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StorageUnavailable(f"storage is unavailable: {exc}", retry_after_s=1) from exc
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.IntegrityError):
            raise
        raise StorageUnavailable(f"storage error: {exc}", retry_after_s=1) from exc
