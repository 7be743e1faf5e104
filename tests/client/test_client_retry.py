"""Retries of the client against a scripted stub server (http.server in a thread): 429 and 5xx with
`Retry-After`, backoff, bounded attempts, and the idempotency key that makes a retried POST safe."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scheduler_client import (
    AsyncSchedulerClient,
    ErrorBody,
    Message,
    RetryPolicy,
    SchedulerAPIError,
    SchedulerClient,
    SchedulerConnectionError,
)
from scheduler_client.retry import parse_retry_after

MESSAGE = {
    "id": "msg_1",
    "appId": "app_1",
    "status": "scheduled",
    "sendAt": "2030-01-01T00:00:00.000Z",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "attempts": 0,
    "maxAttempts": 8,
    "nextAttemptAt": "2030-01-01T00:00:00.000Z",
    "deliveredAt": None,
    "lateMs": None,
    "failureReason": None,
    "notAfter": None,
    "etag": '"1"',
}
APP = {
    "id": "app_1",
    "name": "a",
    "url": "https://example.com/",
    "headers": {},
    "retry": {"maxAttempts": 8},
    "createdAt": "2026-01-01T00:00:00.000Z",
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Stub:
    """Answers requests from a script of (status, headers, body); records what it got."""

    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def answer(self, status: int, body: Any = None, **headers: str) -> Stub:
        self.script.append((status, {k.replace("_", "-"): v for k, v in headers.items()}, body))
        return self


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            body = json.loads(raw) if raw else None
            state.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers, reply = state.script.pop(0) if state.script else (500, {}, {"error": "no script"})
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(stub: Stub, sleeps: Sleeps, **policy: Any) -> SchedulerClient:
    retry = RetryPolicy(random=lambda: 0.5, **policy)
    return SchedulerClient(stub.url, "sk_test", retry=retry, sleep=sleeps, trust_env=False)


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def test_429_then_201_retries_with_the_same_idempotency_key_after_retry_after(stub: Stub) -> None:
    stub.answer(429, error("rate_limited", "slow down"), Retry_After="7").answer(201, MESSAGE)
    sleeps = Sleeps()
    with client_for(stub, sleeps) as client:
        message = client.send_message("app_1", {"a": 1}, delay_seconds=90)
    assert isinstance(message, Message) and message.id == "msg_1"
    assert sleeps == [7.0]
    first, second = stub.seen
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert len(first.headers["idempotency-key"]) == 36  # a uuid4 made by the client
    assert first.body == second.body == {"appId": "app_1", "payload": {"a": 1}, "delaySeconds": 90}
    assert first.headers["authorization"] == "Bearer sk_test"


def test_a_given_idempotency_key_is_sent_and_each_call_gets_its_own_otherwise(stub: Stub) -> None:
    stub.answer(201, MESSAGE).answer(201, MESSAGE).answer(201, MESSAGE)
    with client_for(stub, Sleeps()) as client:
        client.send_message("app_1", 1, send_at="2030-01-01T00:00:00Z", idempotency_key="order-42")
        client.send_message("app_1", 1, send_at="2030-01-01T00:00:00Z")
        client.send_message("app_1", 1, send_at="2030-01-01T00:00:00Z")
    keys = [seen.headers["idempotency-key"] for seen in stub.seen]
    assert keys[0] == "order-42" and keys[1] != keys[2]


def test_a_retried_batch_carries_the_same_key_per_item(stub: Stub) -> None:
    item_error = error("not_found", "no app app_x")
    stub.answer(503, error("storage_unavailable", "busy"), Retry_After="2").answer(
        200, {"items": [MESSAGE, item_error]}
    )
    sleeps = Sleeps()
    items = [{"appId": "app_1", "payload": 1, "delaySeconds": 1}, {"appId": "app_x", "payload": 2, "delaySeconds": 1}]
    with client_for(stub, sleeps) as client:
        results = client.send_batch(items)
    assert isinstance(results[0], Message) and results[1] == ErrorBody(code="not_found", message="no app app_x")
    assert sleeps == [2.0]
    first, second = (seen.body["messages"] for seen in stub.seen)
    assert first == second and all(len(item["idempotencyKey"]) == 36 for item in first)
    assert "idempotencyKey" not in items[0]  # the caller's dicts are left alone


def test_a_5xx_without_retry_after_backs_off_exponentially_for_reads(stub: Stub) -> None:
    stub.answer(500, error("internal_error", "x")).answer(502, b"<html>bad gateway</html>").answer(200, APP)
    sleeps = Sleeps()
    with client_for(stub, sleeps, base_delay_s=1.0) as client:
        assert client.get_app("app_1").id == "app_1"
    assert sleeps == [0.5, 1.0]  # full jitter with random() = 0.5: 1 s, then 2 s ceilings


def test_a_5xx_is_not_retried_for_a_request_that_is_unsafe_to_repeat(stub: Stub) -> None:
    stub.answer(500, error("internal_error", "An internal error occurred."))
    sleeps = Sleeps()
    with client_for(stub, sleeps) as client, pytest.raises(SchedulerAPIError) as caught:
        client.create_app("a", "https://example.com/")
    assert (caught.value.status, caught.value.code) == (500, "internal_error")
    assert sleeps == [] and len(stub.seen) == 1


def test_a_429_is_retried_for_any_request(stub: Stub) -> None:
    stub.answer(429, error("rate_limited", "x"), Retry_After="1").answer(201, {**APP, "signingSecret": "whsec_x"})
    sleeps = Sleeps()
    with client_for(stub, sleeps) as client:
        assert client.create_app("a", "https://example.com/").signingSecret == "whsec_x"
    assert sleeps == [1.0]


def test_attempts_are_bounded_and_the_last_error_is_raised(stub: Stub) -> None:
    for _ in range(5):
        stub.answer(429, error("rate_limited", "too many requests"), Retry_After="1")
    sleeps = Sleeps()
    with client_for(stub, sleeps, max_attempts=3) as client, pytest.raises(SchedulerAPIError) as caught:
        client.list_keys()
    assert caught.value.status == 429 and caught.value.retry_after_s == 1.0
    assert sleeps == [1.0, 1.0] and len(stub.seen) == 3


def test_a_retry_after_beyond_the_bound_is_not_waited_for(stub: Stub) -> None:
    stub.answer(429, error("quota_exceeded", "daily quota reached"), Retry_After="3600")
    sleeps = Sleeps()
    with client_for(stub, sleeps) as client, pytest.raises(SchedulerAPIError) as caught:
        client.send_message("app_1", 1, delay_seconds=1)
    assert (caught.value.code, caught.value.retry_after_s) == ("quota_exceeded", 3600.0)
    assert sleeps == []


def test_an_error_that_is_not_in_the_api_shape_still_raises_a_typed_error(stub: Stub) -> None:
    stub.answer(404, b"<html>nope</html>", content_type="text/html")
    with client_for(stub, Sleeps()) as client, pytest.raises(SchedulerAPIError) as caught:
        client.cancel_message("msg_1")
    assert (caught.value.status, caught.value.code, caught.value.message) == (404, "http_404", "<html>nope</html>")


def test_a_success_that_is_not_json_is_an_invalid_response(stub: Stub) -> None:
    stub.answer(200, b"not json")
    with client_for(stub, Sleeps()) as client, pytest.raises(SchedulerAPIError) as caught:
        client.get_message("msg_1")
    assert caught.value.code == "invalid_response"


def test_a_refused_connection_is_retried_even_for_a_post_then_raised() -> None:
    sleeps = Sleeps()
    retry = RetryPolicy(max_attempts=3, random=lambda: 1.0)
    client = SchedulerClient("http://127.0.0.1:9", "k", retry=retry, sleep=sleeps)
    with client, pytest.raises(SchedulerConnectionError) as caught:
        client.create_key("k", ["read"])
    assert sleeps == [0.5, 1.0]
    assert "connection refused" in str(caught.value)


def test_the_async_client_retries_the_same_way(stub: Stub) -> None:
    stub.answer(429, error("rate_limited", "slow down"), Retry_After="3").answer(201, MESSAGE)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def scenario() -> Message:
        async with AsyncSchedulerClient(stub.url, "sk_test", sleep=sleep, trust_env=False) as client:
            return await client.send_message("app_1", {"a": 1}, delay_seconds=5)

    assert asyncio.run(scenario()).id == "msg_1"
    assert sleeps == [3.0]
    assert stub.seen[0].headers["idempotency-key"] == stub.seen[1].headers["idempotency-key"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0", 0.0), (None, None), ("", None), ("soon", None), ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now_s=1767225600.0) == expected  # 2026-01-01T00:00:00Z
