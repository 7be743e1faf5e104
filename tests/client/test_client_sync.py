"""`SchedulerClient` against a real `scheduler serve` process: every method, and the API's errors as
typed `SchedulerAPIError`s (401, 403, 404, 409, 400 with its field)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler_client import (
    ApiKey,
    App,
    AttemptFeed,
    ErrorBody,
    Message,
    Page,
    SchedulerAPIError,
    SchedulerClient,
    Tenant,
    verify_delivery,
)
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, wait_until

pytestmark = pytest.mark.e2e
OPERATOR_KEY = "op_client_operator_key_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("client") / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY})
    yield process.start()
    process.kill()


@pytest.fixture
def operator(server: ServerProcess) -> Iterator[SchedulerClient]:
    with SchedulerClient(server.url, OPERATOR_KEY, trust_env=False) as client:
        yield client


@pytest.fixture
def client(server: ServerProcess, operator: SchedulerClient) -> Iterator[SchedulerClient]:
    """The admin of a fresh tenant (tests do not see each other's data)."""
    tenant = operator.create_tenant("client-test", plan="unlimited")
    assert tenant.adminKey
    with SchedulerClient(server.url, tenant.adminKey, trust_env=False) as admin:
        yield admin


def api_error(excinfo: pytest.ExceptionInfo[SchedulerAPIError]) -> tuple[int, str]:
    return excinfo.value.status, excinfo.value.code


def test_health_and_tenants(server: ServerProcess, operator: SchedulerClient) -> None:
    assert operator.health() == {"status": "ok"}
    tenant = operator.create_tenant("acme", plan="pro")
    assert isinstance(tenant, Tenant) and tenant.plan == "pro" and tenant.adminKey
    page = operator.list_tenants(limit=1)
    assert isinstance(page, Page) and len(page.items) == 1 and page.nextCursor
    assert tenant.id in {t.id for t in operator.iter_tenants(page_size=1)}
    wrong = SchedulerClient(server.url, "op_wrong_key_0123456789abcdef", trust_env=False)
    with wrong, pytest.raises(SchedulerAPIError) as caught:
        wrong.create_tenant("nope")
    assert api_error(caught) == (401, "unauthorized")


def test_keys_and_scopes(server: ServerProcess, client: SchedulerClient) -> None:
    key = client.create_key("reader", ["read"])
    assert isinstance(key, ApiKey) and key.key and key.scopes == ["read"]
    assert key.id in {k.id for k in client.list_keys()}
    assert all(k.key is None for k in client.list_keys())
    with SchedulerClient(server.url, key.key, trust_env=False) as reader:
        assert reader.list_apps().items == []
        with pytest.raises(SchedulerAPIError) as forbidden:
            reader.create_app("a", "https://example.com/")
        assert api_error(forbidden) == (403, "forbidden")
        client.revoke_key(key.id)
        with pytest.raises(SchedulerAPIError) as revoked:
            reader.list_apps()
        assert api_error(revoked) == (401, "unauthorized")
    with pytest.raises(SchedulerAPIError) as missing:
        client.revoke_key(key.id)
    assert api_error(missing) == (404, "not_found")


def test_apps(client: SchedulerClient) -> None:
    app = client.create_app("orders", "https://example.com/a", headers={"x-token": "s3cret"}, max_attempts=3)
    assert isinstance(app, App) and app.signingSecret and app.headers == {"x-token": "***"}
    assert app.retry.maxAttempts == 3
    other = client.create_app("billing", "https://example.com/b")
    assert client.get_app(app.id).signingSecret is None
    assert client.list_apps(limit=1).nextCursor is not None
    assert [a.id for a in client.iter_apps(page_size=1)] == sorted([app.id, other.id])
    changed = client.update_app(app.id, name="orders-2", url="https://example.com/c", headers={}, max_attempts=5)
    assert (changed.name, changed.url, changed.headers, changed.retry.maxAttempts) == (
        "orders-2",
        "https://example.com/c",
        {},
        5,
    )
    rotated = client.rotate_secret(app.id)
    assert rotated.signingSecret and rotated.signingSecret != app.signingSecret
    client.delete_app(other.id)
    with pytest.raises(SchedulerAPIError) as gone:
        client.get_app(other.id)
    assert api_error(gone) == (404, "not_found")
    with pytest.raises(SchedulerAPIError) as invalid:
        client.create_app("bad", "ftp://example.com/")
    assert api_error(invalid) == (400, "validation_error") and invalid.value.field == "url"


def test_messages_lifecycle(client: SchedulerClient) -> None:
    app = client.create_app("orders", "https://example.com/hook")
    later = datetime.now(UTC) + timedelta(hours=1)
    first = client.send_message(app.id, {"order": 1}, send_at=later, max_attempts=2)
    assert isinstance(first, Message) and first.status == "scheduled" and first.maxAttempts == 2
    second = client.send_message(app.id, {"order": 2}, delay_seconds=7200, not_after=later + timedelta(hours=2))
    assert second.notAfter is not None
    got = client.get_message(first.id)
    assert got.payload == {"order": 1}
    moved = client.update_message(first.id, send_at="2030-01-01T00:00:00Z", payload={"order": 11}, if_match=got.etag)
    assert moved.sendAt == "2030-01-01T00:00:00.000Z" and client.get_message(first.id).payload == {"order": 11}
    with pytest.raises(SchedulerAPIError) as stale:
        client.update_message(first.id, payload={"x": 1}, if_match=got.etag)
    assert api_error(stale) == (409, "etag_mismatch")
    cancelled = client.cancel_message(second.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(SchedulerAPIError) as twice:
        client.cancel_message(second.id)
    assert twice.value.status == 409
    assert client.redrive_message(second.id, send_at=later).status == "scheduled"
    assert client.list_attempts(first.id) == []
    with pytest.raises(SchedulerAPIError) as unknown:
        client.get_message("msg_unknown")
    assert api_error(unknown) == (404, "not_found") and unknown.value.message == "no message msg_unknown"


def test_idempotency_and_validation(client: SchedulerClient) -> None:
    app = client.create_app("orders", "https://example.com/hook")
    one = client.send_message(app.id, {"a": 1}, delay_seconds=600, idempotency_key="order-1")
    assert client.send_message(app.id, {"a": 1}, delay_seconds=600, idempotency_key="order-1").id == one.id
    with pytest.raises(SchedulerAPIError) as conflict:
        client.send_message(app.id, {"a": 2}, delay_seconds=600, idempotency_key="order-1")
    assert api_error(conflict) == (409, "idempotency_conflict")
    with pytest.raises(SchedulerAPIError) as invalid:
        client.send_message(app.id, {"a": 1}, send_at="2030-01-01T00:00:00")
    assert api_error(invalid) == (400, "validation_error") and invalid.value.field == "sendAt"
    assert "RFC 3339" in invalid.value.message
    with pytest.raises(ValueError, match="timezone"):
        client.send_message(app.id, 1, send_at=datetime(2030, 1, 1))


def test_batch_and_listing(client: SchedulerClient) -> None:
    app = client.create_app("orders", "https://example.com/hook")
    bodies = [{"appId": app.id, "payload": {"i": i}, "delaySeconds": 3600 + i} for i in range(5)]
    results = client.send_batch([*bodies, {"appId": "app_missing", "payload": 1, "delaySeconds": 1}])
    assert [type(r) for r in results] == [Message] * 5 + [ErrorBody]
    assert results[5] == ErrorBody(code="not_found", message="no app app_missing", field="appId")
    page = client.list_messages(app_id=app.id, limit=2)
    assert len(page.items) == 2 and page.nextCursor
    listed = list(client.iter_messages(app_id=app.id, status="scheduled", page_size=2))
    assert [m.id for m in listed] == [r.id for r in results[:5]]  # by sendAt
    window = client.list_messages(send_after=listed[1].sendAt, send_before=listed[3].sendAt)
    assert [m.id for m in window.items] == [m.id for m in listed[1:4]]  # both bounds inclusive
    assert list(client.iter_messages(status="delivered")) == []


def test_delivery_feed_usage_and_verification(client: SchedulerClient) -> None:
    with Receiver() as receiver:
        app = client.create_app("hooks", receiver.url("/ok"))
        failing = client.create_app("broken", receiver.url("/status/500"), max_attempts=1)
        start = client.attempts_end_cursor()
        sent = [
            client.send_message(app.id, {"n": 1}, delay_seconds=0),
            client.send_message(failing.id, 2, delay_seconds=0),
        ]
        followed = client.follow_attempts(after=start, poll_interval_s=0.02, idle_timeout_s=20)
        attempts = list(itertools.islice(followed, 2))
        assert {a.messageId for a in attempts} == {m.id for m in sent}
        by_status = {a.statusCode: a for a in attempts}
        assert by_status[500].error and by_status[200].error is None
        records = receiver.wait_for(2)
        record = next(r for r in records if r.path == "/ok")
        assert verify_delivery(record.headers, record.body, app.signingSecret or "") == {"n": 1}
    wait_until(lambda: client.get_message(sent[1].id).status == "failed")
    assert client.get_message(sent[1].id).failureReason == "exhausted"
    assert [a.n for a in client.list_attempts(sent[0].id)] == [1]
    feed = client.attempts_feed(after=start, limit=1)
    assert isinstance(feed, AttemptFeed) and len(feed.items) == 1 and feed.nextCursor
    assert client.attempts_feed(after=start, app_id=app.id).items[0].messageId == sent[0].id
    assert client.attempts_end_cursor() == client.attempts_feed(after=start).resumeCursor
    today = client.usage()[-1]
    assert (today.scheduled, today.delivered, today.failed, today.attempts) == (2, 1, 1, 2)
    assert client.usage(from_date=today.date, to_date=today.date) == [today]


def test_from_env_reads_the_environment(server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCHEDULER_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("SCHEDULER_PROFILE", raising=False)
    monkeypatch.setenv("SCHEDULER_URL", server.url)
    monkeypatch.setenv("SCHEDULER_API_KEY", "sk_not_a_key_0123456789abcdef")
    with SchedulerClient.from_env(trust_env=False) as client, pytest.raises(SchedulerAPIError) as caught:
        client.list_apps()
    assert api_error(caught) == (401, "unauthorized")
