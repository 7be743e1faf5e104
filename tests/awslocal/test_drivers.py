"""Pure rules of the harness's drivers: Scheduler fire times, partial batch responses, authorizer
policies, usage-plan limits and route matching."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from awslocal.deployment import QueueMapping
from awslocal.esm import QueueMappingDriver
from awslocal.gateway import allows, routes_of
from awslocal.limits import Quota, TokenBucket
from awslocal.scheduler import fire_time

MINUTE = datetime(2027, 1, 15, 8, 5, tzinfo=UTC).timestamp()


def test_a_one_time_schedule_fires_anywhere_in_its_minute_reproducibly_by_seed() -> None:
    times = [fire_time("at(2027-01-15T08:05:00)", {"Mode": "OFF"}, random.Random(seed)) for seed in range(300)]
    assert all(t is not None and MINUTE <= t < MINUTE + 60 for t in times)
    assert max(times) - min(times) > 50  # spread over the minute, not fired at :00
    again = [fire_time("at(2027-01-15T08:05:00)", {"Mode": "OFF"}, random.Random(seed)) for seed in range(300)]
    assert again == times


def test_a_flexible_window_widens_the_spread_and_other_expressions_do_not_fire() -> None:
    window = {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
    times = [fire_time("at(2027-01-15T08:05:00)", window, random.Random(seed)) for seed in range(300)]
    assert max(times) > MINUTE + 60 and all(t < MINUTE + 360 for t in times)  # type: ignore[operator]
    assert fire_time("rate(5 minutes)", {"Mode": "OFF"}, random.Random(1)) is None


class _Function:
    class function:
        key = "deliver"
        reserved_concurrency = 3


def driver(report: bool = True) -> QueueMappingDriver:
    mapping = QueueMapping("arn:aws:sqs:us-east-1:1:q", "deliver", 10, 0, report, 50)
    return QueueMappingDriver(None, mapping, "http://q", _Function(), "us-east-1")  # type: ignore[arg-type]


MESSAGES = [{"MessageId": "a"}, {"MessageId": "b"}]


@pytest.mark.parametrize(
    ("payload", "kept"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),  # unknown id: the whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"id": "a"}]}, {"a", "b"}),
        ("not an object", {"a", "b"}),
    ],
)
def test_partial_batch_responses_follow_aws_rules(payload: object, kept: set[str]) -> None:
    assert driver()._failures(payload, MESSAGES) == kept


def test_without_report_batch_item_failures_a_successful_batch_is_deleted_whole() -> None:
    assert driver(report=False)._failures({"batchItemFailures": [{"itemIdentifier": "a"}]}, MESSAGES) == set()


def test_concurrency_is_the_mapping_maximum_capped_by_reserved_concurrency() -> None:
    assert driver().concurrency == 3


ARN = "arn:aws:execute-api:us-east-1:1:api/api/GET/messages"


def test_authorizer_policy_allow_deny_and_wildcards() -> None:
    def policy(*statements: tuple[str, str]) -> dict:
        return {"Statement": [{"Action": "execute-api:Invoke", "Effect": e, "Resource": [r]} for e, r in statements]}

    assert allows(policy(("Allow", "arn:aws:execute-api:us-east-1:1:api/api/*/*")), ARN)
    assert not allows(policy(("Allow", "arn:aws:execute-api:us-east-1:1:api/other/*/*")), ARN)
    assert not allows(policy(("Allow", "arn:*"), ("Deny", "arn:*:api/api/GET/*")), ARN)
    assert not allows({"Statement": []}, ARN)


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=20, monotonic=lambda: now[0])
    assert sum(bucket.take() for _ in range(25)) == 20
    now[0] += 0.5
    assert sum(bucket.take() for _ in range(25)) == 5


def test_quota_resets_each_day() -> None:
    day = ["2027-01-01"]
    quota = Quota(2, today=lambda: day[0])
    assert [quota.take() for _ in range(3)] == [True, True, False]
    day[0] = "2027-01-02"
    assert quota.take()


def test_literal_routes_win_over_parameters() -> None:
    spec = {"paths": {"/messages/{id}": {"get": {}}, "/messages/batch": {"post": {"security": [{"api_key": []}]}}}}
    routes = routes_of(spec)
    assert [r.template for r in routes] == ["/messages/batch", "/messages/{id}"]
    assert routes[0].api_key and not routes[0].authorizer
    assert routes[1].pattern.match("/messages/msg_1").groupdict() == {"id": "msg_1"}  # type: ignore[union-attr]


def test_paths_work_with_and_without_the_stage_in_front() -> None:
    from types import SimpleNamespace

    from awslocal.gateway import Gateway

    front = SimpleNamespace(deployment=SimpleNamespace(stage=SimpleNamespace(name="api")))
    paths = ["/api/messages", "/messages", "/api", "/apis/x", "/api/console/assets/v/main.js"]
    assert [Gateway.resource_path(front, p) for p in paths] == [  # type: ignore[arg-type]
        "/messages",
        "/messages",
        "/",
        "/apis/x",
        "/console/assets/v/main.js",
    ]


class _Stream:
    """A one-shard `dynamodbstreams` client over a list of records (sequence numbers 1..n)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        after = int(kwargs.get("SequenceNumber", 0)) if kwargs["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER" else 0
        return {"ShardIterator": str(after)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # boto3's names
        after = int(ShardIterator)
        return {"Records": [r for r in self.records if int(r["dynamodb"]["SequenceNumber"]) > after][:Limit]}


def _stream_record(n: int, sk: str) -> dict[str, Any]:
    body = {"Keys": {"sk": {"S": sk}}, "SequenceNumber": str(n)}
    return {"eventID": f"e{n}", "eventName": "INSERT", "dynamodb": body}


def test_the_stream_mapping_filters_batches_and_retries_a_failed_batch_from_its_first_record() -> None:
    from awslocal.streams import StreamPoller

    records = [_stream_record(n, "m" if n % 3 else "p") for n in range(1, 11)]  # 3, 6, 9 filtered out
    seen: list[list[str]] = []
    fail = {"times": 2}

    def invoke(event: dict[str, Any]) -> None:
        seen.append([r["eventID"] for r in event["Records"]])
        assert all(r["eventSourceARN"] == "arn:stream" for r in event["Records"])
        if len(seen) == 2 and fail["times"]:  # the second batch fails twice
            fail["times"] -= 1
            seen.pop()
            raise RuntimeError("function error")

    pattern = [{"dynamodb": {"Keys": {"sk": {"S": ["m"]}}}}]
    poller = StreamPoller(_Stream(records), "arn:stream", invoke, filters=pattern, batch_size=3)
    assert poller.poll() == 7
    assert seen == [["e1", "e2", "e4"], ["e5", "e7", "e8"], ["e10"]]
    assert (poller.invocations, poller.failures) == (5, 2)
    assert poller.checkpoints == {"shard-1": "10"}
    assert poller.poll() == 0  # nothing new: nothing invoked


def test_the_stream_mapping_gathers_a_short_batch_for_its_batching_window() -> None:
    from awslocal.streams import StreamPoller

    stream, now = _Stream([_stream_record(1, "m"), _stream_record(2, "m")]), [100.0]
    seen: list[list[str]] = []

    def invoke(event: dict[str, Any]) -> None:
        seen.append([r["eventID"] for r in event["Records"]])

    poller = StreamPoller(stream, "arn:stream", invoke, batch_size=3, batching_window_s=5, monotonic=lambda: now[0])
    assert poller.poll() == 0  # two of three: wait
    now[0] += 4.9
    stream.records.append(_stream_record(3, "m"))
    assert poller.poll() == 3 and seen == [["e1", "e2", "e3"]]  # full before the window ended
    stream.records.append(_stream_record(4, "m"))
    assert poller.poll() == 0
    now[0] += 5
    assert poller.poll() == 1 and seen[-1] == ["e4"]  # the window ended: what there is goes


def _iso_s(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_recurring_cron_fires_on_the_zones_wall_clock_and_skips_a_gap_as_eventbridge_does() -> None:
    from awslocal import recurring

    berlin = {"ScheduleExpression": "cron(30 2 * * ? *)", "ScheduleExpressionTimezone": "Europe/Berlin"}
    first = recurring.next_nominal(berlin, _iso_s("2027-03-27T12:00:00Z"), 0)
    assert first == _iso_s("2027-03-29T00:30:00Z")  # 02:30 does not exist on 2027-03-28: skipped
    weekdays = {"ScheduleExpression": "cron(59 8 ? * 2-6 *)", "ScheduleExpressionTimezone": "Europe/Berlin"}
    assert recurring.next_nominal(weekdays, _iso_s("2026-12-04T08:00:00Z"), 0) == _iso_s("2026-12-07T07:59:00Z")
    repeated = {"ScheduleExpression": "cron(30 1 * * ? *)", "ScheduleExpressionTimezone": "America/New_York"}
    once = recurring.next_nominal(repeated, _iso_s("2026-11-01T05:00:00Z"), 0)
    assert once == _iso_s("2026-11-01T05:30:00Z")  # 01:30 EDT, the first of the two
    assert recurring.next_nominal(repeated, once, 0) == _iso_s("2026-11-02T06:30:00Z")  # not 01:30 EST again


def test_recurring_rate_counts_from_its_start_date_and_stops_at_its_end_date() -> None:
    from awslocal import recurring

    detail = {
        "ScheduleExpression": "rate(15 minutes)",
        "StartDate": "2026-12-04T10:00:00+00:00",
        "EndDate": "2026-12-04T10:40:00+00:00",
    }
    assert recurring.next_nominal(detail, _iso_s("2026-12-04T09:00:00Z"), 0) == _iso_s("2026-12-04T10:00:00Z")
    assert recurring.next_nominal(detail, _iso_s("2026-12-04T10:00:00Z"), 0) == _iso_s("2026-12-04T10:15:00Z")
    assert recurring.next_nominal(detail, _iso_s("2026-12-04T10:30:00Z"), 0) is None  # 10:45 is past EndDate
    text = recurring.fill_input('{"scheduledTime":"<aws.scheduler.scheduled-time>"}', _iso_s("2026-12-04T10:15:00Z"))
    assert text == '{"scheduledTime":"2026-12-04T10:15:00Z"}'
