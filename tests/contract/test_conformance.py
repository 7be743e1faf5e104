"""The conformance suite: the same service-level behaviour over every adapter set (see conftest)."""

from __future__ import annotations

import pytest

from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.errors import ConcurrentUpdate, IdempotencyConflict, NotFound, Unauthenticated, WrongState
from chalicelib.domain.model import Principal, Scope, Status
from chalicelib.domain.schemas import AppCreate, KeyCreate, TenantCreate
from chalicelib.ports import MessageQuery
from chalicelib.services import accounts, apps, delivery, messages, usage
from chalicelib.services.context import Context


def tenant(ctx: Context, name: str = "acme") -> Principal:
    _, token = accounts.create_tenant(ctx, TenantCreate(name=name, plan="unlimited"))
    return accounts.authenticate(ctx, token)


def app_of(ctx: Context, who: Principal, url: str = "https://example.com/hook") -> str:
    return apps.create_app(ctx, who, AppCreate(name="hooks", url=url)).id


def schedule_one(ctx: Context, who: Principal, app_id: str, **fields: object) -> messages.Inserted:
    [result] = messages.schedule(ctx, who, [{"appId": app_id, "payload": {"n": 1}, "delaySeconds": 10, **fields}])
    assert isinstance(result, messages.Inserted), result
    return result


def ok(now_ms: int) -> AttemptOutcome:
    return AttemptOutcome(now_ms, 5, 200, None, "ok", None)


def test_keys_authenticate_until_revoked(ctx: Context) -> None:
    admin = tenant(ctx)
    key, token = accounts.create_key(ctx, admin, KeyCreate(name="ci", scopes=["send"]))
    who = accounts.authenticate(ctx, token)
    assert (who.tenant_id, who.scopes) == (admin.tenant_id, frozenset({Scope.SEND}))
    accounts.revoke_key(ctx, admin, key.id)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, token)
    assert key.id not in {k.id for k in accounts.list_keys(ctx, admin)}


def test_other_tenants_resources_are_not_found(ctx: Context) -> None:
    alice, bob = tenant(ctx, "alice"), tenant(ctx, "bob")
    app_id = app_of(ctx, alice)
    message = schedule_one(ctx, alice, app_id).message
    with pytest.raises(NotFound):
        apps.get_app(ctx, bob, app_id)
    with pytest.raises(NotFound):
        messages.get(ctx, bob, message.id)
    with pytest.raises(NotFound):
        messages.cancel(ctx, bob, message.id)
    [error] = messages.schedule(ctx, bob, [{"appId": app_id, "payload": 1, "delaySeconds": 0}])
    assert isinstance(error, NotFound)
    assert messages.list_messages(ctx, bob, MessageQuery(), cursor=None, limit=50).items == []


def test_idempotency_replays_same_body_and_rejects_a_different_one(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    first = schedule_one(ctx, who, app_id, idempotencyKey="k1")
    clock.advance(1_000)  # delaySeconds compares as sent, not as the resulting time
    again = schedule_one(ctx, who, app_id, idempotencyKey="k1")
    assert (again.created, again.message.id) == (False, first.message.id)
    [conflict] = messages.schedule(
        ctx, who, [{"appId": app_id, "payload": 2, "delaySeconds": 10, "idempotencyKey": "k1"}]
    )
    assert isinstance(conflict, IdempotencyConflict)
    clock.advance(ctx.settings.idempotency_ttl_ms)
    assert schedule_one(ctx, who, app_id, idempotencyKey="k1").created


def test_list_orders_by_send_at_then_id_and_pages_through_everything(ctx: Context) -> None:
    who = tenant(ctx)
    app_a, app_b = app_of(ctx, who), app_of(ctx, who)
    raws = [{"appId": (app_a, app_b)[i % 2], "payload": i, "delaySeconds": (i * 7) % 13} for i in range(40)]
    created = [r.message for r in messages.schedule(ctx, who, raws)]  # type: ignore[union-attr]
    seen, cursor = [], None
    while True:
        page = messages.list_messages(ctx, who, MessageQuery(app_id=app_a), cursor=cursor, limit=7)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted((m for m in created if m.app_id == app_a), key=lambda m: (m.send_at, m.id))
    assert [m.id for m in seen] == [m.id for m in expected]
    messages.cancel(ctx, who, expected[0].id)
    cancelled = messages.list_messages(ctx, who, MessageQuery(status=Status.CANCELLED), cursor=None, limit=50)
    assert [m.id for m in cancelled.items] == [expected[0].id]


def test_time_window_filter_is_inclusive(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    made = [schedule_one(ctx, who, app_id, delaySeconds=s).message for s in (10, 20, 30)]
    window = MessageQuery(send_after=made[1].send_at, send_before=made[2].send_at)
    page = messages.list_messages(ctx, who, window, cursor=None, limit=50)
    assert [m.id for m in page.items] == [made[1].id, made[2].id]


def test_save_is_compare_and_set_on_generation(ctx: Context) -> None:
    who = tenant(ctx)
    message = schedule_one(ctx, who, app_of(ctx, who)).message
    messages.cancel(ctx, who, message.id)
    with pytest.raises(ConcurrentUpdate):
        ctx.messages.save(message.evolve(status=Status.CANCELLED), expected_gen=message.gen)


def test_claim_needs_due_time_and_current_generation(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    message = schedule_one(ctx, who, app_id).message
    claim = dict(now_ms=clock.now + 9_999, lease_until=clock.now + 60_000, owner="run-1")
    assert ctx.messages.claim(who.tenant_id, message.id, gen=message.gen, **claim) is None  # not due yet
    changed = messages.change(ctx, who, message.id, {"payload": {"v": 2}}, message.etag)
    due = dict(claim, now_ms=clock.now + 10_000)
    assert ctx.messages.claim(who.tenant_id, message.id, gen=message.gen, **due) is None  # stale timer
    claimed = ctx.messages.claim(who.tenant_id, message.id, gen=changed.gen, **due)
    assert claimed is not None and claimed.status is Status.DELIVERING
    assert ctx.messages.claim(who.tenant_id, message.id, gen=changed.gen, **due) is None  # claimed once
    assert messages.get_payload(ctx, who, message.id) == {"v": 2}
    with pytest.raises(WrongState):
        messages.cancel(ctx, who, message.id)


def test_delivery_records_attempt_and_usage_once(ctx: Context, clock) -> None:
    who = tenant(ctx)
    message = schedule_one(ctx, who, app_of(ctx, who), delaySeconds=0).message
    claimed = ctx.messages.claim(
        who.tenant_id, message.id, gen=message.gen, now_ms=clock.now, lease_until=clock.now + 1, owner="r"
    )
    assert claimed is not None
    failed = AttemptOutcome(clock.now, 12, 503, "http_status: 503", "busy", 2.0)
    after = delivery.record_outcome(ctx.messages, claimed, failed, finished_at=clock.now + 12, jitter=0.5)
    assert (after.status, after.due_at, after.attempts) == (Status.SCHEDULED, clock.now + 2_012, 1)
    with pytest.raises(ConcurrentUpdate):  # a duplicate result of the same claim writes nothing
        delivery.record_outcome(ctx.messages, claimed, failed, finished_at=clock.now + 12, jitter=0.5)
    clock.advance(2_012)
    again = ctx.messages.claim(
        who.tenant_id, message.id, gen=after.gen, now_ms=clock.now, lease_until=clock.now + 1, owner="r"
    )
    assert again is not None
    done = delivery.record_outcome(ctx.messages, again, ok(clock.now), finished_at=clock.now + 5, jitter=0.5)
    assert done.status is Status.DELIVERED and done.late_ms == 0
    attempts = messages.attempts(ctx, who, message.id)
    assert [(a.n, a.status_code, a.response_snippet) for a in attempts] == [(1, 503, "busy"), (2, 200, "ok")]
    [day] = [d for d in usage.usage(ctx, who, first=None, last=None).days if d.scheduled]
    assert (day.scheduled, day.delivered, day.failed, day.attempts) == (1, 1, 0, 2)


def test_recent_attempts_follow_from_a_cursor(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    for _ in range(3):
        message = schedule_one(ctx, who, app_id, delaySeconds=0).message
        claimed = ctx.messages.claim(
            who.tenant_id, message.id, gen=message.gen, now_ms=clock.now, lease_until=clock.now, owner="r"
        )
        assert claimed is not None
        delivery.record_outcome(ctx.messages, claimed, ok(clock.now), finished_at=clock.now, jitter=0)
    first = messages.recent_attempts(ctx, who, app_id=None, after=None, limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    rest = messages.recent_attempts(ctx, who, app_id=app_id, after=first.next_cursor, limit=2)
    assert len(rest.items) == 1 and rest.next_cursor is None and rest.resume_cursor is not None
    caught_up = messages.recent_attempts(ctx, who, app_id=None, after=rest.resume_cursor, limit=2)
    assert caught_up.items == []


def test_deleting_an_app_cancels_its_pending_messages(ctx: Context) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    made = [schedule_one(ctx, who, app_id).message for _ in range(3)]
    apps.delete_app(ctx, who, app_id)
    for message in made:
        gone = messages.get(ctx, who, message.id)
        assert gone.status is Status.CANCELLED and gone.failure_reason == "app_deleted"
    with pytest.raises(NotFound):
        apps.get_app(ctx, who, app_id)


def test_redrive_gives_a_fresh_attempt_budget(ctx: Context, clock) -> None:
    who = tenant(ctx)
    message = schedule_one(ctx, who, app_of(ctx, who), delaySeconds=0, maxAttempts=1).message
    claimed = ctx.messages.claim(
        who.tenant_id, message.id, gen=message.gen, now_ms=clock.now, lease_until=clock.now, owner="r"
    )
    assert claimed is not None
    failed = delivery.record_outcome(
        ctx.messages,
        claimed,
        AttemptOutcome(clock.now, 1, 500, "http_status: 500", "", None),
        finished_at=clock.now,
        jitter=0,
    )
    assert (failed.status, failed.failure_reason) == (Status.FAILED, "exhausted")
    redriven = messages.redrive(ctx, who, message.id, None)
    assert redriven.status is Status.SCHEDULED and redriven.attempts_left == 1 and redriven.attempts == 1
    assert messages.get(ctx, who, message.id).etag == redriven.etag


def test_the_feed_can_start_after_the_newest_attempt(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)

    def deliver_one() -> str:
        message = schedule_one(ctx, who, app_id, delaySeconds=0).message
        claimed = ctx.messages.claim(
            who.tenant_id, message.id, gen=message.gen, now_ms=clock.now, lease_until=clock.now, owner="r"
        )
        assert claimed is not None
        delivery.record_outcome(ctx.messages, claimed, ok(clock.now), finished_at=clock.now, jitter=0)
        clock.advance(1)
        return message.id

    deliver_one()
    deliver_one()
    start = messages.recent_attempts(ctx, who, app_id=None, after="latest", limit=50)
    assert start.items == [] and start.next_cursor is None and start.resume_cursor is not None
    newest = deliver_one()
    page = messages.recent_attempts(ctx, who, app_id=None, after=start.resume_cursor, limit=50)
    assert [a.message_id for a in page.items] == [newest]
    other = tenant(ctx, "other")
    empty = messages.recent_attempts(ctx, other, app_id=None, after="latest", limit=50)
    assert messages.recent_attempts(ctx, other, app_id=None, after=empty.resume_cursor, limit=50).items == []
