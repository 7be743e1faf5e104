"""The local engine against a real loopback receiver: on time, signed, retried, fair, recoverable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.domain.model import Principal, Scope, Status
from chalicelib.domain.schemas import AppCreate
from chalicelib.domain.times import parse_instant
from chalicelib.ports import Lease, TimerRef
from chalicelib.services import accounts, apps, messages
from chalicelib.settings import Settings
from scheduler_local.wiring import DataDirBusy, LocalRuntime, build_local_runtime
from tests.support.receiver import Receiver

ADMIN = Principal("default", "unlimited", frozenset({Scope.ADMIN}))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def open_runtime(data_dir: Path, **settings: object) -> LocalRuntime:
    runtime = build_local_runtime(Settings(data_dir=data_dir, **settings))  # type: ignore[arg-type]
    accounts.ensure_default_tenant(runtime.context, "k" * 32)
    return runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    running = open_runtime(tmp_path, per_app_concurrency=2, delivery_timeout_s=5.0)
    running.start()
    yield running
    running.close()


def make_app(runtime: LocalRuntime, url: str) -> apps.App:
    return apps.create_app(runtime.context, ADMIN, AppCreate(name="t", url=url))


def send(runtime: LocalRuntime, app_id: str, *, delay_s: float = 0.0, **fields: object) -> str:
    [result] = messages.schedule(
        runtime.context, ADMIN, [{"appId": app_id, "payload": {"hello": "world"}, "delaySeconds": delay_s, **fields}]
    )
    assert isinstance(result, messages.Inserted), result
    return result.message.id


def wait_status(runtime: LocalRuntime, message_id: str, status: Status, timeout_s: float = 15) -> messages.Message:
    deadline = time.monotonic() + timeout_s
    while True:
        message = messages.get(runtime.context, ADMIN, message_id)
        if message.status is status:
            return message
        if time.monotonic() > deadline:
            raise AssertionError(f"{message_id} is {message.status}, not {status}")
        time.sleep(0.01)


def test_delivers_signed_on_time_never_early(runtime: LocalRuntime, receiver: Receiver) -> None:
    app = make_app(runtime, receiver.url("/ok"))
    ids = [send(runtime, app.id, delay_s=0.2 + i / 100) for i in range(20)]
    records = receiver.wait_for(20)
    secret = app.secrets[0].value
    for record in records:
        Webhook(secret).verify(record.body, record.headers)
        scheduled = parse_instant(record.headers["scheduler-scheduled-at"], field="x")
        assert record.at_ms >= scheduled, "delivered before sendAt"
        assert record.headers["scheduler-attempt"] == "1"
        assert record.headers["user-agent"].startswith("point-in-time-scheduler/")
    done = wait_status(runtime, ids[-1], Status.DELIVERED)
    assert done.late_ms is not None and 0 <= done.late_ms < 1000


def test_retries_until_delivered_and_records_every_attempt(runtime: LocalRuntime, receiver: Receiver) -> None:
    app = make_app(runtime, receiver.url("/flaky/2"))
    message_id = send(runtime, app.id)
    wait_status(runtime, message_id, Status.DELIVERED)
    attempts = messages.attempts(runtime.context, ADMIN, message_id)
    assert [(a.n, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert [r.headers["scheduler-attempt"] for r in receiver.records] == ["1", "2", "3"]


def test_gone_stops_at_once(runtime: LocalRuntime, receiver: Receiver) -> None:
    app = make_app(runtime, receiver.url("/status/410"))
    message = wait_status(runtime, send(runtime, app.id), Status.FAILED)
    assert (message.failure_reason, message.attempts) == ("gone", 1)


def test_cancelled_message_is_never_delivered(runtime: LocalRuntime, receiver: Receiver) -> None:
    app = make_app(runtime, receiver.url("/ok"))
    doomed = send(runtime, app.id, delay_s=0.3)
    sentinel = send(runtime, app.id, delay_s=0.5)  # due later: once it arrives, the cancelled one had its chance
    messages.cancel(runtime.context, ADMIN, doomed)
    receiver.wait_for(1)
    wait_status(runtime, sentinel, Status.DELIVERED)
    assert [r.headers["webhook-id"] for r in receiver.records] == [sentinel]


def test_a_sooner_message_wakes_the_sleeping_dispatcher(runtime: LocalRuntime, receiver: Receiver) -> None:
    app = make_app(runtime, receiver.url("/ok"))
    send(runtime, app.id, delay_s=30)
    time.sleep(0.05)  # let the dispatcher go to sleep until the far message
    soon = send(runtime, app.id, delay_s=0.1)
    assert wait_status(runtime, soon, Status.DELIVERED, timeout_s=5).late_ms < 500  # type: ignore[operator]


def test_a_hung_app_does_not_hold_up_others(runtime: LocalRuntime, receiver: Receiver) -> None:
    hung, healthy = make_app(runtime, receiver.url("/hang")), make_app(runtime, receiver.url("/ok"))
    for _ in range(10):
        send(runtime, hung.id)
    wanted = [send(runtime, healthy.id, delay_s=0.1) for _ in range(10)]
    for message_id in wanted:
        assert wait_status(runtime, message_id, Status.DELIVERED, timeout_s=5).late_ms < 1000  # type: ignore[operator]
    hung_paths = [r for r in receiver.records if r.path == "/hang"]
    assert len(hung_paths) == 2, "per-app cap of 2 in flight"


def test_deleting_an_app_aborts_its_attempts_in_flight(runtime: LocalRuntime, receiver: Receiver) -> None:
    app = make_app(runtime, receiver.url("/hang"))
    message_id = send(runtime, app.id)
    receiver.wait_for(1)
    apps.delete_app(runtime.context, ADMIN, app.id)
    message = wait_status(runtime, message_id, Status.CANCELLED, timeout_s=5)
    assert message.failure_reason == "app_deleted"


def test_a_restart_takes_back_the_previous_runs_leases(tmp_path: Path, receiver: Receiver) -> None:
    first = open_runtime(tmp_path)
    app = make_app(first, receiver.url("/ok"))
    message_id = send(first, app.id)
    message = messages.get(first.context, ADMIN, message_id)
    now = first.context.clock.now_ms()
    claimed = first.context.deliveries.claim(
        TimerRef("default", message_id, message.gen), now_ms=now, lease_until=now + 60_000
    )
    assert isinstance(claimed, Lease)
    first.close()  # never started: as if the process died holding the lease
    second = open_runtime(tmp_path)
    try:
        assert second.start() == 1
        wait_status(second, message_id, Status.DELIVERED)
    finally:
        second.close()
    assert len(receiver.records) == 1


def test_a_second_process_cannot_open_the_same_data_dir(tmp_path: Path) -> None:
    first = open_runtime(tmp_path)
    try:
        with pytest.raises(DataDirBusy, match="another scheduler process"):
            open_runtime(tmp_path)
    finally:
        first.close()
