"""The work of each AWS Lambda per message, measured by running the real handlers under moto: CPU time
(this process's, less what moto spends serving the calls) and the bytes the runtime writes to its log
stream at a given log level (Powertools' JSON lines and EMF metrics on stdout, and what reaches the
root logger, which Lambda's Python runtime leaves at WARNING).

Steps measured (each `runs` times, medians and p99 kept):
- `create`: one `messages.schedule` of one message due later, then the metric flush the API function's
  middleware does (Chalice routing and the authorizer are not in it);
- `create_batch`: one `messages.schedule` of 100 messages due later (per message);
- `schedule`: the delivery handler on an EventBridge Scheduler event (re-queue);
- `release`: the delivery handler on an SQS event of one record (wait-out, claim, send, result);
- `release_batch`: the delivery handler on an SQS event of `batch` records (per record);
- `meter`: the meter handler on stream events of `METER_RECORDS` records of what the steps above
  wrote (per record).
The receiver is a fake answering 200 after 150 ms on the manual clock: no real waiting, no real CPU.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto import mock_aws
from moto.core import botocore_stubber

from chalicelib import bootstrap, observability
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.schemas import AppCreate, TenantCreate
from chalicelib.services import accounts, apps, messages
from tests.aws import events, support
from tests.support.doubles import SettableClock

RECEIVER_MS = 150
PAYLOAD = {"event": "invoice.due", "invoice": "in_0123456789", "amount": 4200, "currency": "eur", "note": "x" * 300}
LATER_S = 7_200
METER_RECORDS = 100


class MotoCpu:
    """CPU seconds spent inside moto's request handling, per thread (moto runs in the caller's thread)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = botocore_stubber.BotocoreStubber.__call__

    @contextlib.contextmanager
    def installed(self) -> Iterator[MotoCpu]:
        original = self._original
        meter = self

        def timed(stubber: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(stubber, *args, **kwargs)
            finally:
                meter.seconds += time.thread_time() - started

        botocore_stubber.BotocoreStubber.__call__ = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore_stubber.BotocoreStubber.__call__ = original  # type: ignore[method-assign]


@dataclass
class Samples:
    """CPU ms and log bytes of each run of one step (per message)."""

    cpu_ms: list[float]
    log_bytes: list[float]
    log_events: list[float]

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.cpu_ms)
        return {
            "cpuMsMedian": round(statistics.median(ordered), 3),
            "cpuMsP99": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 3),
            "logBytes": round(statistics.median(self.log_bytes), 1),
            "logEvents": round(statistics.median(self.log_events), 2),
            "runs": len(ordered),
        }


class LambdaContext:
    """The fields of Lambda's context object that Powertools reads."""

    def __init__(self, name: str, memory_mb: int) -> None:
        self.function_name = name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{support.REGION}:{support.ACCOUNT}:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/01/01/[$LATEST]" + uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class LogCapture:
    """Where the function's log lines go: stdout (Powertools, EMF) and the root logger (WARNING)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self._handler = logging.StreamHandler(self.buffer)
        # Lambda's runtime writes root records as "[LEVEL]\t<time>\t<request id>\t<message>".
        self._handler.setFormatter(
            logging.Formatter("[%(levelname)s]\t%(asctime)s.000Z\t00000000-0000-0000-0000-000000000000\t%(message)s")
        )

    @contextlib.contextmanager
    def installed(self) -> Iterator[LogCapture]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self._handler)
        root.setLevel(logging.WARNING)
        try:
            with contextlib.redirect_stdout(self.buffer):
                yield self
        finally:
            root.removeHandler(self._handler)
            root.setLevel(level)

    def take(self) -> tuple[int, int]:
        """Bytes and log events written since the last take (one event per line)."""
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        lines = [line for line in text.splitlines() if line.strip()]
        return len(text.encode()), len(lines)


def _sender(clock: SettableClock) -> Callable[[DeliveryRequest], AttemptOutcome]:
    def send(request: DeliveryRequest) -> AttemptOutcome:
        started = clock.now_ms()
        clock.advance(RECEIVER_MS)
        return AttemptOutcome(started, RECEIVER_MS, 200, None, '{"received":true}', None)

    return send


@contextlib.contextmanager
def _lambda_env(log_level: str) -> Iterator[None]:
    names = {
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_SERVICE_NAME": "scheduler-dev",
        "POWERTOOLS_METRICS_NAMESPACE": observability.NAMESPACE,
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    for cached in (observability.logger, observability.tracer, observability.metrics):
        cached.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for cached in (observability.logger, observability.tracer, observability.metrics):
            cached.cache_clear()


def _timed(moto: MotoCpu, logs: LogCapture, per: int, step: Callable[[], Any], samples: Samples) -> Any:
    moto_before, started = moto.seconds, time.process_time()
    result = step()
    cpu = time.process_time() - started - (moto.seconds - moto_before)
    size, count = logs.take()
    samples.cpu_ms.append(cpu * 1000 / per)
    samples.log_bytes.append(size / per)
    samples.log_events.append(count / per)
    return result


def _stream_records(session: Any, runtime: Any) -> list[dict[str, Any]]:
    """What the meter's mapping would hand the meter of everything written so far (filtered)."""
    captured: list[dict[str, Any]] = []
    support.meter_poller(session, runtime.config, runtime, captured.append).poll(max_failures=1)
    return [record for event in captured for record in event["Records"]]


def measure(log_level: str, runs: int = 30, batch: int = 10) -> dict[str, dict[str, float]]:
    """Medians and p99 of CPU ms, log bytes and log events per message for each step."""
    from chalicelib import triggers

    names = ("create", "create_batch", "schedule", "release", "release_batch", "meter")
    steps = {name: Samples([], [], []) for name in names}
    with support.aws_env(), mock_aws(), _lambda_env(log_level), MotoCpu().installed() as moto:
        session = support.session()
        config = support.create_stack(session)
        clock = SettableClock()
        runtime = support.runtime(
            session,
            config,
            clock=clock,
            send=_sender(clock),
            sleep=support.clock_sleep(clock),
            metric=observability.metric,
        )
        bootstrap.install(runtime)
        try:
            ctx = runtime.context
            _, token = accounts.create_tenant(ctx, TenantCreate(name="bench", plan="unlimited"))
            who = accounts.authenticate(ctx, token)
            app = apps.create_app(
                ctx, who, AppCreate(name="a", url="https://example.com/hook", headers={"authorization": "Bearer t0k3n"})
            )
            raw = {"appId": app.id, "payload": PAYLOAD, "delaySeconds": LATER_S}

            def create(count: int) -> list[Any]:
                made = messages.schedule(ctx, who, [raw] * count)
                observability.flush()
                return [m.message for m in made if isinstance(m, messages.Inserted)]

            with LogCapture().installed() as logs:
                create(1)  # warm the quota cache and the app's data key
                logs.take()
                made = [m for _ in range(runs) for m in _timed(moto, logs, 1, lambda: create(1), steps["create"])]
                for _ in range(3):
                    made += _timed(moto, logs, 100, lambda: create(100), steps["create_batch"])
                clock.advance((LATER_S - 120) * 1000)
                deliver = triggers.deliver
                for message in made[:runs]:
                    body = {"tenantId": message.tenant_id, "messageId": message.id, "gen": message.gen}
                    event = {**body, "dueAt": message.due_at}
                    _timed(moto, logs, 1, lambda e=event: deliver(e, LambdaContext("deliver", 128)), steps["schedule"])
                clock.advance(120_000)
                bodies = [
                    json.dumps({"tenantId": m.tenant_id, "messageId": m.id, "gen": m.gen, "dueAt": m.due_at})
                    for m in made
                ]
                for body in bodies[:runs]:
                    event = events.sqs_event([body])
                    _timed(moto, logs, 1, lambda e=event: deliver(e, LambdaContext("deliver", 128)), steps["release"])
                rest = bodies[runs:]
                for start in range(0, len(rest) - batch + 1, batch):
                    event = events.sqs_event(rest[start : start + batch])
                    _timed(
                        moto,
                        logs,
                        batch,
                        lambda e=event: deliver(e, LambdaContext("deliver", 128)),
                        steps["release_batch"],
                    )
                records = _stream_records(session, runtime)
                logs.take()
                for start in range(0, len(records) - METER_RECORDS + 1, METER_RECORDS):
                    event = {"Records": records[start : start + METER_RECORDS]}
                    _timed(
                        moto,
                        logs,
                        METER_RECORDS,
                        lambda e=event: triggers.meter(e, LambdaContext("meter", 256)),
                        steps["meter"],
                    )
        finally:
            bootstrap.install(None)
    return {name: samples.summary() for name, samples in steps.items()}
