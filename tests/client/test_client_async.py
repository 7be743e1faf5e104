"""`AsyncSchedulerClient` against a real `scheduler serve` process: every method, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from scheduler_client import (
    AsyncSchedulerClient,
    ErrorBody,
    Message,
    SchedulerAPIError,
    SchedulerConnectionError,
    verify_delivery,
)
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
OPERATOR_KEY = "op_async_operator_key_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("aclient") / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY})
    yield process.start()
    process.kill()


async def admin_of_new_tenant(url: str) -> str:
    async with AsyncSchedulerClient(url, OPERATOR_KEY, trust_env=False) as operator:
        assert await operator.health() == {"status": "ok"}
        tenant = await operator.create_tenant("async", plan="unlimited")
        assert (await operator.list_tenants(limit=500)).items[-1].id == tenant.id
        assert tenant.id in [t.id async for t in operator.iter_tenants(page_size=1)]
        assert tenant.adminKey
        return tenant.adminKey


async def first(iterator: Any, count: int) -> list[Any]:
    found = []
    async for item in iterator:
        found.append(item)
        if len(found) == count:
            break
    return found


def test_admin_methods(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with AsyncSchedulerClient(server.url, await admin_of_new_tenant(server.url), trust_env=False) as client:
            key = await client.create_key("ci", ["send", "read"])
            assert key.key and key.id in [k.id for k in await client.list_keys()]
            await client.revoke_key(key.id)
            app = await client.create_app("a", "https://example.com/a", headers={"x-a": "1"}, max_attempts=2)
            assert (await client.get_app(app.id)).headers == {"x-a": "***"}
            assert (await client.list_apps()).items[0].id == app.id
            assert [a.id async for a in client.iter_apps(page_size=1)] == [app.id]
            assert (await client.update_app(app.id, name="b")).name == "b"
            assert (await client.rotate_secret(app.id)).signingSecret != app.signingSecret
            await client.delete_app(app.id)
            with pytest.raises(SchedulerAPIError) as caught:
                await client.get_app(app.id)
            assert (caught.value.status, caught.value.code) == (404, "not_found")

    asyncio.run(scenario())


def test_message_methods_and_the_feed(server: ServerProcess) -> None:
    async def scenario(receiver: Receiver) -> None:
        async with AsyncSchedulerClient(server.url, await admin_of_new_tenant(server.url), trust_env=False) as client:
            app = await client.create_app("hooks", receiver.url("/ok"))
            later = await client.send_message(app.id, {"later": True}, delay_seconds=3600, idempotency_key="k1")
            assert (
                await client.send_message(app.id, {"later": True}, delay_seconds=3600, idempotency_key="k1")
            ).id == later.id
            got = await client.get_message(later.id)
            assert got.payload == {"later": True}
            moved = await client.update_message(later.id, send_at="2031-01-01T00:00:00+01:00", if_match=got.etag)
            assert moved.sendAt == "2030-12-31T23:00:00.000Z"
            assert (await client.cancel_message(later.id)).status == "cancelled"
            assert (await client.redrive_message(later.id, send_at="2031-01-01T00:00:00Z")).status == "scheduled"
            batch = await client.send_batch([{"appId": app.id, "payload": 1, "delaySeconds": 7200}, {"appId": app.id}])
            assert isinstance(batch[0], Message) and isinstance(batch[1], ErrorBody)
            assert (await client.list_messages(limit=1)).nextCursor
            assert [m.id async for m in client.iter_messages(app_id=app.id, page_size=1)] == [batch[0].id, later.id]
            start = await client.attempts_end_cursor()
            now = await client.send_message(app.id, {"now": 1}, delay_seconds=0)
            [attempt] = await first(client.follow_attempts(after=start, poll_interval_s=0.02, idle_timeout_s=20), 1)
            assert (attempt.messageId, attempt.statusCode) == (now.id, 200)
            assert (await client.attempts_feed(after=start)).items == [attempt]
            assert await client.list_attempts(now.id) == [attempt]
            assert (await client.usage())[-1].attempts == 1
            [record] = receiver.wait_for(1)
            assert verify_delivery(record.headers, record.body, [app.signingSecret or ""]) == {"now": 1}

    with Receiver() as receiver:
        asyncio.run(scenario(receiver))


def test_connection_refused_is_a_connection_error() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario() -> None:
        async with AsyncSchedulerClient("http://127.0.0.1:9", "k", sleep=sleep) as client:
            await client.list_apps()

    with pytest.raises(SchedulerConnectionError, match="connection refused"):
        asyncio.run(scenario())
    assert len(slept) == 3
