"""AWS faults on every call of create, deliver and cleanup: conflicts, throttling, and timeouts before
or after the write landed. Whatever fails, a client that retries its 503s (with idempotency keys, as
the contract tells it to) gets every message delivered, each webhook sent once, and counters exact.

The driver is the AWS machinery moto lacks: the release queue's event source mapping (receive up to
10, invoke the deliver Lambda, delete what it did not report as failed, let the rest come back after
the visibility timeout) and the cleanup rule (every minute, on the test clock). It reads the queue
through a session without faults: only the code's own calls fail.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import triggers
from chalicelib.adapters.aws.cleanup import Report
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.errors import StorageUnavailable
from chalicelib.domain.model import Status
from chalicelib.ports import Lease, TimerRef
from chalicelib.services import messages
from tests.aws import events, support
from tests.aws import faults as fault
from tests.aws.conftest import FakeSender, Tenant
from tests.aws.faults import Faults, Make
from tests.support.doubles import SettableClock

COUNT = 6

# A delivery's first UpdateItem takes its tenant's slot, the second is the claim (skip: good calls first).
SLOT, CLAIM = 0, 1

CASES: list[tuple[str, str, str, Make, int, bool, int]] = [
    # phase, service, operation, failure, times, landed, skip
    ("create", "dynamodb", "GetItem", fault.throttled(), 2, False, 0),
    ("create", "dynamodb", "TransactWriteItems", fault.conflict(), 3, False, 0),
    ("create", "dynamodb", "TransactWriteItems", fault.throttled(), 2, False, 0),
    ("create", "dynamodb", "TransactWriteItems", fault.timeout(), 1, False, 0),
    ("create", "dynamodb", "TransactWriteItems", fault.timeout(), 1, True, 0),
    ("create", "sqs", "SendMessage", fault.throttled("AWS.SimpleQueueService.RequestThrottled"), 2, False, 0),
    ("create", "sqs", "SendMessage", fault.timeout(), 1, True, 0),
    ("deliver", "dynamodb", "UpdateItem", fault.throttled(), 2, False, CLAIM),
    ("deliver", "dynamodb", "UpdateItem", fault.timeout(), 1, True, CLAIM),
    ("deliver", "dynamodb", "UpdateItem", fault.throttled(), 2, False, SLOT),
    ("deliver", "dynamodb", "UpdateItem", fault.timeout(), 1, True, SLOT),
    ("deliver", "dynamodb", "BatchGetItem", fault.throttled("ThrottlingException"), 2, False, 0),
    ("deliver", "dynamodb", "BatchGetItem", fault.timeout(), 1, False, 0),
    ("deliver", "kms", "Decrypt", fault.throttled("ThrottlingException"), 1, False, 0),
    ("deliver", "dynamodb", "TransactWriteItems", fault.conflict(), 6, False, 0),
    ("deliver", "dynamodb", "TransactWriteItems", fault.throttled(), 3, False, 0),
    ("deliver", "dynamodb", "TransactWriteItems", fault.timeout(), 2, False, 0),
    ("deliver", "dynamodb", "TransactWriteItems", fault.timeout(), 1, True, 0),
    # cleanup: a claim that landed unseen leaves a lease for cleanup to take back, under its own faults
    ("cleanup", "dynamodb", "Query", fault.throttled(), 2, False, 0),
    ("cleanup", "dynamodb", "PutItem", fault.throttled(), 1, False, 0),
    ("cleanup", "dynamodb", "PutItem", fault.timeout(), 1, True, 0),
    ("cleanup", "sqs", "SendMessage", fault.throttled("AWS.SimpleQueueService.RequestThrottled"), 1, False, 0),
]


def create_all(runtime: AwsRuntime, tenant: Tenant) -> list[str]:
    """Single creates with idempotency keys; a 503 is retried as a client would."""
    ids = []
    for n in range(COUNT):
        raw = {"appId": tenant.app_id, "payload": {"n": n}, "delaySeconds": 0, "idempotencyKey": f"key-{n}"}
        for _ in range(10):
            [result] = messages.schedule(runtime.context, tenant.principal, [raw])
            if not isinstance(result, StorageUnavailable):
                break
        assert isinstance(result, messages.Inserted), result
        ids.append(result.message.id)
    return ids


def drain(
    runtime: AwsRuntime,
    lambdas: Client,
    clock: SettableClock,
    rounds: int = 40,
    before_cleanup: Callable[[], None] = lambda: None,
) -> None:
    """Run the event source mapping and the cleanup rule until nothing is left to do
    (`before_cleanup` runs once, before the first cleanup run)."""
    sqs = support.session().client("sqs")  # the driver's own calls never fail
    url = runtime.config.release_queue_url
    idle = 0
    for _ in range(rounds):
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if received:
            idle = 0
            answer = lambdas.lambda_.invoke("deliver", events.sqs_event_from(received)).payload
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            for message in received:
                if message["MessageId"] in failed:  # back after the visibility timeout
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            continue
        clock.advance(100_000)  # leases expire, wake times pass
        before_cleanup()
        before_cleanup = lambda: None  # noqa: E731 - once
        report = dataclasses.replace(runtime.cleanup, workers=1).run(sweep_schedules=False)
        idle = idle + 1 if not (report.armed or report.leases_taken_back or report.errors) else 0
        if idle >= 3:
            return
    raise AssertionError("the system did not settle")


def totals(runtime: AwsRuntime, tenant: Tenant) -> dict[str, int]:
    days = runtime.usage.usage(tenant.principal.tenant_id, "2000-01-01", "2999-12-31")
    return {name: sum(getattr(day, name) for day in days) for name in ("scheduled", "delivered", "failed", "attempts")}


@pytest.mark.parametrize(
    "phase, service, operation, make, times, landed, skip",
    CASES,
    ids=[
        f"{c[0]}-{c[2]}{'-slot' if c[2] == 'UpdateItem' and c[6] == SLOT else ''}"
        f"-{'landed' if c[5] else c[3]('x').__class__.__name__}-{c[4]}"
        for c in CASES
    ],
)
def test_nothing_lost_nothing_sent_twice_counters_exact(
    runtime: AwsRuntime,
    tenant: Tenant,
    faults: Faults,
    lambdas: Client,
    sender: FakeSender,
    clock: SettableClock,
    phase: str,
    service: str,
    operation: str,
    make: Make,
    times: int,
    landed: bool,
    skip: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One record at a time, one cleanup worker: moto's in-process tables are not safe for concurrent
    # writes (two ADDs to one counter item can lose one); DynamoDB is, per item.
    monkeypatch.setattr(triggers, "MAX_BATCH", 1)
    if phase == "create":
        faults.fail(service, operation, make, times=times, landed=landed)
    ids = create_all(runtime, tenant)
    if phase == "deliver":
        faults.fail(service, operation, make, times=times, landed=landed, skip=skip)
    if phase == "cleanup":
        faults.fail("dynamodb", "UpdateItem", fault.timeout(), times=1, landed=True, skip=CLAIM)  # an unseen claim

    def cleanup_faults() -> None:  # cleanup's own calls, not the deliveries' (a slot's Query, say)
        if phase == "cleanup":
            faults.fail(service, operation, make, times=times, landed=landed, skip=skip)

    clock.advance(1)
    drain(runtime, lambdas, clock, before_cleanup=cleanup_faults)

    assert faults.plans and all(plan.times == 0 for plan in faults.plans[(service, operation)]), "fault not hit"
    stored = [runtime.messages.get_message(tenant.principal.tenant_id, i) for i in ids]
    assert [m.status if m else None for m in stored] == [Status.DELIVERED] * COUNT  # nothing lost
    sends: Counter[Any] = Counter(request.message_id for request in sender.sent)
    assert sends == Counter(dict.fromkeys(ids, 1))  # none twice
    assert totals(runtime, tenant) == {"scheduled": COUNT, "delivered": COUNT, "failed": 0, "attempts": COUNT}


def test_cleanup_never_takes_back_a_lease_whose_delivery_finished(
    runtime: AwsRuntime, tenant: Tenant, sender: FakeSender, clock: SettableClock
) -> None:
    """The wake index and the read behind it are eventually consistent: cleanup can see a message as
    delivering after its result landed (same generation). Taking it back then would send it again."""
    [created] = messages.schedule(
        runtime.context, tenant.principal, [{"appId": tenant.app_id, "payload": {}, "delaySeconds": 0}]
    )
    assert isinstance(created, messages.Inserted)
    lease = runtime.runner.claim(TimerRef(tenant.principal.tenant_id, created.message.id, created.message.gen))
    assert isinstance(lease, Lease)
    claimed = lease.message
    runtime.worker.deliver(lease)  # the result lands
    clock.advance(100_000)  # ... and later cleanup acts on its stale view: delivering, lease expired
    report = Report()
    runtime.cleanup._take_back(claimed.evolve(), clock.now_ms(), report)
    after = runtime.messages.get_message(tenant.principal.tenant_id, claimed.id)
    assert after is not None and after.status is Status.DELIVERED
    assert report.leases_taken_back == 0 and len(sender.sent) == 1
