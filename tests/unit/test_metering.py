"""What each recorded write counts (`domain.metering`), read from DynamoDB stream records the way the
meter gets them (`adapters.aws.meter.change_of`), and how a batch is cut into transactions. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from awslocal.streams import passes
from chalicelib.adapters.aws import codec, meter
from chalicelib.adapters.aws.dynamo import to_item
from chalicelib.domain.metering import Change, Event, Kind, add_up, usage_of
from chalicelib.domain.model import Message, Status, UsageDelta

DAY = "2026-01-01"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
S = Status


def change(event: Event, old: Status | None = None, new: Status | None = None, kind: Kind = Kind.MESSAGE) -> Change:
    return Change("ten_a", DAY, kind, event, old, new)


def counts(delta: UsageDelta | None) -> tuple[int, int, int, int] | None:
    return None if delta is None else (delta.scheduled, delta.delivered, delta.failed, delta.attempts)


@pytest.mark.parametrize(
    "event, old, new, kind, expected",
    [
        (Event.INSERT, None, S.SCHEDULED, Kind.MESSAGE, (1, 0, 0, 0)),  # stored
        (Event.INSERT, None, None, Kind.ATTEMPT, (0, 0, 0, 1)),  # an attempt recorded
        (Event.MODIFY, S.DELIVERING, S.DELIVERED, Kind.MESSAGE, (0, 1, 0, 0)),
        (Event.MODIFY, S.DELIVERING, S.FAILED, Kind.MESSAGE, (0, 0, 1, 0)),
        (Event.MODIFY, S.FAILED, S.SCHEDULED, Kind.MESSAGE, (1, 0, 0, 0)),  # redrive
        (Event.MODIFY, S.CANCELLED, S.SCHEDULED, Kind.MESSAGE, (1, 0, 0, 0)),  # redrive
        (Event.MODIFY, S.SCHEDULED, S.DELIVERING, Kind.MESSAGE, None),  # a claim
        (Event.MODIFY, S.DELIVERING, S.SCHEDULED, Kind.MESSAGE, None),  # a retry, or a lease taken back
        (Event.MODIFY, S.SCHEDULED, S.SCHEDULED, Kind.MESSAGE, None),  # rescheduled, re-armed
        (Event.MODIFY, S.SCHEDULED, S.CANCELLED, Kind.MESSAGE, None),
        (Event.MODIFY, S.DELIVERED, S.DELIVERED, Kind.MESSAGE, None),  # a rewrite of a finished message
        (Event.MODIFY, S.FAILED, S.FAILED, Kind.MESSAGE, None),
        (Event.REMOVE, S.DELIVERED, None, Kind.MESSAGE, None),  # TTL
        (Event.REMOVE, None, None, Kind.ATTEMPT, None),
    ],
)
def test_each_write_counts_what_the_transition_means(
    event: Event, old: Status | None, new: Status | None, kind: Kind, expected: tuple[int, int, int, int] | None
) -> None:
    assert counts(usage_of(change(event, old, new, kind))) == expected


def test_deltas_add_up_per_tenant_day_in_first_seen_order() -> None:
    deltas = [
        UsageDelta("b", DAY, scheduled=1),
        UsageDelta("a", DAY, attempts=1),
        UsageDelta("b", DAY, delivered=1, attempts=1),
        UsageDelta("b", "2026-01-02", failed=1),
    ]
    assert add_up(deltas) == [
        UsageDelta("b", DAY, scheduled=1, delivered=1, attempts=1),
        UsageDelta("a", DAY, attempts=1),
        UsageDelta("b", "2026-01-02", failed=1),
    ]


def message(status: Status) -> Message:
    return Message(
        id="msg_1", tenant_id="ten_a", app_id="app_1", status=status, send_at=T0, due_at=T0, created_at=T0 - 5_000,
        max_attempts=3, gen=2, attempts=1, attempts_base=0,
    )  # fmt: skip


def stream_record(event: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    image = new or old or {}
    body: dict[str, Any] = {"Keys": to_item({"pk": image["pk"], "sk": image["sk"]}), "SequenceNumber": "100"}
    if new is not None:
        body["NewImage"] = to_item(new)
    if old is not None:
        body["OldImage"] = to_item(old)
    return {"eventID": "e1", "eventName": event, "dynamodb": body}


def item(status: Status, now_ms: int) -> dict[str, Any]:
    return codec.message_item(message(status), wake_at=None, now_ms=now_ms, retention_s=86_400)


def test_a_message_write_is_counted_on_the_day_it_was_written() -> None:
    """A delivery just after midnight counts on the new day, its creation on the day before."""
    created = stream_record("INSERT", None, item(S.SCHEDULED, T0 - 5_000))
    finished = stream_record("MODIFY", item(S.DELIVERING, T0 - 1_000), item(S.DELIVERED, T0 + 1_000))
    assert meter.change_of(created) == Change("ten_a", "2025-12-31", Kind.MESSAGE, Event.INSERT, None, S.SCHEDULED)
    assert meter.change_of(finished) == Change("ten_a", DAY, Kind.MESSAGE, Event.MODIFY, S.DELIVERING, S.DELIVERED)


def test_an_attempt_is_counted_on_the_day_it_was_recorded_and_payloads_not_at_all() -> None:
    from chalicelib.domain.model import Attempt

    attempt = Attempt("msg_1", "ten_a", "app_1", 1, T0 - 2_000, 10, 200, None, "")
    recorded = codec.attempt_item(attempt, recorded_at=T0 + 3, retention_s=86_400)
    assert meter.change_of(stream_record("INSERT", None, recorded)) == Change("ten_a", DAY, Kind.ATTEMPT, Event.INSERT)
    payload = codec.payload_item(message(S.SCHEDULED), "{}", 86_400)
    assert meter.change_of(stream_record("INSERT", None, payload)) is None


def test_the_mappings_filters_pass_exactly_the_writes_that_can_count() -> None:
    def passed(record: dict[str, Any]) -> bool:
        return passes(meter.FILTERS, record)

    from chalicelib.domain.model import Attempt

    attempt = codec.attempt_item(
        Attempt("msg_1", "ten_a", "app_1", 1, T0, 10, 200, None, ""), recorded_at=T0, retention_s=1
    )
    assert passed(stream_record("INSERT", None, item(S.SCHEDULED, T0)))
    assert passed(stream_record("INSERT", None, attempt))
    assert passed(stream_record("MODIFY", item(S.DELIVERING, T0), item(S.DELIVERED, T0)))
    assert passed(stream_record("MODIFY", item(S.DELIVERING, T0), item(S.FAILED, T0)))
    assert passed(stream_record("MODIFY", item(S.FAILED, T0), item(S.SCHEDULED, T0)))
    assert not passed(stream_record("MODIFY", item(S.SCHEDULED, T0), item(S.DELIVERING, T0)))  # claim
    assert not passed(stream_record("MODIFY", item(S.DELIVERING, T0), item(S.SCHEDULED, T0)))  # retry
    assert not passed(stream_record("MODIFY", item(S.SCHEDULED, T0), item(S.CANCELLED, T0)))
    assert not passed(stream_record("REMOVE", item(S.DELIVERED, T0), None))  # TTL
    assert not passed(stream_record("INSERT", None, codec.payload_item(message(S.SCHEDULED), "{}", 1)))


def test_a_transaction_takes_at_most_99_tenant_days_and_runs_past_records_that_count_nothing() -> None:
    deltas: list[UsageDelta | None] = [UsageDelta(f"t{n}", DAY, attempts=1) for n in range(99)]
    deltas += [None, UsageDelta("t0", DAY, scheduled=1), UsageDelta("t99", DAY, attempts=1), None]
    assert meter._chunk_end(deltas, 0) == 101  # the 100th tenant-day starts the next transaction
    assert meter._chunk_end(deltas, 101) == len(deltas)
    assert meter.MAX_COUNTERS + 1 == 100  # plus the ledger: DynamoDB's 100 items a transaction
