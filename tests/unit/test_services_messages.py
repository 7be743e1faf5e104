"""Message use cases on the SQLite store with a settable clock: schedule, idempotency, change, cancel, redrive."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib.domain.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    QuotaExceeded,
    StaleEtag,
    WrongState,
)
from chalicelib.domain.model import Plan, Principal, Scope, Status
from chalicelib.domain.schemas import AppCreate, RetrySettings
from chalicelib.domain.times import format_ms
from chalicelib.ports import Inserted, Lease, MessageQuery, Refused, TimerRef
from chalicelib.services import apps, messages
from chalicelib.services.context import Context
from scheduler_local.messages import SqliteMessageStore
from tests.conftest import deliver
from tests.support.doubles import RecordingTimer, SettableClock, snapshot

DAY_MS = 86_400_000
ALICE = Principal("ten_alice", "pro", frozenset({Scope.ADMIN}))
BOB = Principal("ten_bob", "free", frozenset({Scope.ADMIN}))


@pytest.fixture
def app_id(ctx: Context) -> str:
    return apps.create_app(
        ctx, ALICE, AppCreate(name="a", url="https://example.com/", retry=RetrySettings(maxAttempts=4))
    ).id


def schedule_one(
    ctx: Context, app_id: str, principal: Principal = ALICE, header_key: str | None = None, **fields: Any
) -> Inserted:
    raw = {"appId": app_id, "payload": {"x": 1}, **fields}
    if "sendAt" not in fields and "delaySeconds" not in fields:
        raw["delaySeconds"] = 10
    (outcome,) = messages.schedule(ctx, principal, [raw], header_key=header_key)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def timer(ctx: Context) -> RecordingTimer:
    assert isinstance(ctx.timer, RecordingTimer)
    return ctx.timer


# ---- schedule ----


def test_schedule_with_a_delay(ctx: Context, app_id: str, clock: SettableClock) -> None:
    inserted = schedule_one(ctx, app_id, delaySeconds=2.0001)
    message = inserted.message
    assert inserted.created
    assert message.status is Status.SCHEDULED
    assert message.send_at == message.due_at == clock.now + 2001  # rounded up: never early
    assert message.max_attempts == 4  # the app's default
    assert message.gen == 1
    assert ctx.messages.get_payload(ALICE.tenant_id, message.id) == '{"x":1}'
    assert timer(ctx).armed == [message]


def test_schedule_at_a_time_past_and_future(ctx: Context, app_id: str, clock: SettableClock) -> None:
    assert schedule_one(ctx, app_id, sendAt=format_ms(clock.now - 1_000)).message.send_at == clock.now
    with pytest.raises(InvalidInput, match=r"2000-01-01T00:00:00\.000Z is 2\d years in the past"):
        schedule_one(ctx, app_id, sendAt="2000-01-01T00:00:00Z")
    future = schedule_one(ctx, app_id, sendAt="2030-01-01T00:00:00+01:00", maxAttempts=2).message
    assert future.send_at == 1_893_452_400_000
    assert future.max_attempts == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"sendAt": "2030-01-01T00:00:00Z", "delaySeconds": 1},
        {"delaySeconds": -0.001},
        {"delaySeconds": 3651 * 86400},
        {"sendAt": "2030-01-01 00:00:00"},
        {"sendAt": "1960-01-01T00:00:00Z"},
    ],
)
def test_schedule_rejects_bad_times(ctx: Context, app_id: str, fields: dict[str, Any]) -> None:
    before = snapshot(ctx)
    with pytest.raises(InvalidInput):
        schedule_one(ctx, app_id, **fields)
    assert snapshot(ctx) == before


def test_schedule_needs_one_of_the_times(ctx: Context, app_id: str) -> None:
    (outcome,) = messages.schedule(ctx, ALICE, [{"appId": app_id, "payload": 1}])
    assert isinstance(outcome, InvalidInput)


def test_schedule_into_another_tenants_app_is_not_found(ctx: Context, app_id: str) -> None:
    with pytest.raises(NotFound):
        schedule_one(ctx, app_id, principal=BOB)


def test_payload_limit(ctx: Context, app_id: str) -> None:
    with pytest.raises(PayloadTooLarge):
        schedule_one(ctx, app_id, payload="é" * 200_000)


def test_the_plan_quota_counts_stored_messages_and_a_refusal_stores_nothing(ctx: Context, app_id: str) -> None:
    plans = {**ctx.settings.plans, "pro": Plan("pro", None, None, daily_quota=2)}
    tight = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, plans=plans))
    good = {"appId": app_id, "payload": 1, "delaySeconds": 1}
    outcomes = messages.schedule(tight, ALICE, [good, {"bad": 1}, good])
    assert [type(o) for o in outcomes] == [Inserted, InvalidInput, Inserted]
    before = snapshot(ctx)
    with pytest.raises(QuotaExceeded) as refused:
        messages.schedule(tight, ALICE, [good])
    assert refused.value.retry_after_s >= 1 and "2 used" in refused.value.message
    assert snapshot(ctx) == before


def test_batch_items_fail_alone(ctx: Context, app_id: str) -> None:
    outcomes = messages.schedule(
        ctx,
        ALICE,
        [{"appId": app_id, "payload": 1, "delaySeconds": 1}, {"appId": "app_nope", "payload": 1, "delaySeconds": 1}],
    )
    assert isinstance(outcomes[0], Inserted) and isinstance(outcomes[1], NotFound)
    assert len(timer(ctx).armed) == 1


# ---- idempotency ----


def test_idempotent_replay_and_conflict(ctx: Context, app_id: str, clock: SettableClock) -> None:
    first = schedule_one(ctx, app_id, idempotencyKey="k1")
    clock.advance(1_000)
    again = schedule_one(ctx, app_id, idempotencyKey="k1")
    assert not again.created
    assert again.message == first.message
    with pytest.raises(IdempotencyConflict):
        schedule_one(ctx, app_id, idempotencyKey="k1", payload="other")
    assert len(timer(ctx).armed) == 1
    usage = ctx.usage.usage(ALICE.tenant_id, "2000-01-01", "2100-01-01")
    assert [day.scheduled for day in usage] == [1]


def test_idempotency_header_and_body_key(ctx: Context, app_id: str) -> None:
    first = schedule_one(ctx, app_id, header_key="h")
    assert schedule_one(ctx, app_id, header_key="h").message.id == first.message.id
    assert schedule_one(ctx, app_id, header_key="x", idempotencyKey="x").created
    with pytest.raises(InvalidInput):
        schedule_one(ctx, app_id, header_key="a", idempotencyKey="b")


def test_idempotency_key_lives_24_hours_per_tenant(ctx: Context, app_id: str, clock: SettableClock) -> None:
    first = schedule_one(ctx, app_id, idempotencyKey="k")
    bob_app = apps.create_app(ctx, BOB, AppCreate(name="b", url="https://example.com/")).id
    assert schedule_one(ctx, bob_app, principal=BOB, idempotencyKey="k").created
    clock.advance(DAY_MS - 1)
    assert not schedule_one(ctx, app_id, idempotencyKey="k").created
    clock.advance(1)
    later = schedule_one(ctx, app_id, idempotencyKey="k")
    assert later.created and later.message.id != first.message.id


def test_duplicate_keys_inside_one_batch(ctx: Context, app_id: str) -> None:
    item = {"appId": app_id, "payload": 1, "delaySeconds": 1, "idempotencyKey": "dup"}
    first, second = messages.schedule(ctx, ALICE, [item, item])
    assert isinstance(first, Inserted) and isinstance(second, Inserted)
    assert first.created and not second.created and first.message.id == second.message.id


# ---- change, cancel ----


def test_change_time_and_payload_with_the_etag(ctx: Context, app_id: str, clock: SettableClock) -> None:
    message = schedule_one(ctx, app_id).message
    with pytest.raises(PreconditionRequired):
        messages.change(ctx, ALICE, message.id, {"payload": 2}, None)
    with pytest.raises(StaleEtag):
        messages.change(ctx, ALICE, message.id, {"payload": 2}, '"7"')
    changed = messages.change(ctx, ALICE, message.id, {"sendAt": "2030-01-01T00:00:00Z", "payload": [2]}, message.etag)
    assert changed.gen == message.gen + 1
    assert changed.send_at == changed.due_at == 1_893_456_000_000
    assert ctx.messages.get_payload(ALICE.tenant_id, message.id) == "[2]"
    assert timer(ctx).disarmed == [message]
    assert timer(ctx).armed[-1] == changed
    only_payload = messages.change(ctx, ALICE, message.id, {"payload": None}, "*")
    assert only_payload.send_at == changed.send_at and only_payload.gen == changed.gen + 1
    assert ctx.messages.get_payload(ALICE.tenant_id, message.id) == "null"


def test_change_validation(ctx: Context, app_id: str) -> None:
    message = schedule_one(ctx, app_id).message
    for raw in ({}, {"sendAt": "soon"}, {"extra": 1}):
        with pytest.raises(InvalidInput):
            messages.change(ctx, ALICE, message.id, raw, "*")
    with pytest.raises(NotFound):
        messages.change(ctx, BOB, message.id, {"payload": 1}, "*")


def test_cancel_only_while_scheduled(ctx: Context, app_id: str) -> None:
    message = schedule_one(ctx, app_id).message
    cancelled = messages.cancel(ctx, ALICE, message.id)
    assert cancelled.status is Status.CANCELLED and cancelled.next_attempt_at is None
    assert timer(ctx).disarmed == [message]
    with pytest.raises(WrongState):
        messages.cancel(ctx, ALICE, message.id)
    with pytest.raises(WrongState):
        messages.change(ctx, ALICE, message.id, {"payload": 1}, "*")
    with pytest.raises(NotFound):
        messages.cancel(ctx, BOB, message.id)


def test_a_write_based_on_a_stale_read_is_refused(ctx: Context, app_id: str) -> None:
    message = schedule_one(ctx, app_id).message

    class RacingStore(SqliteMessageStore):
        """Another writer changes the message between the use case's read and its write."""

        def get_message(self, tenant_id: str, message_id: str) -> Any:
            seen = super().get_message(tenant_id, message_id)
            if seen is not None and seen.gen == message.gen:
                SqliteMessageStore.save(self, seen.evolve(), expected_gen=seen.gen)
            return seen

    store = ctx.messages
    assert isinstance(store, SqliteMessageStore)
    store.__class__ = RacingStore
    with pytest.raises(ConcurrentUpdate):
        messages.cancel(ctx, ALICE, message.id)


def test_claim_is_refused_for_a_stale_generation(ctx: Context, app_id: str, clock: SettableClock) -> None:
    message = schedule_one(ctx, app_id, delaySeconds=0).message
    changed = messages.change(ctx, ALICE, message.id, {"payload": 2}, "*")

    def claim(m: Any, gen: int) -> Any:
        return ctx.deliveries.claim(TimerRef(ALICE.tenant_id, m.id, gen), now_ms=clock.now, lease_until=clock.now + 1)

    assert isinstance(claim(message, message.gen), Refused)
    later = schedule_one(ctx, app_id, delaySeconds=5).message
    assert isinstance(claim(later, later.gen), Refused)
    claimed = claim(message, changed.gen)
    assert isinstance(claimed, Lease) and claimed.message.status is Status.DELIVERING


# ---- redrive ----


def test_redrive_failed_gives_a_fresh_budget(ctx: Context, app_id: str, clock: SettableClock) -> None:
    message = schedule_one(ctx, app_id, maxAttempts=1).message
    deliver(ctx, ALICE.tenant_id, message.id, 500)
    failed = messages.get(ctx, ALICE, message.id)
    assert (failed.status, failed.attempts, failed.attempts_left) == (Status.FAILED, 1, 0)
    redriven = messages.redrive(ctx, ALICE, message.id, None)
    assert (redriven.status, redriven.send_at, redriven.attempts_left) == (Status.SCHEDULED, clock.now, 1)
    assert redriven.failure_reason is None and redriven.first_attempt_at is None
    assert timer(ctx).armed[-1] == redriven
    with pytest.raises(WrongState):
        messages.redrive(ctx, ALICE, message.id, {})


def test_redrive_at_a_time_and_body_checks(ctx: Context, app_id: str) -> None:
    message = schedule_one(ctx, app_id).message
    messages.cancel(ctx, ALICE, message.id)
    bad: list[Any] = [[], {"sendAt": "later"}, {"payload": 1}]
    for raw in bad:
        with pytest.raises(InvalidInput):
            messages.redrive(ctx, ALICE, message.id, raw)
    redriven = messages.redrive(ctx, ALICE, message.id, {"sendAt": "2030-01-01T00:00:00Z"})
    assert redriven.send_at == 1_893_456_000_000


# ---- reads ----


def test_lists_are_per_tenant_and_ordered(ctx: Context, app_id: str) -> None:
    made = [schedule_one(ctx, app_id, delaySeconds=d).message for d in (30, 10, 20)]
    page = messages.list_messages(ctx, ALICE, MessageQuery(), cursor=None, limit=2)
    assert [m.id for m in page.items] == [made[1].id, made[2].id]
    rest = messages.list_messages(ctx, ALICE, MessageQuery(), cursor=page.next_cursor, limit=2)
    assert [m.id for m in rest.items] == [made[0].id] and rest.next_cursor is None
    assert messages.list_messages(ctx, BOB, MessageQuery(), cursor=None, limit=50).items == []
    with pytest.raises(NotFound):
        messages.get(ctx, BOB, made[0].id)
    with pytest.raises(NotFound):
        messages.attempts(ctx, BOB, made[0].id)
