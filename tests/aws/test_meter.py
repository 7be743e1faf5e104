"""The meter on moto: counts from the messages table's stream are exact however its batches come
(retried whole or after a partial write, re-batched after a lost checkpoint, from two shards at
once, run twice concurrently, under conflicts, throttling and timeouts), and the hot transactions of
create and delivery touch no counter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib.adapters.aws import codec, meter, tables
from chalicelib.adapters.aws.dynamo import to_item
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.errors import StorageUnavailable
from chalicelib.services import messages
from tests.aws import faults as fault
from tests.aws import support
from tests.aws.conftest import FakeSender, Tenant
from tests.aws.faults import Faults
from tests.aws.test_faults import drain, totals
from tests.support.doubles import SettableClock

COUNTERS = ("scheduled", "delivered", "failed", "attempts")


@pytest.fixture
def quiet(
    aws: boto3.session.Session, config: Any, clock: SettableClock, sender: FakeSender, faults: Faults
) -> Iterator[AwsRuntime]:
    """A runtime whose usage reads do not run the meter: each test hands the meter its batches
    (`faults` first: clients made before it would not see its failures)."""
    from chalicelib import bootstrap

    built = support.runtime(
        aws, config, clock=clock, send=sender, sleep=support.clock_sleep(clock), meter_on_read=False
    )
    bootstrap.install(built)
    yield built
    bootstrap.install(None)


@pytest.fixture
def who(quiet: AwsRuntime) -> Tenant:
    from chalicelib.domain.schemas import AppCreate, TenantCreate
    from chalicelib.services import accounts, apps

    _, token = accounts.create_tenant(quiet.context, TenantCreate(name="acme", plan="unlimited"))
    principal = accounts.authenticate(quiet.context, token)
    app = apps.create_app(quiet.context, principal, AppCreate(name="hooks", url="https://example.com/hook"))
    return Tenant(principal, token, app.id)


def recorded(aws: boto3.session.Session, runtime: AwsRuntime) -> list[dict[str, Any]]:
    """Every record the meter's mapping would hand the function (filters applied), in stream order."""
    batches: list[dict[str, Any]] = []
    support.meter_poller(aws, runtime.config, runtime, batches.append).poll(max_failures=1)
    return [record for event in batches for record in event["Records"]]


def scenario(runtime: AwsRuntime, who: Tenant, clock: SettableClock, sender: FakeSender) -> None:
    """3 messages delivered; 1 to an endpoint that is gone (410: failed), then redriven once it is back
    and delivered: scheduled 5, delivered 4, failed 1, attempts 5."""
    from app import app
    from chalicelib.domain.schemas import AppCreate
    from chalicelib.services import apps

    gone = apps.create_app(runtime.context, who.principal, AppCreate(name="gone", url="https://example.com/gone"))
    sender.by_url["https://example.com/gone"] = 410
    raws = [{"appId": who.app_id, "payload": {"n": n}, "delaySeconds": 0} for n in range(3)]
    messages.schedule(runtime.context, who.principal, raws)
    [failing] = messages.schedule(runtime.context, who.principal, [{"appId": gone.id, "payload": 1, "delaySeconds": 0}])
    assert isinstance(failing, messages.Inserted)
    with Client(app) as lambdas:
        drain(runtime, lambdas, clock)
        sender.by_url.clear()
        messages.redrive(runtime.context, who.principal, failing.message.id, None)
        drain(runtime, lambdas, clock)


EXPECTED = {"scheduled": 5, "delivered": 4, "failed": 1, "attempts": 5}


def counted(runtime: AwsRuntime, who: Tenant) -> dict[str, int]:
    days = runtime.usage.usage(who.principal.tenant_id, "2000-01-01", "2999-12-31")
    return {name: sum(getattr(day, name) for day in days) for name in COUNTERS}


def test_the_meter_counts_a_whole_life_of_messages_exactly(
    aws: boto3.session.Session, quiet: AwsRuntime, who: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    scenario(quiet, who, clock, sender)
    assert counted(quiet, who) == dict.fromkeys(COUNTERS, 0)  # nothing until the meter ran
    records = recorded(aws, quiet)
    report = quiet.meter.apply(records)
    assert counted(quiet, who) == EXPECTED
    assert (report.added, report.transactions, report.skipped) == (len(records), 1, 0)


def test_a_retried_batch_counts_once(
    aws: boto3.session.Session, quiet: AwsRuntime, who: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    scenario(quiet, who, clock, sender)
    records = recorded(aws, quiet)
    quiet.meter.apply(records)
    again = quiet.meter.apply(records)  # the mapping retries from the same record (checkpoint lost)
    assert counted(quiet, who) == EXPECTED
    assert (again.added, again.transactions, again.skipped) == (0, 0, len(records))


def test_a_batch_rebuilt_longer_after_a_lost_checkpoint_counts_each_record_once(
    aws: boto3.session.Session, quiet: AwsRuntime, who: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    """Batches [0:4) and [4:9) succeeded, both checkpoints were lost: the next batch starts at record 0
    and runs past both. The walk finds each earlier ledger in turn and adds only what is new."""
    scenario(quiet, who, clock, sender)
    records = recorded(aws, quiet)
    assert len(records) > 9
    quiet.meter.apply(records[:4])
    quiet.meter.apply(records[4:9])
    third = quiet.meter.apply(records)
    assert counted(quiet, who) == EXPECTED
    assert third.added == len(records) - 9 and third.skipped == 9


def test_two_shards_metered_concurrently_and_one_batch_run_twice_at_once_count_exactly(
    aws: boto3.session.Session, quiet: AwsRuntime, who: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    """Records of different shards are disjoint and come in different invocations, side by side; a
    duplicate invocation of one batch races its twin on the ledger's condition."""
    scenario(quiet, who, clock, sender)
    records = recorded(aws, quiet)
    shards = [records[0::2], records[1::2]]  # two shards' worth, each in order
    batches = [shards[0], shards[1], shards[1]]  # shard 1's batch is also delivered twice at once
    errors: list[BaseException] = []
    start = threading.Barrier(len(batches))
    quiet.meter._client = _OneCallAtATime(quiet.meter._client)

    def run(batch: list[dict[str, Any]]) -> None:
        start.wait()
        try:
            quiet.meter.apply(batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert counted(quiet, who) == EXPECTED


@pytest.mark.parametrize(
    "operation, make, times, landed",
    [
        ("TransactWriteItems", fault.conflict(), 3, False),  # retried under one token
        ("TransactWriteItems", fault.conflict(), 8, False),  # more than the meter retries: the batch fails
        ("TransactWriteItems", fault.throttled(), 5, False),
        ("TransactWriteItems", fault.timeout(), 1, True),  # landed, unseen: the token makes the retry a no-op
        ("TransactWriteItems", fault.timeout(), 4, False),  # more timeouts than retries: the batch fails
        ("GetItem", fault.throttled(), 2, False),
    ],
    ids=lambda v: v if isinstance(v, str | int | bool) else v("x").__class__.__name__,
)
def test_faults_on_the_meters_calls_never_change_the_counts(
    aws: boto3.session.Session,
    quiet: AwsRuntime,
    who: Tenant,
    clock: SettableClock,
    sender: FakeSender,
    faults: Faults,
    operation: str,
    make: fault.Make,
    times: int,
    landed: bool,
) -> None:
    scenario(quiet, who, clock, sender)
    records = recorded(aws, quiet)
    faults.fail("dynamodb", operation, make, times=times, landed=landed)
    failures = 0
    for _ in range(20):  # the mapping: the same batch again until the function succeeds
        try:
            quiet.meter.apply(records)
            break
        except StorageUnavailable:
            failures += 1
    assert all(plan.times == 0 for plan in faults.plans[("dynamodb", operation)]), "fault not hit"
    assert counted(quiet, who) == EXPECTED
    assert (failures > 0) == (times > 3 or operation == "GetItem")


def test_a_batch_with_more_tenant_days_than_a_transaction_holds_is_split_and_resumes_after_a_failure(
    quiet: AwsRuntime, faults: Faults
) -> None:
    """150 tenant-days: a transaction of 99 counters and its ledger, then one of 51. The second fails;
    the retried batch skips the first (its ledger) and adds the rest."""
    records = [_attempt_record(f"ten_{n:03d}", n) for n in range(150)]
    faults.fail("dynamodb", "TransactWriteItems", fault.aws_error("InternalServerError"), times=4, skip=1)
    with pytest.raises(StorageUnavailable):
        quiet.meter.apply(records)
    report = quiet.meter.apply(records)
    assert (report.skipped, report.added, report.transactions) == (99, 51, 1)
    rows = quiet.clients.get("dynamodb").scan(TableName=quiet.config.table(tables.USAGE))["Items"]
    counters = [row for row in rows if row["pk"]["S"].startswith("ten_")]
    assert len(counters) == 150 and all(row["attempts"]["N"] == "1" for row in counters)
    assert sum(1 for row in rows if row["pk"]["S"].startswith(meter.LEDGER_PREFIX)) == 2


def test_create_and_delivery_transactions_write_no_counter(
    aws: boto3.session.Session, runtime: AwsRuntime, tenant: Tenant, lambdas: Client, clock: SettableClock
) -> None:
    """What makes a counter conflict impossible on the hot path: no create or result write names the
    usage table (the quota's own item is reserved by a single conditional update, outside them)."""
    usage_table = runtime.config.table(tables.USAGE)
    writes: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        writes.append((model.name, params))

    events = runtime.clients.get("dynamodb").meta.events
    events.register("provide-client-params.dynamodb", record)
    raws = [{"appId": tenant.app_id, "payload": {"n": n}, "delaySeconds": 0} for n in range(3)]
    messages.schedule(runtime.context, tenant.principal, raws)
    drain(runtime, lambdas, clock)
    events.unregister("provide-client-params.dynamodb", record)
    transactions = [p for name, p in writes if name == "TransactWriteItems"]
    assert len(transactions) >= 4  # the create and three results
    touched = {next(iter(item.values()))["TableName"] for p in transactions for item in p["TransactItems"]}
    assert usage_table not in touched
    counter_writes = [p for name, p in writes if p.get("TableName") == usage_table and name != "Query"]
    assert all("#quota" in str(p.get("Key")) or "#slot" in str(p.get("Key")) for p in counter_writes), counter_writes
    assert totals(runtime, tenant) == {"scheduled": 3, "delivered": 3, "failed": 0, "attempts": 3}


class _OneCallAtATime:
    """A client whose calls run one at a time (batches still interleave between calls): moto rolls a
    failed transaction back by restoring a snapshot of the table, which would also undo a write
    another thread committed meanwhile; DynamoDB isolates transactions."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def _attempt_record(tenant_id: str, n: int) -> dict[str, Any]:
    """A stream record of an attempt item of tenant `tenant_id`, at sequence number `n`."""
    item = {
        "pk": f"msg_{n:026d}",
        "sk": codec.attempt_sk(1),
        "tenantId": tenant_id,
        "feedKey": f"{1_767_225_600_000:015d}#msg_{n:026d}#00001",
    }
    return {
        "eventID": f"e{n:05d}",
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": to_item({"pk": item["pk"], "sk": item["sk"]}),
            "NewImage": to_item(item),
            "SequenceNumber": str(1000 + n),
        },
    }
