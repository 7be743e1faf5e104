"""App use cases: delete cancels pending messages, secret rotation overlap, updates, isolation."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.model import FailureReason, Principal, Scope, Status
from chalicelib.domain.schemas import AppCreate, AppPatch
from chalicelib.services import apps, messages
from chalicelib.services.apps import ROTATION_OVERLAP_MS
from chalicelib.services.context import Context
from tests.conftest import deliver
from tests.support.doubles import RecordingTimer, SettableClock

ALICE = Principal("ten_alice", "pro", frozenset({Scope.ADMIN}))
BOB = Principal("ten_bob", "pro", frozenset({Scope.ADMIN}))


def new_app(ctx: Context, principal: Principal = ALICE) -> str:
    return apps.create_app(ctx, principal, AppCreate(name="a", url="https://example.com/", headers={"X": "1"})).id


def schedule(ctx: Context, app_id: str, principal: Principal = ALICE, delay: float = 10) -> str:
    (outcome,) = messages.schedule(ctx, principal, [{"appId": app_id, "payload": 1, "delaySeconds": delay}])
    assert not isinstance(outcome, Exception)
    return outcome.message.id


def test_create_has_one_secret_and_keeps_headers(ctx: Context, clock: SettableClock) -> None:
    app = apps.create_app(ctx, ALICE, AppCreate(name="a", url="https://example.com/", headers={"X-K": "v"}))
    assert app.id.startswith("app_") and app.tenant_id == ALICE.tenant_id
    assert app.headers == {"X-K": "v"} and app.max_attempts == 8 and app.created_at == clock.now
    assert len(app.secrets) == 1 and app.secrets[0].value.startswith("whsec_") and app.secrets[0].expires_at is None


def test_delete_cancels_pending_messages_only(ctx: Context, clock: SettableClock) -> None:
    app_id, other_app = new_app(ctx), new_app(ctx)
    pending = [schedule(ctx, app_id) for _ in range(3)]
    delivered = schedule(ctx, app_id, delay=0)
    deliver(ctx, ALICE.tenant_id, delivered, 200)
    untouched = schedule(ctx, other_app)
    bob_app = new_app(ctx, BOB)
    bob_message = schedule(ctx, bob_app, principal=BOB)

    apps.delete_app(ctx, ALICE, app_id)

    for message_id in pending:
        message = messages.get(ctx, ALICE, message_id)
        assert (message.status, message.failure_reason) == (Status.CANCELLED, FailureReason.APP_DELETED)
    assert messages.get(ctx, ALICE, delivered).status is Status.DELIVERED
    assert messages.get(ctx, ALICE, untouched).status is Status.SCHEDULED
    assert messages.get(ctx, BOB, bob_message).status is Status.SCHEDULED
    assert isinstance(ctx.timer, RecordingTimer)
    assert ctx.timer.deleted_apps == [(ALICE.tenant_id, app_id)]
    with pytest.raises(NotFound):
        apps.get_app(ctx, ALICE, app_id)
    with pytest.raises(NotFound):
        apps.delete_app(ctx, ALICE, app_id)


def test_delete_cancels_more_than_one_chunk(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apps, "CANCEL_CHUNK", 2)
    app_id = new_app(ctx)
    ids = [schedule(ctx, app_id) for _ in range(5)]
    apps.delete_app(ctx, ALICE, app_id)
    assert {messages.get(ctx, ALICE, i).status for i in ids} == {Status.CANCELLED}


def test_another_tenant_cannot_touch_the_app(ctx: Context) -> None:
    app_id = new_app(ctx)
    for action in (
        lambda: apps.get_app(ctx, BOB, app_id),
        lambda: apps.update_app(ctx, BOB, app_id, AppPatch(name="x")),
        lambda: apps.rotate_secret(ctx, BOB, app_id),
        lambda: apps.delete_app(ctx, BOB, app_id),
    ):
        with pytest.raises(NotFound):
            action()
    assert apps.get_app(ctx, ALICE, app_id).name == "a"
    assert apps.list_apps(ctx, BOB, cursor=None, limit=10).items == []


def test_rotate_keeps_the_old_secret_for_24_hours_then_drops_it(ctx: Context, clock: SettableClock) -> None:
    app_id = new_app(ctx)
    old = apps.get_app(ctx, ALICE, app_id).secrets[0].value
    rotated = apps.rotate_secret(ctx, ALICE, app_id)
    new = rotated.secrets[0].value
    assert new != old and new.startswith("whsec_")
    assert rotated.signing_secrets(clock.now) == (new, old)
    clock.advance(ROTATION_OVERLAP_MS - 1)
    assert apps.get_app(ctx, ALICE, app_id).signing_secrets(clock.now) == (new, old)
    clock.advance(1)
    assert apps.get_app(ctx, ALICE, app_id).signing_secrets(clock.now) == (new,)


def test_update_changes_only_what_is_given(ctx: Context) -> None:
    app_id = new_app(ctx)
    before = apps.get_app(ctx, ALICE, app_id)
    after = apps.update_app(ctx, ALICE, app_id, AppPatch.model_validate({"retry": {"maxAttempts": 3}}))
    assert after.max_attempts == 3
    assert (after.name, after.url, after.headers, after.secrets) == (
        before.name,
        before.url,
        before.headers,
        before.secrets,
    )
    replaced = apps.update_app(ctx, ALICE, app_id, AppPatch(headers={"Y": "2"}))
    assert replaced.headers == {"Y": "2"}
    with pytest.raises(InvalidInput):
        apps.update_app(ctx, ALICE, app_id, AppPatch())


def test_list_pages_by_id(ctx: Context) -> None:
    made = sorted(new_app(ctx) for _ in range(5))
    first = apps.list_apps(ctx, ALICE, cursor=None, limit=3)
    second = apps.list_apps(ctx, ALICE, cursor=first.next_cursor, limit=3)
    assert [a.id for a in first.items + second.items] == made
    assert second.next_cursor is None
