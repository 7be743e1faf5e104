"""The local timer: one dispatcher thread, one asyncio delivery loop, one result writer.

- The dispatcher sleeps until the next due time (a `Condition` wait, woken early by `wake()` when a
  sooner message is armed), claims due rows in a transaction, and hands them to the loop. No
  per-message thread or timer object exists, and nothing polls while nothing is due.
- The loop runs each attempt as a task. What may be claimed is the `FairShareLimiter`'s call: a cap
  per tenant and per app whose shares shrink as more tenants and apps are busy, always with room for
  one more, so neither a slow endpoint nor a tenant with many of them can take the pool.
- The writer commits results in batches (one transaction for many attempts) and re-wakes the
  dispatcher for retries due sooner than its sleep.
Claims carry this run's id: on start every lease of an earlier run goes back to `scheduled`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

from chalicelib.delivery import HttpSender
from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.model import App, FailureReason, Message, Status
from chalicelib.domain.retry import usage_of_transition
from chalicelib.ports import Clock
from chalicelib.services.delivery import Skip, log_result, outcome_transition, plan_attempt
from chalicelib.services.fairness import Admission, FairShareLimiter
from scheduler_local.duequeue import Claimed, Completion, DueQueue
from scheduler_local.stats import DeliveryStats
from scheduler_local.stores import SqliteAppStore

log = logging.getLogger(__name__)

CLAIM_BATCH = 256
WRITE_BATCH = 512
MAX_SLEEP_S = 60.0
HOUSEKEEPING_EVERY_MS = 60_000
PURGE_CHUNK = 1_000
WRITE_RETRY_MAX_S = 5.0


class Engine:
    """Delivers due messages of the SQLite store on time; see the module docstring."""

    def __init__(
        self,
        due: DueQueue,
        apps: SqliteAppStore,
        make_sender: Callable[[], HttpSender],
        clock: Clock,
        *,
        limiter: FairShareLimiter,
        per_app: int,
        retention_ms: int,
        jitter: Callable[[], float],
    ) -> None:
        self._due = due
        self._apps = apps
        self._make_sender = make_sender
        self._clock = clock
        self._limiter = limiter
        self._per_app = per_app
        self._retention_ms = retention_ms
        self._jitter = jitter
        self._cv = threading.Condition()
        self._sleep_until: int | None = None  # None while the dispatcher is awake
        self._woken = False
        self._stopping = False
        self._results: queue.SimpleQueue[Completion | None] = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._tasks: dict[str, set[asyncio.Task[None]]] = collections.defaultdict(set)
        self._app_slots: dict[str, asyncio.Semaphore] = {}
        self._sender: HttpSender | None = None
        self._threads: list[threading.Thread] = []
        self._next_housekeeping = 0
        self.stats = DeliveryStats(clock)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> int:
        """Take back earlier runs' leases, then start the threads; returns how many leases came back."""
        recovered = self._due.reclaim_foreign_leases()
        for name, target in (("loop", self._run_loop), ("writer", self._write_results), ("dispatch", self._dispatch)):
            thread = threading.Thread(target=target, name=f"engine-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return recovered

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop claiming, let attempts in flight finish for up to `grace_s`, write their results."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._threads[2].join()
        future = asyncio.run_coroutine_threadsafe(self._drain(grace_s), self._loop)
        future.result(timeout=grace_s + 5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._threads[0].join(timeout=5)
        self._results.put(None)
        self._threads[1].join(timeout=10)

    # ---- waking ----------------------------------------------------------------------------

    def wake(self, due_ms: int) -> None:
        """A message is due at `due_ms`: wake the dispatcher if that is sooner than its sleep."""
        with self._cv:
            if self._sleep_until is None or due_ms < self._sleep_until:
                self._woken = True
                self._cv.notify()

    def abort_app(self, app_id: str, timeout_s: float = 15.0) -> None:
        """Cancel the app's attempts in flight and wait until they are over."""
        if self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._cancel_app(app_id), self._loop)
            future.result(timeout=timeout_s)

    # ---- dispatcher thread -----------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            with self._cv:
                if self._stopping:
                    return
                self._sleep_until = None
                self._woken = False
            admission = self._limiter.admission(CLAIM_BATCH)
            now = self._clock.now_ms()
            try:
                self._housekeep(now)
                if admission.limit > 0 and self._claim(now, admission):
                    continue
                next_due = self._due.next_due(admission) if admission.limit > 0 else None
            except Exception:  # storage trouble: log, back off briefly, try again
                log.exception("dispatcher step failed")
                next_due = now + 1000
            self._sleep(next_due)

    def _claim(self, now: int, admission: Admission) -> bool:
        jobs = self._due.claim_due(now, admission.limit, admission)
        if not jobs:
            return False
        apps = self._apps.get_apps({job.message.app_id for job in jobs})
        self._limiter.acquire(job.message for job in jobs)
        self._loop.call_soon_threadsafe(self._launch, jobs, apps)
        return True

    def _sleep(self, next_due: int | None) -> None:
        with self._cv:
            if self._woken or self._stopping:
                return
            wait_s = MAX_SLEEP_S
            if next_due is not None:
                wait_s = min(wait_s, max(0.0, (next_due - self._clock.now_ms()) / 1000))
                self._sleep_until = next_due
            else:
                self._sleep_until = self._clock.now_ms() + int(MAX_SLEEP_S * 1000)
            if wait_s > 0:
                self._cv.wait(wait_s)

    def _housekeep(self, now: int) -> None:
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_EVERY_MS
        purged = self._due.purge_finished(now - self._retention_ms, PURGE_CHUNK)
        self._due.purge_idempotency(now, PURGE_CHUNK * 10)
        if purged == PURGE_CHUNK:  # more to purge: come back soon, in small bites
            self._next_housekeeping = now + 1_000

    # ---- delivery loop thread --------------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._sender = self._make_sender()
        self._loop.run_forever()
        self._loop.run_until_complete(self._sender.aclose())
        self._loop.close()

    def _launch(self, jobs: Iterable[Claimed], apps: dict[str, App]) -> None:
        for job in jobs:
            app_id = job.message.app_id
            task = self._loop.create_task(self._attempt(job, apps.get(app_id)))
            self._tasks[app_id].add(task)
            task.add_done_callback(self._tasks[app_id].discard)

    async def _attempt(self, job: Claimed, app: App | None) -> None:
        claimed = job.message
        try:
            plan = plan_attempt(claimed, app, job.payload_json, self._clock.now_ms())
            if isinstance(plan, Skip):
                self._results.put(Completion(plan.message, claimed.gen, None, plan.usage))
                return
            slots = self._app_slots.setdefault(claimed.app_id, asyncio.Semaphore(self._per_app))
            async with slots:
                assert self._sender is not None
                outcome = await self._sender.send(plan)
            self._record(job, outcome)
        except asyncio.CancelledError:
            self._record_aborted(job)
            raise
        except Exception:
            log.exception("attempt of %s failed unexpectedly", claimed.id)
            self._record(job, _internal_error(self._clock.now_ms()))

    def _record(self, job: Claimed, outcome: AttemptOutcome) -> None:
        after, attempt, usage = outcome_transition(
            job.message, outcome, finished_at=self._clock.now_ms(), jitter=self._jitter()
        )
        self._results.put(Completion(after, job.message.gen, attempt, usage))

    def _record_aborted(self, job: Claimed) -> None:
        if self._stopping:
            return  # shutting down: the lease goes back to `scheduled` on the next start
        ended = job.message.evolve(status=Status.CANCELLED, failure_reason=FailureReason.APP_DELETED)
        usage = usage_of_transition(ended, attempted=False, at_ms=self._clock.now_ms())
        self._results.put(Completion(ended, job.message.gen, None, usage))

    async def _cancel_app(self, app_id: str) -> None:
        tasks = list(self._tasks.get(app_id, ()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, grace_s: float) -> None:
        tasks = [task for group in self._tasks.values() for task in group]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # ---- writer thread ---------------------------------------------------------------------

    def _write_results(self) -> None:
        while True:
            first = self._results.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < WRITE_BATCH:
                try:
                    item = self._results.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._results.put(None)
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[Completion]) -> None:
        stale = self._complete_with_retries(batch)
        for message in stale:
            log.warning("result for %s was stale and dropped", message.id)
        dropped = {(message.id, message.gen) for message in stale}
        for completion in batch:
            if (completion.message.id, completion.message.gen) not in dropped:
                log_result(completion.message, completion.attempt)
        self.stats.record(batch)
        retry_due = [c.message.due_at for c in batch if c.message.status is Status.SCHEDULED]
        # Wake the dispatcher only if it may now claim what it could not: re-querying after every
        # write while the only busy app is still at its cap scans its due rows for nothing.
        if self._limiter.release([c.message for c in batch]):
            with self._cv:
                self._woken = True
                self._cv.notify()
        if retry_due:
            self.wake(min(retry_due))

    def _complete_with_retries(self, batch: list[Completion]) -> list[Message]:
        """Write results, retrying with backoff while storage is unavailable (disk full, locked): a result
        is never dropped while the process lives. If it dies first, the lease goes back on the next start."""
        pause_s = 0.05
        while True:
            try:
                return self._due.complete(batch, self._clock.now_ms())
            except Exception:
                log.exception("could not record %d delivery results; retrying in %.2f s", len(batch), pause_s)
                if self._stopping and pause_s >= WRITE_RETRY_MAX_S:
                    return []
                time.sleep(pause_s)
                pause_s = min(pause_s * 2, WRITE_RETRY_MAX_S)


def _internal_error(now_ms: int) -> AttemptOutcome:
    return AttemptOutcome(
        started_at_ms=now_ms,
        duration_ms=0,
        status_code=None,
        error="internal_error",
        response_snippet="",
        retry_after_s=None,
    )
