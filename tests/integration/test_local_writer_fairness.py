"""Writer fairness on SQLite: a big batch is stored in short transactions in its tenant's lane, and its
quota is reserved up front and corrected for what was not stored (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.domain.errors import QuotaExceeded
from chalicelib.domain.model import Plan
from chalicelib.domain.schemas import AppCreate, TenantCreate
from chalicelib.services import accounts, apps, messages, usage
from chalicelib.services.context import Context
from chalicelib.settings import Settings
from scheduler_local import messages as local_messages
from scheduler_local.db import Database
from scheduler_local.wiring import build_local_runtime

PAYLOAD = "x" * 100_000  # ten of them are about 1 MB: four or more transactions


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    plans = {"free": Plan("free", None, None, daily_quota=12)}
    runtime = build_local_runtime(Settings(data_dir=tmp_path / "data", plans=plans))
    try:
        yield runtime.context
    finally:
        runtime.close()


def test_a_big_batch_goes_in_short_transactions_of_its_tenants_lane(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = accounts.create_tenant(ctx, TenantCreate(name="big", plan="free"))
    who = accounts.authenticate(ctx, token)
    app_id = apps.create_app(ctx, who, AppCreate(name="a", url="https://example.com/")).id
    lanes: list[str] = []
    original = Database.write

    def spy(self: Database, lane: str = "-system"):  # type: ignore[no-untyped-def]
        lanes.append(lane)
        return original(self, lane)

    monkeypatch.setattr(Database, "write", spy)
    body = {"appId": app_id, "payload": PAYLOAD, "delaySeconds": 60}
    outcomes = messages.schedule(ctx, who, [dict(body) for _ in range(10)])
    assert all(isinstance(o, messages.Inserted) for o in outcomes)
    per_transaction = local_messages.TRANSACTION_BYTES // len(PAYLOAD) or 1
    assert lanes == [who.tenant_id] * -(-10 // per_transaction) and len(lanes) >= 4


def test_the_reservation_of_a_chunked_batch_is_exact_after_replays(ctx: Context) -> None:
    _, token = accounts.create_tenant(ctx, TenantCreate(name="big", plan="free"))
    who = accounts.authenticate(ctx, token)
    app_id = apps.create_app(ctx, who, AppCreate(name="a", url="https://example.com/")).id
    body = {"appId": app_id, "payload": PAYLOAD, "delaySeconds": 60}
    keyed = [dict(body, idempotencyKey=f"k{n % 5}") for n in range(10)]  # the last five replay the first five
    outcomes = messages.schedule(ctx, who, keyed)
    assert [o.created for o in outcomes if isinstance(o, messages.Inserted)] == [True] * 5 + [False] * 5
    assert sum(day.scheduled for day in usage.usage(ctx, who, first=None, last=None).days) == 5
    with pytest.raises(QuotaExceeded):  # 5 + 8 > 12: refused whole, nothing stored
        messages.schedule(ctx, who, [dict(body) for _ in range(8)])
    assert sum(day.scheduled for day in usage.usage(ctx, who, first=None, last=None).days) == 5
    assert len(messages.list_messages(ctx, who, messages.MessageQuery(), cursor=None, limit=50).items) == 5
    messages.schedule(ctx, who, [dict(body) for _ in range(7)])
    assert sum(day.scheduled for day in usage.usage(ctx, who, first=None, last=None).days) == 12
