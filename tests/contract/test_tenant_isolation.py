"""Issue 13 over every adapter set: revocation is permanent, the quota holds on every delivery path,
plan caps on stored things, and attempt cursors that say nothing about other tenants."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.errors import PlanLimit, QuotaExceeded, Unauthenticated
from chalicelib.domain.model import Message, Plan, Principal, Status
from chalicelib.domain.schemas import AppCreate, KeyCreate, TenantCreate
from chalicelib.ports import Lease, MessageQuery, TimerRef
from chalicelib.services import accounts, apps, messages, usage
from chalicelib.services.context import Context
from chalicelib.services.runner import DeliveryRunner


def test_a_revoked_bootstrap_key_never_comes_back(ctx: Context) -> None:
    token = "k" * 32
    assert accounts.ensure_default_tenant(ctx, token) is accounts.Bootstrap.CREATED
    assert accounts.ensure_default_tenant(ctx, token) is accounts.Bootstrap.KEPT
    admin = accounts.authenticate(ctx, token)
    assert admin.key_id is not None
    accounts.revoke_key(ctx, admin, admin.key_id)
    for configured in (token, "n" * 32):  # the next start, with the same or another configured key
        assert accounts.ensure_default_tenant(ctx, configured) is accounts.Bootstrap.REVOKED
        with pytest.raises(Unauthenticated):
            accounts.authenticate(ctx, configured)
    stored = accounts.bootstrap_key(ctx)
    assert stored is not None and stored.revoked_at is not None


def test_a_live_bootstrap_key_takes_a_changed_configured_token(ctx: Context) -> None:
    accounts.ensure_default_tenant(ctx, "k" * 32)
    assert accounts.ensure_default_tenant(ctx, "n" * 32) is accounts.Bootstrap.ROTATED
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, "k" * 32)
    principal = accounts.authenticate(ctx, "n" * 32)
    assert [k.id for k in accounts.list_keys(ctx, principal)] == [accounts.BOOTSTRAP_KEY_ID]


# ---- the daily quota holds on every path that causes a delivery --------------------------


def with_quota(ctx: Context, quota: int) -> tuple[Context, Principal]:
    plans = {**ctx.settings.plans, "free": Plan("free", None, None, daily_quota=quota)}
    tight = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, plans=plans))
    _, token = accounts.create_tenant(tight, TenantCreate(name="tight", plan="free"))
    return tight, accounts.authenticate(tight, token)


def create(ctx: Context, who: Principal, app_id: str, count: int, **fields: object) -> list[object]:
    body = {"appId": app_id, "payload": {"n": 1}, "delaySeconds": 0, **fields}
    return messages.schedule(ctx, who, [dict(body) for _ in range(count)])


def attempt(ctx: Context, message: Message, outcome: AttemptOutcome) -> Message:
    """One attempt of a due message through the delivery runner (claim, outcome, complete); the message after."""
    runner = DeliveryRunner(ctx.deliveries, ctx.clock, lease_ms=60_000, jitter=lambda: 0.0)
    lease = runner.claim(TimerRef(message.tenant_id, message.id, message.gen))
    assert isinstance(lease, Lease), lease
    completion = runner.finish(lease, outcome)
    assert not runner.complete([completion]).stale
    return completion.message


def fail_for_good(ctx: Context, who: Principal, message_id: str, now: int) -> None:
    gone = AttemptOutcome(now, 3, 410, "http_status: 410", "", None)
    assert attempt(ctx, messages.get(ctx, who, message_id), gone).status is Status.FAILED


def scheduled_today(ctx: Context, who: Principal) -> int:
    return sum(day.scheduled for day in usage.usage(ctx, who, first=None, last=None).days)


def test_create_batch_and_redrive_count_alike_and_stop_at_the_quota(ctx: Context, clock) -> None:
    tight, who = with_quota(ctx, 5)
    app_id = apps.create_app(tight, who, AppCreate(name="a", url="https://example.com/")).id
    first = create(tight, who, app_id, 3)
    assert all(isinstance(item, messages.Inserted) for item in first)
    with pytest.raises(QuotaExceeded):  # a batch that does not fit is refused whole
        create(tight, who, app_id, 3)
    assert scheduled_today(tight, who) == 3
    assert len(messages.list_messages(tight, who, MessageQuery(), cursor=None, limit=50).items) == 3
    [fourth] = create(tight, who, app_id, 1)
    assert isinstance(fourth, messages.Inserted)
    failed_id = fourth.message.id
    fail_for_good(tight, who, failed_id, clock.now)
    messages.redrive(tight, who, failed_id, None)  # the 5th delivery of the day: counted like a create
    assert scheduled_today(tight, who) == 5
    fail_for_good(tight, who, failed_id, clock.now)
    with pytest.raises(QuotaExceeded):  # at the quota: neither a redrive ...
        messages.redrive(tight, who, failed_id, None)
    assert messages.get(tight, who, failed_id).status is Status.FAILED
    with pytest.raises(QuotaExceeded):  # ... nor a single create right after the 429
        create(tight, who, app_id, 1)
    assert scheduled_today(tight, who) == 5


def test_idempotent_replays_do_not_count(ctx: Context) -> None:
    tight, who = with_quota(ctx, 2)
    app_id = apps.create_app(tight, who, AppCreate(name="a", url="https://example.com/")).id
    for _ in range(4):
        [item] = create(tight, who, app_id, 1, idempotencyKey="same")
        assert isinstance(item, messages.Inserted)
    assert scheduled_today(tight, who) == 1


def test_racing_creates_cannot_both_take_the_last_unit(ctx: Context) -> None:
    tight, who = with_quota(ctx, 10)
    app_id = apps.create_app(tight, who, AppCreate(name="a", url="https://example.com/")).id
    accepted: list[int] = []
    refused: list[int] = []

    def one() -> None:
        try:
            create(tight, who, app_id, 1)
            accepted.append(1)
        except QuotaExceeded:
            refused.append(1)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(accepted), len(refused)) == (10, 6)
    assert scheduled_today(tight, who) == 10


# ---- caps on stored things ---------------------------------------------------------------


def test_the_app_count_cap_holds_per_tenant(ctx: Context) -> None:
    plans = {**ctx.settings.plans, "free": Plan("free", None, None, None, max_apps=2)}
    capped = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, plans=plans))
    _, token = accounts.create_tenant(capped, TenantCreate(name="capped", plan="free"))
    who = accounts.authenticate(capped, token)
    neighbour = accounts.authenticate(capped, accounts.create_tenant(capped, TenantCreate(name="n", plan="free"))[1])
    first = apps.create_app(capped, who, AppCreate(name="a", url="https://example.com/"))
    apps.create_app(capped, who, AppCreate(name="b", url="https://example.com/"))
    with pytest.raises(PlanLimit):
        apps.create_app(capped, who, AppCreate(name="c", url="https://example.com/"))
    assert len(apps.list_apps(capped, who, cursor=None, limit=10).items) == 2
    apps.create_app(capped, neighbour, AppCreate(name="theirs", url="https://example.com/"))  # their own count
    apps.delete_app(capped, who, first.id)
    apps.create_app(capped, who, AppCreate(name="c", url="https://example.com/"))


def test_the_live_key_cap_holds_per_tenant_and_revoked_keys_do_not_count(ctx: Context) -> None:
    plans = {**ctx.settings.plans, "free": Plan("free", None, None, None, max_api_keys=2)}
    capped = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, plans=plans))
    _, token = accounts.create_tenant(capped, TenantCreate(name="capped", plan="free"))  # its admin key: 1 of 2
    who = accounts.authenticate(capped, token)
    neighbour = accounts.authenticate(capped, accounts.create_tenant(capped, TenantCreate(name="n", plan="free"))[1])
    second, _ = accounts.create_key(capped, who, KeyCreate(name="b", scopes=["read"]))
    with pytest.raises(PlanLimit):
        accounts.create_key(capped, who, KeyCreate(name="c", scopes=["read"]))
    assert len(accounts.list_keys(capped, who)) == 2
    accounts.create_key(capped, neighbour, KeyCreate(name="theirs", scopes=["read"]))  # their own count
    accounts.revoke_key(capped, who, second.id)
    accounts.create_key(capped, who, KeyCreate(name="c", scopes=["read"]))
    assert len(accounts.list_keys(capped, who)) == 2


# ---- attempt cursors are per tenant --------------------------------------------------------


def attempt_once(ctx: Context, who: Principal, app_id: str, now: int) -> None:
    ok = AttemptOutcome(now, 1, 200, None, "", None)
    assert attempt(ctx, schedule_now(ctx, who, app_id), ok).status is Status.DELIVERED


def schedule_now(ctx: Context, who: Principal, app_id: str) -> Message:
    [item] = messages.schedule(ctx, who, [{"appId": app_id, "payload": 1, "delaySeconds": 0}])
    assert isinstance(item, messages.Inserted)
    return item.message


def test_another_tenants_attempts_move_none_of_my_cursors(ctx: Context, clock) -> None:
    alice, bob = tenant_of(ctx, "alice"), tenant_of(ctx, "bob")
    alice_app = apps.create_app(ctx, alice, AppCreate(name="a", url="https://example.com/")).id
    bob_app = apps.create_app(ctx, bob, AppCreate(name="b", url="https://example.com/")).id
    attempt_once(ctx, alice, alice_app, clock.now)
    mine = messages.recent_attempts(ctx, alice, app_id=None, after=None, limit=10)
    latest = messages.recent_attempts(ctx, alice, app_id=None, after="latest", limit=10).resume_cursor
    assert [a.tenant_id for a in mine.items] == [alice.tenant_id] and latest == mine.resume_cursor
    for _ in range(5):
        clock.advance(1)
        attempt_once(ctx, bob, bob_app, clock.now)
    again = messages.recent_attempts(ctx, alice, app_id=None, after=None, limit=10)
    assert again.resume_cursor == mine.resume_cursor  # bob's five attempts changed nothing alice can see
    assert messages.recent_attempts(ctx, alice, app_id=None, after="latest", limit=10).resume_cursor == latest
    assert messages.recent_attempts(ctx, alice, app_id=None, after=latest, limit=10).items == []
    clock.advance(1)
    attempt_once(ctx, alice, alice_app, clock.now)
    [new] = messages.recent_attempts(ctx, alice, app_id=None, after=latest, limit=10).items
    assert new.tenant_id == alice.tenant_id
    bobs = messages.recent_attempts(ctx, bob, app_id=None, after=None, limit=10).items
    assert len(bobs) == 5 and {a.tenant_id for a in bobs} == {bob.tenant_id}


def tenant_of(ctx: Context, name: str) -> Principal:
    _, token = accounts.create_tenant(ctx, TenantCreate(name=name, plan="unlimited"))
    return accounts.authenticate(ctx, token)
