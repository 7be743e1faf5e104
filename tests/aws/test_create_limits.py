"""Creates on DynamoDB stay inside its transaction limits (100 writes, 4 MB; tests/aws/rules.py makes
moto enforce them), each message is stored whole or not at all, and failures are told per message."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import messages as aws_messages
from chalicelib.adapters.aws.dynamo import map_exceptions
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.api.errors import error_response
from chalicelib.domain.errors import PayloadTooLarge, StorageUnavailable
from chalicelib.services import messages
from tests.aws import faults as fault
from tests.aws.conftest import Tenant
from tests.aws.faults import Faults

BIG = "x" * (250 * 1024)  # just under the 256 KiB payload limit


def batch(tenant: Tenant, count: int, payload: Any, **fields: Any) -> list[dict[str, Any]]:
    return [
        {"appId": tenant.app_id, "payload": {"n": n, "p": payload}, "delaySeconds": 60, **fields} for n in range(count)
    ]


def stored(runtime: AwsRuntime, tenant: Tenant, results: list[Any]) -> list[str]:
    ids = [r.message.id for r in results if isinstance(r, messages.Inserted)]
    return [i for i in ids if runtime.messages.get_message(tenant.principal.tenant_id, i) is not None]


def scheduled_today(runtime: AwsRuntime, tenant: Tenant) -> int:
    days = runtime.usage.usage(tenant.principal.tenant_id, "2000-01-01", "2999-12-31")
    return sum(day.scheduled for day in days)


def test_large_payloads_are_split_by_bytes_not_by_a_fixed_count(
    runtime: AwsRuntime, tenant: Tenant, faults: Faults
) -> None:
    """20 payloads of 250 KB are 5 MB: over one transaction's 4 MB (the old fixed chunk of 33 made it one
    transaction, which AWS rejects with a ValidationException)."""
    before = faults.calls["TransactWriteItems"]
    results = messages.schedule(runtime.context, tenant.principal, batch(tenant, 20, BIG))
    assert all(isinstance(r, messages.Inserted) and r.created for r in results)
    assert len(stored(runtime, tenant, results)) == 20
    assert faults.calls["TransactWriteItems"] - before == 2
    assert runtime.messages.get_payload(tenant.principal.tenant_id, results[19].message.id) is not None


def test_many_small_messages_are_split_by_count(runtime: AwsRuntime, tenant: Tenant, faults: Faults) -> None:
    """100 keyed messages are 300 writes (message, payload, idempotency record) + counters: 4 transactions."""
    before = faults.calls["TransactWriteItems"]
    raws = [{**raw, "idempotencyKey": f"k-{n}"} for n, raw in enumerate(batch(tenant, 100, "s"))]
    results = messages.schedule(runtime.context, tenant.principal, raws)
    assert len(stored(runtime, tenant, results)) == 100
    assert faults.calls["TransactWriteItems"] - before == 4
    assert scheduled_today(runtime, tenant) == 100


def test_a_failure_after_some_transactions_committed_is_reported_per_message(
    runtime: AwsRuntime, tenant: Tenant, faults: Faults
) -> None:
    """The first transaction commits, the second keeps failing: its messages are 503s, stored nowhere
    and not counted; sending only those again stores each once."""
    faults.fail("dynamodb", "TransactWriteItems", fault.throttled(), times=10, skip=1)
    raws = batch(tenant, 20, BIG)
    results = messages.schedule(runtime.context, tenant.principal, raws)
    done = [n for n, r in enumerate(results) if isinstance(r, messages.Inserted)]
    failed = [n for n, r in enumerate(results) if isinstance(r, StorageUnavailable)]
    assert done and failed and sorted(done + failed) == list(range(20))
    assert done == list(range(len(done)))  # whole transactions, in order
    assert len(stored(runtime, tenant, results)) == len(done)
    assert scheduled_today(runtime, tenant) == len(done)
    assert error_response(results[failed[0]]).status_code == 503

    faults.clear()
    again = messages.schedule(runtime.context, tenant.principal, [raws[n] for n in failed])
    assert len(stored(runtime, tenant, again)) == len(failed)
    assert scheduled_today(runtime, tenant) == 20


def test_a_message_no_transaction_can_hold_is_a_413_and_nothing_is_stored(
    runtime: AwsRuntime, tenant: Tenant, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws_messages, "CHUNK_MAX_BYTES", 200 * 1024)  # as if the limit were 200 KB
    before = faults.calls["TransactWriteItems"]
    raws = [*batch(tenant, 3, "small"), *batch(tenant, 1, BIG)]
    with pytest.raises(PayloadTooLarge) as caught:
        messages.schedule(runtime.context, tenant.principal, raws)
    assert error_response(caught.value).status_code == 413
    assert faults.calls["TransactWriteItems"] == before  # checked before the first write
    assert scheduled_today(runtime, tenant) == 0


@pytest.mark.parametrize(
    "message", ["Item size has exceeded the maximum allowed size", "Transaction request cannot be larger than 4 MB"]
)
def test_dynamodbs_size_errors_are_413s_not_retryable_503s(message: str) -> None:
    error = ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "TransactWriteItems")
    with pytest.raises(PayloadTooLarge) as caught, map_exceptions("messages"):
        raise error
    assert error_response(caught.value).status_code == 413
