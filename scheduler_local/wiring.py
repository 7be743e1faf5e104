"""Wires the local adapter set: data-dir lock, SQLite stores, limiter, timer and engine.

`build_runtime` is this backend's entry in the composition root (`chalicelib.bootstrap.BACKENDS`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from chalicelib import __version__
from chalicelib.clock import SystemClock
from chalicelib.delivery import HttpSender
from chalicelib.domain import ids
from chalicelib.ports import Clock
from chalicelib.services.accounts import Bootstrap, bootstrap_key, ensure_default_tenant
from chalicelib.services.context import Context
from chalicelib.services.fairness import FairShareLimiter
from chalicelib.services.runner import DeliveryRunner
from chalicelib.settings import Settings
from scheduler_local.db import Database
from scheduler_local.deliveryqueue import SqliteDeliveryQueue
from scheduler_local.engine import Engine
from scheduler_local.limiter import LocalLimiter
from scheduler_local.messages import SqliteMessageStore
from scheduler_local.schedules import SqliteScheduleStore
from scheduler_local.schedules_dispatch import LocalScheduleTimer, ScheduleDispatcher
from scheduler_local.stores import SqliteAppStore, SqliteKeyStore, SqliteTenantStore, SqliteUsageStore
from scheduler_local.timer import LocalTimer

DB_FILE = "scheduler.db"
LOCK_FILE = "lock"
ADMIN_KEY_FILE = "admin-key"
LEASE_SLACK_MS = 600_000  # past the attempt's deadline: results may wait in the writer while storage is down


def lease_ms(settings: Settings) -> int:
    """How long a local lease lasts: a lease only expires if its result could not be written for that long."""
    return int(settings.delivery_timeout_s * 1000) + LEASE_SLACK_MS


class DataDirBusy(RuntimeError):
    """Another process holds the data directory."""


@dataclass
class LocalRuntime:
    """The local backend of one process: its context, engine and the data-directory lock."""

    context: Context
    db: Database
    runner: DeliveryRunner
    engine: Engine
    timer: LocalTimer
    lock_file: IO[str]
    schedule_timer: LocalScheduleTimer = field(default_factory=LocalScheduleTimer)
    dispatcher: ScheduleDispatcher | None = None
    started: bool = field(default=False)

    def start(self) -> int:
        """Start delivering; returns how many leases of an earlier run were taken back."""
        recovered = self.engine.start()
        self.timer.attach(self.engine)
        self.schedule_timer.attach(self.dispatcher, self.engine)
        self.started = True
        return recovered

    def close(self) -> None:
        """Stop the engine (if started), close the database and release the lock."""
        if self.started:
            self.timer.attach(None)
            self.schedule_timer.attach(None, None)
            self.engine.stop()
            self.started = False
        self.db.close()
        with contextlib.suppress(OSError):
            fcntl.flock(self.lock_file, fcntl.LOCK_UN)
        self.lock_file.close()


def build_local_runtime(settings: Settings, *, clock: Clock | None = None) -> LocalRuntime:
    """Lock the data directory, open and migrate the database, and wire every local adapter."""
    data_dir = settings.data_dir
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)  # it holds signing secrets and the admin key
    lock_file = _lock(data_dir)
    clock = clock or SystemClock()
    db = Database(data_dir / DB_FILE)
    try:
        db.migrate()
    except Exception:
        lock_file.close()
        raise
    usage = SqliteUsageStore(db)
    apps = SqliteAppStore(db)
    timer = LocalTimer()
    due_queue = SqliteDeliveryQueue(db, apps, clock, run_id=uuid.uuid4().hex)
    messages = SqliteMessageStore(db, clock)
    schedule_timer = LocalScheduleTimer()
    context = Context(
        tenants=SqliteTenantStore(db),
        keys=SqliteKeyStore(db),
        apps=apps,
        messages=messages,
        deliveries=due_queue,
        usage=usage,
        timer=timer,
        limiter=LocalLimiter(settings),
        clock=clock,
        settings=settings,
        schedules=SqliteScheduleStore(db, messages, clock),
        schedule_timer=schedule_timer,
    )
    dispatcher = ScheduleDispatcher(context)
    runner = DeliveryRunner(
        due_queue,
        clock,
        lease_ms=lease_ms(settings),
        jitter=random.random,
        limiter=FairShareLimiter(
            settings.delivery_concurrency,
            per_tenant=settings.per_tenant_concurrency,
            per_app=settings.per_app_concurrency,
        ),
    )
    engine = Engine(
        runner,
        due_queue,
        lambda: HttpSender(
            timeout_s=settings.delivery_timeout_s,
            allow_private=settings.allow_private_targets,
            user_agent=f"point-in-time-scheduler/{__version__}",
            max_connections=settings.delivery_concurrency,
            now_ms=clock.now_ms,
        ),
        clock,
        per_app=settings.per_app_concurrency,
        retention_ms=settings.retention_days * 86_400_000,
        hook=dispatcher,
        claim_ahead_ms=settings.claim_ahead_ms,
    )
    return LocalRuntime(context, db, runner, engine, timer, lock_file, schedule_timer, dispatcher)


def build_runtime(settings: Settings) -> LocalRuntime:
    """The composition root's builder for `SCHEDULER_BACKEND=local` (engine built, not started)."""
    return build_local_runtime(settings)


def _lock(data_dir: Path) -> IO[str]:
    handle = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise DataDirBusy(
            f"another scheduler process is using {data_dir.resolve()}; stop it or set SCHEDULER_DATA_DIR"
        ) from exc
    return handle


def bootstrap_admin_key(context: Context, settings: Settings) -> str | None:
    """Ensure tenant `default` and its admin key (never again once revoked). Returns the key if it was
    generated now (to print once)."""
    path = settings.data_dir / ADMIN_KEY_FILE
    configured = settings.admin_key or (path.read_text().strip() if path.exists() else None)
    if configured is not None:
        if ensure_default_tenant(context, configured) is Bootstrap.REVOKED:
            _warn_revoked()
        return None
    previous = bootstrap_key(context)
    if previous is not None and previous.revoked_at is not None:
        _warn_revoked()  # and no new key is generated: it would be the revoked key back under another token
        return None
    token = ids.new_api_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    ensure_default_tenant(context, token)
    print(f"generated admin key (shown once, also in {path}): {token}", file=sys.stderr)  # noqa: T201 - shown once, by design
    return token


def _warn_revoked() -> None:
    print(  # noqa: T201 - start-up notice for the operator
        "the bootstrap admin key was revoked; revocation is permanent, so SCHEDULER_ADMIN_KEY and"
        f" {ADMIN_KEY_FILE} are not applied again: use another admin key of tenant default",
        file=sys.stderr,
    )
