"""The local driver of the delivery runner: one dispatcher thread, one asyncio delivery loop, one writer.

What to claim, send and write is the runner's (`chalicelib.services.runner`); this module decides when:
- The dispatcher sleeps until `claim_ahead_ms` before the next due time (a `Condition` wait, woken
  early by `wake()` when a sooner message is armed), has the runner claim a batch of what is due by
  then, and hands it to the loop, which sends each at its due time: the claim's storage write (and a
  wait for the write lock) happens before the due time, not inside the lateness. Such a message is
  `delivering` for those last milliseconds; a crash then loses nothing (the lease goes back on the
  next start). No per-message thread or timer object exists, and nothing polls while nothing is due.
- The loop runs each attempt as a task. What may be claimed is the runner's limiter's call (locally the
  `FairShareLimiter`): a cap per tenant and per app whose shares shrink as more tenants and apps are
  busy, always with room for one more, so neither a slow endpoint nor a tenant with many of them can
  take the pool.
- The writer has the runner complete results in batches (one transaction for many attempts) and
  re-wakes the dispatcher for retries due sooner than its sleep, or when the limiter has room again.
Leases carry this run's id: on start every lease of an earlier run goes back to `scheduled`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from chalicelib.delivery import HttpSender
from chalicelib.ports import Clock, Completion, Lease
from chalicelib.services.runner import DeliveryRunner, Written
from scheduler_local.deliveryqueue import SqliteDeliveryQueue
from scheduler_local.stats import DeliveryStats

log = logging.getLogger(__name__)

MAX_SLEEP_S = 60.0
WRITE_BATCH = 512
HOUSEKEEPING_EVERY_MS = 60_000
PURGE_CHUNK = 1_000
WRITE_RETRY_MAX_S = 5.0
CLAIM_AHEAD_MS = 20  # the default of Settings.claim_ahead_ms (SCHEDULER_CLAIM_AHEAD_MS)


class Hook(Protocol):
    """Work the dispatcher thread also does on each turn (recurring schedules' runs): called with now,
    returns when it has work next (None: nothing planned), which the dispatcher's sleep honours."""

    def __call__(self, now_ms: int) -> int | None:
        """Do what is due; the next time to be called."""
        ...


class Engine:
    """Delivers due messages of the SQLite store on time; see the module docstring."""

    def __init__(
        self,
        runner: DeliveryRunner,
        due_queue: SqliteDeliveryQueue,
        make_sender: Callable[[], HttpSender],
        clock: Clock,
        *,
        per_app: int,
        retention_ms: int,
        hook: Hook | None = None,
        claim_ahead_ms: int = CLAIM_AHEAD_MS,
    ) -> None:
        self._runner = runner
        self._ahead_ms = claim_ahead_ms
        self._queue = due_queue  # for housekeeping; deliveries go through the runner
        self._make_sender = make_sender
        self._clock = clock
        self._per_app = per_app
        self._retention_ms = retention_ms
        self._hook = hook
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
        recovered = 0
        while taken := self._runner.take_back_expired():
            recovered += len(taken)
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
        """A message is due at `due_ms`: wake the dispatcher if its claim is sooner than the sleep's end."""
        with self._cv:
            if self._sleep_until is None or due_ms - self._ahead_ms < self._sleep_until:
                self._woken = True
                self._cv.notify()

    def _wake_now(self) -> None:
        with self._cv:
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
            now = self._clock.now_ms()
            try:
                self._housekeep(now)
                hook_due = None if self._hook is None else self._hook(now)
                due, ahead = self._runner.claim_ahead(self._ahead_ms)
                if due or ahead:
                    self._loop.call_soon_threadsafe(self._launch, due, ahead)
                    continue
                next_due = _earliest(self._runner.next_due(), hook_due)
            except Exception:  # storage trouble: log, back off briefly, try again
                log.exception("dispatcher step failed")
                next_due = now + 1000
            self._sleep(next_due)

    def _sleep(self, next_due: int | None) -> None:
        with self._cv:
            if self._woken or self._stopping:
                return
            wait_s = MAX_SLEEP_S
            if next_due is not None:
                # claiming ahead only while the runner would: else a wake before the time claims nothing
                claim_at = next_due - (self._ahead_ms if self._runner.claims_ahead() else 0)
                wait_s = min(wait_s, max(0.0, (claim_at - self._clock.now_ms()) / 1000))
                self._sleep_until = claim_at
            else:
                self._sleep_until = self._clock.now_ms() + int(MAX_SLEEP_S * 1000)
            if wait_s > 0:
                self._cv.wait(wait_s)

    def _housekeep(self, now: int) -> None:
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_EVERY_MS
        taken = self._runner.take_back_expired()
        if taken:
            log.warning("took back %d messages whose lease expired", len(taken))
        purged = self._queue.purge_finished(now - self._retention_ms, PURGE_CHUNK)
        self._queue.purge_idempotency(now, PURGE_CHUNK * 10)
        if purged == PURGE_CHUNK or taken:  # more to do: come back soon, in small bites
            self._next_housekeeping = now + 1_000

    # ---- delivery loop thread --------------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._sender = self._make_sender()
        self._loop.run_forever()
        self._loop.run_until_complete(self._sender.aclose())
        self._loop.close()

    def _launch(self, due: Iterable[Lease], ahead: Iterable[Lease] = ()) -> None:
        for lease, early in [*((lease, False) for lease in due), *((lease, True) for lease in ahead)]:
            app_id = lease.message.app_id
            task = self._loop.create_task(self._attempt(lease, early=early))
            self._tasks[app_id].add(task)
            task.add_done_callback(self._tasks[app_id].discard)

    async def _attempt(self, lease: Lease, *, early: bool = False) -> None:
        try:
            if early:
                await self._until_due(lease)
            step = self._runner.prepare(lease)
            if isinstance(step, Completion):
                self._results.put(step)
                return
            slots = self._app_slots.setdefault(lease.message.app_id, asyncio.Semaphore(self._per_app))
            async with slots:
                assert self._sender is not None
                outcome = await self._sender.send(step)
            self._results.put(self._runner.finish(lease, outcome))
        except asyncio.CancelledError:
            if not self._stopping:  # shutting down: the lease goes back to `scheduled` on the next start
                self._results.put(self._runner.abandon(lease))
            raise
        except Exception:
            log.exception("attempt of %s failed unexpectedly", lease.message.id)
            self._results.put(self._runner.failed_internally(lease))

    async def _until_due(self, lease: Lease) -> None:
        """Wait for a lease claimed ahead to come due, then count it in flight (also when cancelled
        meanwhile: its completion releases it)."""
        try:
            await asyncio.sleep(max(0, lease.message.due_at - self._clock.now_ms()) / 1000)
        finally:
            self._runner.admit([lease])

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
        written = self._complete_with_retries(batch)
        if written is None:
            return
        for item in written.stale:
            log.warning("result for %s was stale and dropped", item.message.id)
        self.stats.record(batch)
        # Wake the dispatcher only if it can now claim what it could not: re-querying after every
        # write while the only busy app is still at its cap scans its due rows for nothing.
        if written.widened:
            self._wake_now()
        if written.retry_due is not None:
            self.wake(written.retry_due)

    def _complete_with_retries(self, batch: list[Completion]) -> Written | None:
        """Write results, retrying with backoff while storage is unavailable (disk full, locked): a result
        is never dropped while the process lives. If it dies first, the lease goes back on the next start."""
        pause_s = 0.05
        while True:
            try:
                return self._runner.complete(batch)
            except Exception:
                log.exception("could not record %d delivery results; retrying in %.2f s", len(batch), pause_s)
                if self._stopping and pause_s >= WRITE_RETRY_MAX_S:
                    return None
                time.sleep(pause_s)
                pause_s = min(pause_s * 2, WRITE_RETRY_MAX_S)


def _earliest(first: int | None, second: int | None) -> int | None:
    return second if first is None else first if second is None else min(first, second)
