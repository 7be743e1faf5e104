"""The recurring-schedule methods of `SchedulerClient` and `AsyncSchedulerClient` against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from scheduler_client import AsyncSchedulerClient, Schedule, SchedulerAPIError, SchedulerClient
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
OPERATOR_KEY = "op_schedules_operator_key_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("sched") / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY})
    yield process.start()
    process.kill()


def admin_key(server: ServerProcess, plan: str = "unlimited") -> str:
    with SchedulerClient(server.url, OPERATOR_KEY, trust_env=False) as operator:
        key = operator.create_tenant("schedules", plan=plan).adminKey
    assert key
    return key


def test_sync_schedule_methods(server: ServerProcess) -> None:
    with SchedulerClient(server.url, admin_key(server), trust_env=False) as client:
        app = client.create_app("a", "https://example.com/a")
        start = datetime(2030, 1, 1, tzinfo=UTC)
        made = client.create_schedule(
            app.id, {"n": 1}, cron="0 9 * * MON", timezone="Europe/Berlin", start_at=start, missed_runs="all"
        )
        assert isinstance(made, Schedule) and made.nextRunAt == "2030-01-07T08:00:00.000Z"
        assert client.get_schedule(made.id).payload == {"n": 1}
        other = client.create_schedule(app.id, [1], every="15m")
        assert [s.id for s in client.iter_schedules(page_size=1)] == sorted([made.id, other.id])
        assert client.list_schedules(limit=1).nextCursor is not None
        changed = client.update_schedule(made.id, if_match=made.etag, every="1h", payload={"n": 2})
        assert (changed.every, changed.cron, changed.payload) == ("1h", None, {"n": 2})
        with pytest.raises(SchedulerAPIError) as stale:
            client.update_schedule(made.id, if_match=made.etag, every="2h")
        assert (stale.value.status, stale.value.code) == (409, "etag_mismatch")
        assert client.pause_schedule(made.id).state == "paused"
        assert client.pause_schedule(made.id).state == "paused"
        assert client.resume_schedule(made.id).state == "active"
        client.delete_schedule(made.id)
        with pytest.raises(SchedulerAPIError) as gone:
            client.get_schedule(made.id)
        assert gone.value.status == 404
        assert client.list_messages(schedule_id=other.id).items == []
        assert client.usage_report().schedules == 1


def test_async_schedule_methods(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with AsyncSchedulerClient(server.url, admin_key(server, "free"), trust_env=False) as client:
            app = await client.create_app("a", "https://example.com/a")
            with pytest.raises(SchedulerAPIError) as too_often:
                await client.create_schedule(app.id, 1, every="1m")
            assert (too_often.value.status, too_often.value.code, too_often.value.field) == (400, "plan_limit", "every")
            made = await client.create_schedule(app.id, 1, every="5m")
            assert made.id in [s.id async for s in client.iter_schedules()]
            assert (await client.get_schedule(made.id)).every == "5m"
            assert (await client.list_schedules()).items[0].id == made.id
            changed = await client.update_schedule(made.id, timezone="Asia/Tokyo")
            assert changed.timezone == "Asia/Tokyo" and changed.every == "5m"
            assert (await client.pause_schedule(made.id)).nextRunAt is None
            assert (await client.resume_schedule(made.id)).nextRunAt is not None
            await client.delete_schedule(made.id)
            assert (await client.list_schedules()).items == []
            report = await client.usage_report()
            assert report.plan is not None and (report.plan.maxSchedules, report.plan.minIntervalSeconds) == (10, 300)

    asyncio.run(scenario())
