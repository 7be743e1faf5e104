"""A message cancelled with a 200 is never delivered afterwards; one changed with a 200 never at its old content.

A hypothesis state machine runs the real local adapters (SQLite store and delivery queue), the
delivery runner and the real services with a settable clock; the runner steps do what the engine's threads do
(claim due rows, finish attempts with any outcome, restart and take back leases), interleaved in
any order with the API's operations (make an app, schedule, cancel, change, redrive, delete an app).

Checked at every attempt start (a lease the runner's `prepare` turns into a request; a
claim whose app is gone ends without one): the message was not cancelled by a successful cancel
since its last successful redrive, its app was not deleted, it is due (never early), and it
carries the latest payload and `sendAt` a successful change gave it. A result
written for a generation that moved on (a lease taken back) must be dropped as stale.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule

from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.model import Principal, Scope
from chalicelib.domain.schemas import AppCreate
from chalicelib.ports import Completion, Lease
from chalicelib.services import accounts, apps, messages
from chalicelib.services.runner import DeliveryRunner
from chalicelib.settings import Settings
from scheduler_local.deliveryqueue import SqliteDeliveryQueue
from scheduler_local.wiring import build_local_runtime
from tests.fuzz.profile import examples
from tests.support.doubles import SettableClock

ADMIN = Principal("default", "unlimited", frozenset({Scope.ADMIN}))
START = 1_800_000_000_000
_runs = itertools.count()


class CancelledStaysCancelled(RuleBasedStateMachine):
    """The API and the engine's steps on one SQLite store, in any interleaving."""

    ids = Bundle("ids")
    app_ids = Bundle("app_ids")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="cancel-prop-"))
        self.clock = SettableClock(START)
        self.runtime = build_local_runtime(Settings(data_dir=self.tmp), clock=self.clock)
        self.ctx = self.runtime.context
        accounts.ensure_default_tenant(self.ctx, "k" * 32)
        self.deleted_apps: set[str] = set()
        self.runner = self.new_run()
        self.in_flight: list[Lease] = []
        self.cancelled: set[str] = set()  # cancelled with a 200 and not redriven since
        self.content: dict[str, tuple[str, int]] = {}  # latest (payload JSON, sendAt) a 200 gave each message

    def new_run(self) -> DeliveryRunner:
        """The runner of a fresh process (its own run id) on the same store."""
        queue = SqliteDeliveryQueue(self.runtime.db, self.ctx.apps, self.clock, run_id=f"run-{next(_runs)}")  # type: ignore[arg-type]
        return DeliveryRunner(queue, self.clock, lease_ms=600_000, jitter=lambda: 0.5)

    def teardown(self) -> None:
        self.runtime.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- the API ----

    @initialize(target=app_ids)
    def first_app(self) -> str:
        return self.new_app()

    @rule(target=app_ids)
    def new_app(self) -> str:
        return apps.create_app(self.ctx, ADMIN, AppCreate(name="a", url="http://127.0.0.1:9/")).id

    @rule(target=ids, app_id=app_ids, delay_ms=st.integers(0, 5_000), payload=st.integers())
    def schedule(self, app_id: str, delay_ms: int, payload: int) -> str:
        body = {"appId": app_id, "payload": payload, "delaySeconds": delay_ms / 1000}
        [outcome] = messages.schedule(self.ctx, ADMIN, [body])
        if isinstance(outcome, NotFound):
            return "msg_none"  # the app was deleted
        assert isinstance(outcome, messages.Inserted), outcome
        self.content[outcome.message.id] = (json.dumps(payload), outcome.message.send_at)
        return outcome.message.id

    @rule(message_id=ids)
    def cancel(self, message_id: str) -> None:
        try:
            messages.cancel(self.ctx, ADMIN, message_id)
        except (Conflict, NotFound):
            return
        self.cancelled.add(message_id)

    @rule(message_id=ids, payload=st.integers(), delay_ms=st.one_of(st.none(), st.integers(0, 5_000)))
    def change(self, message_id: str, payload: int, delay_ms: int | None) -> None:
        body: dict[str, object] = {"payload": payload}
        if delay_ms is not None:
            body["sendAt"] = _iso(self.clock.now_ms() + delay_ms)
        try:
            changed = messages.change(self.ctx, ADMIN, message_id, body, "*")
        except (Conflict, NotFound):
            return
        self.content[message_id] = (json.dumps(payload), changed.send_at)

    @rule(message_id=ids)
    def redrive(self, message_id: str) -> None:
        try:
            redriven = messages.redrive(self.ctx, ADMIN, message_id, None)
        except (Conflict, NotFound):
            return
        self.cancelled.discard(message_id)
        self.content[message_id] = (self.content[message_id][0], redriven.send_at)

    @rule(app_id=app_ids)
    def delete_app(self, app_id: str) -> None:
        if app_id not in self.deleted_apps:
            apps.delete_app(self.ctx, ADMIN, app_id)
            self.deleted_apps.add(app_id)

    # ---- the engine's steps ----

    @rule(ms=st.integers(0, 8_000))
    def time_passes(self, ms: int) -> None:
        self.clock.advance(ms)

    @rule(limit=st.integers(1, 8))
    def claim(self, limit: int) -> None:
        """Claim due rows and prepare each attempt as the engine does: a lease whose app is gone ends without one."""
        self.runner.claim_batch = limit
        for lease in self.runner.claim_due():
            step = self.runner.prepare(lease)
            if isinstance(step, Completion):
                assert lease.message.app_id in self.deleted_apps, "skipped although its app exists"
                self.runner.complete([step])
                continue
            self.check_attempt_start(lease, self.clock.now_ms())
            self.in_flight.append(lease)

    def check_attempt_start(self, lease: Lease, now: int) -> None:
        message = lease.message
        assert message.id not in self.cancelled, f"{message.id} was cancelled with a 200, then attempted"
        assert message.app_id not in self.deleted_apps, f"{message.id} attempted after its app was deleted"
        assert message.due_at <= now and message.send_at <= now, "attempted before it was due"
        assert (lease.payload_json, message.send_at) == self.content[message.id], "old content or time"

    @rule(data=st.data(), status=st.sampled_from([200, 410, 500, None]))
    def finish(self, data: st.DataObject, status: int | None) -> None:
        if not self.in_flight:
            return
        lease = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        now = self.clock.now_ms()
        outcome = AttemptOutcome(now, 5, status, None if status == 200 else "boom", "", None)
        current = messages.get(self.ctx, ADMIN, lease.message.id)
        written = self.runner.complete([self.runner.finish(lease, outcome)])
        assert bool(written.stale) == (current.gen != lease.message.gen), "written iff its generation is current"

    @rule()
    def restart(self) -> None:
        """A new run takes back every lease; the old run's attempts are still 'in flight' and must go stale."""
        self.runner = self.new_run()
        self.runner.take_back_expired()


def _iso(ms: int) -> str:
    from chalicelib.domain.times import format_ms

    return format_ms(ms)


CancelledStaysCancelled.TestCase.settings = examples(80, stateful_step_count=50)
test_a_message_cancelled_with_a_200_is_never_delivered_afterwards = CancelledStaysCancelled.TestCase
