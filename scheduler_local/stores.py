"""SQLite stores for tenants, API keys, apps and usage counters."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from typing import Generic, TypeVar

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.model import ApiKey, App, Page, Scope, SigningSecret, Tenant, UsageDay, UsageDelta
from chalicelib.domain.policy import RetryPolicy
from scheduler_local.db import Database

V = TypeVar("V")


class WriteGuardedCache(Generic[V]):
    """A lookup cache for a table only this process writes. A value read before a write committed is
    not cached after it: `begin()` notes the write generation, `put` caches only if it is unchanged."""

    def __init__(self) -> None:
        self._values: dict[str, V] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The cached value, if any."""
        return self._values.get(key)

    def begin(self) -> int:
        """Call before reading the row to cache."""
        return self._generation

    def put(self, key: str, value: V, generation: int) -> None:
        """Cache `value` unless a write committed since `begin()` returned `generation`."""
        with self._lock:
            if generation == self._generation:
                self._values[key] = value

    def invalidate(self) -> None:
        """Call after a write committed."""
        with self._lock:
            self._generation += 1
            self._values.clear()


class SqliteTenantStore:
    """`TenantStore` on SQLite. Lookups are cached: this process is the only writer of the file (it holds
    the data-directory lock), so invalidating on write keeps the cache exact."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: WriteGuardedCache[Tenant] = WriteGuardedCache()

    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        with self._db.write(tenant.id) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tenants (id, name, plan, created_at) VALUES (?, ?, ?, ?)",
                (tenant.id, tenant.name, tenant.plan, tenant.created_at),
            )
        self._cache.invalidate()

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""
        cached = self._cache.get(tenant_id)
        if cached is not None:
            return cached
        generation = self._cache.begin()
        with self._db.read() as conn:
            row = conn.execute("SELECT id, name, plan, created_at FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        if row is None:
            return None
        tenant = Tenant(*row)
        self._cache.put(tenant_id, tenant, generation)
        return tenant

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page[Tenant]:
        """Tenants by id."""
        after = decode_cursor(cursor, str)[0] if cursor else ""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id, name, plan, created_at FROM tenants WHERE id > ? ORDER BY id LIMIT ?", (after, limit + 1)
            ).fetchall()
        items = [Tenant(*row) for row in rows[:limit]]
        return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)


class SqliteKeyStore:
    """`KeyStore` on SQLite. Found keys are cached by hash and dropped on every write of keys, so a revoked
    key stops at once (this process is the only writer: it holds the data-directory lock)."""

    _COLUMNS = "id, tenant_id, name, scopes, token_hash, created_at, revoked_at"

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: WriteGuardedCache[ApiKey] = WriteGuardedCache()

    def put_key(self, key: ApiKey) -> None:
        """Create or replace a key."""
        with self._db.write(key.tenant_id) as conn:
            self._put(conn, key)
        self._cache.invalidate()

    def create_key(self, key: ApiKey, *, max_keys: int | None) -> bool:
        """Store a new key if the tenant has fewer than `max_keys` live keys: counted in the same transaction."""
        with self._db.write(key.tenant_id) as conn:
            if max_keys is not None:
                (live,) = conn.execute(
                    "SELECT count(*) FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL", (key.tenant_id,)
                ).fetchone()
                if live >= max_keys:
                    return False
            self._put(conn, key)
        self._cache.invalidate()
        return True

    def _put(self, conn: sqlite3.Connection, key: ApiKey) -> None:
        scopes = ",".join(sorted(key.scopes))
        row = (key.id, key.tenant_id, key.name, scopes, key.token_hash, key.created_at, key.revoked_at)
        conn.execute(f"INSERT OR REPLACE INTO api_keys ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def find_key(self, token_hash: str) -> ApiKey | None:
        """The key with this token hash."""
        cached = self._cache.get(token_hash)
        if cached is not None:
            return cached
        generation = self._cache.begin()
        with self._db.read() as conn:
            row = conn.execute(f"SELECT {self._COLUMNS} FROM api_keys WHERE token_hash = ?", (token_hash,)).fetchone()
        if row is None:
            return None  # unknown tokens are not cached: guessing must not fill memory
        key = _key(row)
        self._cache.put(token_hash, key, generation)
        return key

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        """A tenant's keys, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {self._COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id", (tenant_id,)
            ).fetchall()
        return [_key(row) for row in rows]

    def revoke_key(self, tenant_id: str, key_id: str, at_ms: int) -> bool:
        """Mark a live key revoked; cached lookups are dropped once it committed."""
        with self._db.write(tenant_id) as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL",
                (at_ms, key_id, tenant_id),
            )
        self._cache.invalidate()
        return cursor.rowcount == 1


def _key(row: tuple) -> ApiKey:
    key_id, tenant_id, name, scopes, token_hash, created_at, revoked_at = row
    scope_set = frozenset(Scope(name) for name in scopes.split(",") if name)
    return ApiKey(key_id, tenant_id, name, scope_set, token_hash, created_at, revoked_at)


class SqliteAppStore:
    """`AppStore` on SQLite; secrets and header values are stored as given (the data dir is private)."""

    _COLUMNS = "id, tenant_id, name, url, headers, max_attempts, secrets, created_at, retry_policy"

    def __init__(self, db: Database) -> None:
        self._db = db

    def put_app(self, app: App) -> None:
        """Create or replace an app."""
        with self._db.write(app.tenant_id) as conn:
            self._put(conn, app)

    def create_app(self, app: App, *, max_apps: int | None) -> bool:
        """Store a new app if the tenant has fewer than `max_apps`: counted in the same transaction."""
        with self._db.write(app.tenant_id) as conn:
            if max_apps is not None:
                (count,) = conn.execute("SELECT count(*) FROM apps WHERE tenant_id = ?", (app.tenant_id,)).fetchone()
                if count >= max_apps:
                    return False
            self._put(conn, app)
        return True

    def _put(self, conn: sqlite3.Connection, app: App) -> None:
        secrets = [[secret.value, secret.expires_at] for secret in app.secrets]
        conn.execute(
            f"INSERT OR REPLACE INTO apps ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                app.id,
                app.tenant_id,
                app.name,
                app.url,
                json.dumps(dict(app.headers)),
                app.max_attempts,
                json.dumps(secrets),
                app.created_at,
                _policy_json(app.retry),
            ),
        )

    def get_app(self, tenant_id: str, app_id: str) -> App | None:
        """One app of a tenant."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {self._COLUMNS} FROM apps WHERE id = ? AND tenant_id = ?", (app_id, tenant_id)
            ).fetchone()
        return None if row is None else app_from_row(row)

    def get_apps(self, app_ids: Iterable[str]) -> dict[str, App]:
        """Apps by id, whatever their tenant (for the delivery engine)."""
        wanted = list(set(app_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._db.read() as conn:
            rows = conn.execute(f"SELECT {self._COLUMNS} FROM apps WHERE id IN ({marks})", wanted).fetchall()
        return {row[0]: app_from_row(row) for row in rows}

    def list_apps(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[App]:
        """A tenant's apps by id."""
        after = decode_cursor(cursor, str)[0] if cursor else ""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {self._COLUMNS} FROM apps WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
                (tenant_id, after, limit + 1),
            ).fetchall()
        items = [app_from_row(row) for row in rows[:limit]]
        return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)

    def delete_app(self, tenant_id: str, app_id: str) -> bool:
        """Delete an app of a tenant."""
        with self._db.write(tenant_id) as conn:
            return conn.execute("DELETE FROM apps WHERE id = ? AND tenant_id = ?", (app_id, tenant_id)).rowcount == 1


def app_from_row(row: tuple) -> App:
    """An `App` from a row of `SqliteAppStore._COLUMNS`."""
    app_id, tenant_id, name, url, headers, max_attempts, secrets, created_at, policy = row
    signing = tuple(SigningSecret(value, expires_at) for value, expires_at in json.loads(secrets))
    retry = RetryPolicy.from_dict(json.loads(policy) if policy else None, max_attempts=max_attempts)
    return App(app_id, tenant_id, name, url, json.loads(headers), retry, signing, created_at)


def _policy_json(policy: RetryPolicy) -> str | None:
    stored = policy.as_dict()
    return None if stored is None else json.dumps(stored)


class SqliteUsageStore:
    """`UsageStore` on SQLite; counters are written by the message store with each transition."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def usage(self, tenant_id: str, first_day: str, last_day: str) -> list[UsageDay]:
        """Days with counts, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT day, scheduled, delivered, failed, attempts FROM usage"
                " WHERE tenant_id = ? AND day BETWEEN ? AND ? ORDER BY day",
                (tenant_id, first_day, last_day),
            ).fetchall()
        return [UsageDay(*row) for row in rows]


def add_usage(conn: sqlite3.Connection, deltas: Iterable[UsageDelta]) -> None:
    """Add counter deltas inside the caller's transaction (merged per tenant-day first)."""
    merged: dict[tuple[str, str], list[int]] = {}
    for delta in deltas:
        counts = merged.setdefault((delta.tenant_id, delta.day), [0, 0, 0, 0])
        counts[0] += delta.scheduled
        counts[1] += delta.delivered
        counts[2] += delta.failed
        counts[3] += delta.attempts
    conn.executemany(
        "INSERT INTO usage (tenant_id, day, scheduled, delivered, failed, attempts) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, day) DO UPDATE SET scheduled = scheduled + excluded.scheduled,"
        " delivered = delivered + excluded.delivered, failed = failed + excluded.failed,"
        " attempts = attempts + excluded.attempts",
        [(tenant, day, *counts) for (tenant, day), counts in merged.items() if any(counts)],
    )
