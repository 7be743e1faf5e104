"""The conformance suite: the same service-level behaviour over every adapter set (see conftest)."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.errors import ConcurrentUpdate, IdempotencyConflict, NotFound, Unauthenticated, WrongState
from chalicelib.domain.model import Message, Principal, Scope, Status
from chalicelib.domain.policy import RetryPolicy
from chalicelib.domain.schemas import AppCreate, KeyCreate, RetrySettings, TenantCreate
from chalicelib.ports import Admission, Completion, Lease, MessageQuery, Refused, TimerRef
from chalicelib.services import accounts, apps, messages, usage
from chalicelib.services.context import Context
from chalicelib.services.runner import DeliveryRunner


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


def runner(ctx: Context) -> DeliveryRunner:
    return DeliveryRunner(ctx.deliveries, ctx.clock, lease_ms=60_000, jitter=lambda: 0.5)


def claim(ctx: Context, message: Message, gen: int | None = None) -> Lease | Refused:
    return runner(ctx).claim(TimerRef(message.tenant_id, message.id, message.gen if gen is None else gen))


def leased(ctx: Context, message: Message) -> Lease:
    lease = claim(ctx, message)
    assert isinstance(lease, Lease), lease
    return lease


def attempt(ctx: Context, lease: Lease, outcome: AttemptOutcome) -> Message:
    """Finish and complete one attempt; returns the message as written (asserts it was not stale)."""
    run = runner(ctx)
    completion = run.finish(lease, outcome)
    assert not run.complete([completion]).stale
    return completion.message


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
    clock.advance(9_999)
    assert claim(ctx, message) == Refused(message)  # not due yet: the stored message comes back
    changed = messages.change(ctx, who, message.id, {"payload": {"v": 2}}, message.etag)
    clock.advance(1)
    refused = claim(ctx, message)  # a stale timer
    assert isinstance(refused, Refused) and refused.current is not None and refused.current.gen == changed.gen
    lease = claim(ctx, changed)
    assert isinstance(lease, Lease) and lease.message.status is Status.DELIVERING
    assert lease.message.gen == changed.gen + 1 and lease.payload_json == '{"v":2}' and lease.app is not None
    assert isinstance(claim(ctx, changed), Refused)  # claimed once
    assert messages.get_payload(ctx, who, message.id) == {"v": 2}
    with pytest.raises(WrongState):
        messages.cancel(ctx, who, message.id)
    with pytest.raises(WrongState):
        messages.change(ctx, who, message.id, {"payload": 3}, "*")
    with pytest.raises(WrongState):
        messages.redrive(ctx, who, message.id, None)
    other = tenant(ctx, "other")
    assert claim(ctx, dataclasses.replace(changed, tenant_id=other.tenant_id)) == Refused(None)


def test_delivery_records_attempt_and_usage_once(ctx: Context, clock) -> None:
    who = tenant(ctx)
    message = schedule_one(ctx, who, app_of(ctx, who), delaySeconds=0).message
    lease = leased(ctx, message)
    run = runner(ctx)
    failed = run.finish(lease, AttemptOutcome(clock.now, 12, 503, "http_status: 503", "busy", 2.0))
    written = run.complete([failed])
    assert not written.stale and written.retry_due == clock.now + 2_000
    after = failed.message
    assert (after.status, after.due_at, after.attempts) == (Status.SCHEDULED, clock.now + 2_000, 1)
    assert run.complete([failed]).stale == [failed]  # the same result written twice: the second writes nothing
    clock.advance(2_000)
    again = leased(ctx, after)
    done = attempt(ctx, again, ok(clock.now))
    assert done.status is Status.DELIVERED and done.late_ms == 0
    attempts = messages.attempts(ctx, who, message.id)
    assert [(a.n, a.status_code, a.response_snippet) for a in attempts] == [(1, 503, "busy"), (2, 200, "ok")]
    [day] = [d for d in usage.usage(ctx, who, first=None, last=None).days if d.scheduled]
    assert (day.scheduled, day.delivered, day.failed, day.attempts) == (1, 1, 0, 2)


def test_an_expired_lease_is_taken_back_and_its_late_result_is_dropped(ctx: Context, clock) -> None:
    who = tenant(ctx)
    message = schedule_one(ctx, who, app_of(ctx, who), delaySeconds=0).message
    run = DeliveryRunner(ctx.deliveries, ctx.clock, lease_ms=1_000, jitter=lambda: 0.5)
    lease = run.claim(TimerRef(who.tenant_id, message.id, message.gen))
    assert isinstance(lease, Lease)
    assert run.take_back_expired() == []  # the lease still holds
    clock.advance(10 * 60_000)  # past the lease (and past the AWS wake index's grace)
    [back] = run.take_back_expired()
    assert (back.id, back.status, back.gen) == (message.id, Status.SCHEDULED, lease.message.gen + 1)
    assert messages.get(ctx, who, message.id).status is Status.SCHEDULED
    late = run.finish(lease, ok(clock.now))
    assert run.complete([late]).stale == [late]
    assert messages.attempts(ctx, who, message.id) == []
    assert sum(d.delivered + d.attempts for d in usage.usage(ctx, who, first=None, last=None).days) == 0
    again = run.claim(TimerRef(who.tenant_id, message.id, back.gen))  # the taken-back message is claimable
    assert isinstance(again, Lease)
    assert attempt(ctx, again, ok(clock.now)).status is Status.DELIVERED


@pytest.mark.parametrize("change", ["patch", "cancel", "redrive"])
def test_a_result_for_a_message_changed_after_take_back_is_dropped(ctx: Context, clock, change: str) -> None:
    who = tenant(ctx)
    message = schedule_one(ctx, who, app_of(ctx, who), delaySeconds=0).message
    run = DeliveryRunner(ctx.deliveries, ctx.clock, lease_ms=1_000, jitter=lambda: 0.5)
    lease = run.claim(TimerRef(who.tenant_id, message.id, message.gen))
    assert isinstance(lease, Lease)
    clock.advance(10 * 60_000)
    [back] = run.take_back_expired()
    if change == "patch":
        moved = messages.change(ctx, who, message.id, {"payload": {"v": 2}}, back.etag)
    elif change == "cancel":
        moved = messages.cancel(ctx, who, message.id)
    else:
        messages.cancel(ctx, who, message.id)
        moved = messages.redrive(ctx, who, message.id, None)
    late = run.finish(lease, ok(clock.now))
    assert run.complete([late]).stale == [late]
    stored = messages.get(ctx, who, message.id)
    assert (stored.status, stored.etag) == (moved.status, moved.etag)
    assert messages.attempts(ctx, who, message.id) == []


def test_an_attempt_stopped_by_the_apps_deletion_ends_cancelled(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    message = schedule_one(ctx, who, app_id, delaySeconds=0).message
    lease = leased(ctx, message)
    apps.delete_app(ctx, who, app_id)  # cancels what is scheduled; the lease is the runner's to end
    run = runner(ctx)
    assert not run.complete([run.abandon(lease)]).stale
    stored = messages.get(ctx, who, message.id)
    assert (stored.status, stored.failure_reason) == (Status.CANCELLED, "app_deleted")
    assert messages.attempts(ctx, who, message.id) == []


def test_a_claim_of_a_deleted_apps_message_ends_without_an_attempt(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    message = schedule_one(ctx, who, app_id, delaySeconds=0).message
    lease = leased(ctx, message)
    ctx.apps.delete_app(who.tenant_id, app_id)
    skip = runner(ctx).prepare(dataclasses.replace(lease, app=None))
    assert isinstance(skip, Completion) and skip.attempt is None
    assert not runner(ctx).complete([skip]).stale
    assert messages.get(ctx, who, message.id).failure_reason == "app_deleted"


def test_recent_attempts_follow_from_a_cursor(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)
    for _ in range(3):
        message = schedule_one(ctx, who, app_id, delaySeconds=0).message
        attempt(ctx, leased(ctx, message), ok(clock.now))
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
    failed = attempt(ctx, leased(ctx, message), AttemptOutcome(clock.now, 1, 500, "http_status: 500", "", None))
    assert (failed.status, failed.failure_reason) == (Status.FAILED, "exhausted")
    redriven = messages.redrive(ctx, who, message.id, None)
    assert redriven.status is Status.SCHEDULED and redriven.attempts_left == 1 and redriven.attempts == 1
    assert messages.get(ctx, who, message.id).etag == redriven.etag


def test_the_feed_can_start_after_the_newest_attempt(ctx: Context, clock) -> None:
    who = tenant(ctx)
    app_id = app_of(ctx, who)

    def deliver_one() -> str:
        message = schedule_one(ctx, who, app_id, delaySeconds=0).message
        attempt(ctx, leased(ctx, message), ok(clock.now))
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


def test_claim_due_takes_due_messages_earliest_first_within_the_admission(ctx: Context, clock, backend: str) -> None:
    who = tenant(ctx)
    app_a, app_b = app_of(ctx, who), app_of(ctx, who)
    made = [schedule_one(ctx, who, (app_a, app_b)[i % 2], delaySeconds=s).message for i, s in enumerate((3, 1, 2, 9))]
    clock.advance(5_000)
    lease_until = clock.now + 1_000
    if backend == "aws":  # EventBridge Scheduler is this backend's timer: work is claimed by reference only
        assert ctx.deliveries.claim_due(clock.now, Admission(10), lease_until=lease_until) == []
        assert ctx.deliveries.next_due(Admission(10)) is None
        return
    assert ctx.deliveries.next_due(Admission(10)) == made[1].due_at
    assert ctx.deliveries.next_due(Admission(10, excluded_apps=[app_b])) == made[2].due_at
    [first] = ctx.deliveries.claim_due(clock.now, Admission(1), lease_until=lease_until)
    assert first.message.id == made[1].id and first.payload_json == '{"n":1}' and first.app is not None
    rest = ctx.deliveries.claim_due(clock.now, Admission(10, excluded_tenants=[who.tenant_id]), lease_until=lease_until)
    assert rest == []
    rest = ctx.deliveries.claim_due(clock.now, Admission(10, excluded_apps=[app_b]), lease_until=lease_until)
    assert [lease.message.id for lease in rest] == [made[2].id, made[0].id]  # app_a's, earliest first
    assert ctx.deliveries.claim_due(clock.now, Admission(10), lease_until=lease_until) == []  # made[3] is not due
    assert ctx.deliveries.next_due(Admission(10)) == made[3].due_at


def test_the_apps_retry_policy_is_stored_and_drives_the_retries(ctx: Context, clock) -> None:
    who = tenant(ctx)
    retry = RetrySettings(maxAttempts=3, scheduleSeconds=[1, 7], jitter=0, maxRetryAfterSeconds=30)
    app = apps.create_app(ctx, who, AppCreate(name="hooks", url="https://example.com/hook", retry=retry))
    stored = ctx.apps.get_app(who.tenant_id, app.id)
    assert stored is not None and stored.retry == RetryPolicy((1_000, 7_000), 0.0, 3, 30_000)
    message = schedule_one(ctx, who, app.id, delaySeconds=0).message
    assert message.max_attempts == 3
    first = attempt(ctx, leased(ctx, message), AttemptOutcome(clock.now, 5, 500, "http_status: 500", "", None))
    assert first.due_at == clock.now + 1_000
    clock.advance(1_000)
    second = attempt(ctx, leased(ctx, first), AttemptOutcome(clock.now, 5, 429, "http_status: 429", "", 3_600))
    assert second.due_at == clock.now + 30_000  # Retry-After, capped by the app's policy
    clock.advance(30_000)
    third = attempt(ctx, leased(ctx, second), AttemptOutcome(clock.now, 5, 500, "http_status: 500", "", None))
    assert (third.status, third.failure_reason) == (Status.FAILED, "exhausted")
