"""A moto-backed AWS stack for tests and benchmarks: tables from `tables.TABLES`, the release queue
(with its DLQ), the schedule group, a KMS key and two usage plans; and runtimes wired onto it.

On AWS the usage counters follow the writes by the stream's delay: the meter Lambda adds what the
messages table's stream recorded. A runtime made here reads usage after driving the stream through
the meter (`MeteredUsage`, the event source mapping of awslocal.streams), so a read sees every
write before it, as on AWS about a second later."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.core.botocore_stubber import BotocoreStubber

from awslocal.streams import StreamPoller
from chalicelib.adapters.aws import meter, tables
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.wiring import AwsRuntime, Clients, build_aws_runtime
from chalicelib.domain.ids import hash_token
from chalicelib.domain.model import UsageDay
from chalicelib.settings import Settings
from tests.aws import rules

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "scheduler-test"
OPERATOR_KEY = "op_" + "y" * 40
DELIVERY_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-deliver"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-scheduler"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


_MOTO_LOCK = threading.RLock()


@contextlib.contextmanager
def aws_env(**extra: str) -> Iterator[None]:
    """Fake credentials and the region for the block (and no endpoint override unless given), with
    in-process moto serving one request at a time: its backends are not thread-safe (a query paging a
    table while another thread updates it could return an item twice), and the code under test calls
    AWS from thread pools (cleanup, the delivery runner). AWS serves concurrent calls consistently."""
    saved = dict(os.environ)
    os.environ.update(FAKE_ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(extra)
    original = BotocoreStubber.__call__

    def serialised(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with _MOTO_LOCK:
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = serialised  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]
        os.environ.clear()
        os.environ.update(saved)


def session(endpoint_url: str | None = None) -> boto3.session.Session:
    """A boto3 session in the test region that rejects what AWS rejects (`rules.enforce`)."""
    made = boto3.session.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    return rules.enforce(made)


def create_stack(sess: boto3.session.Session, prefix: str = PREFIX, **overrides: Any) -> AwsConfig:
    """Create every resource of one deployment; returns its `AwsConfig`."""
    tables.create_tables(sess.client("dynamodb"), prefix)
    sqs = sess.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{prefix}-release-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"{prefix}-release",
        Attributes={
            "VisibilityTimeout": "180",
            "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}',
        },
    )["QueueUrl"]
    sess.client("scheduler").create_schedule_group(Name=prefix)
    key_id = sess.client("kms").create_key(Description="app secrets")["KeyMetadata"]["KeyId"]
    gateway = sess.client("apigateway")
    plans = {name: gateway.create_usage_plan(name=f"{prefix}-{name}")["id"] for name in ("free", "pro", "unlimited")}
    values: dict[str, Any] = {
        "table_prefix": prefix,
        "release_queue_url": queue,
        "schedule_group": prefix,
        "delivery_function_arn": DELIVERY_ARN,
        "scheduler_role_arn": ROLE_ARN,
        "schedule_dlq_arn": dlq_arn,
        "kms_key_id": key_id,
        "operator_key_hash": hash_token(OPERATOR_KEY),
        "usage_plan_ids": plans,
        "region": REGION,
    }
    values.update(overrides)
    return AwsConfig(**values)


@dataclass
class Recorder:
    """Collects metrics (name → values) instead of printing EMF."""

    points: dict[str, list[float]] = field(default_factory=dict)

    def __call__(self, name: str, value: float) -> None:
        self.points.setdefault(name, []).append(value)

    def total(self, name: str) -> float:
        return sum(self.points.get(name, []))


def clock_sleep(clock: Any) -> Callable[[float], None]:
    """A `sleep` that moves a manual clock instead of waiting."""

    def sleep(seconds: float) -> None:
        clock.advance(round(seconds * 1000))

    return sleep


def runtime(
    sess: boto3.session.Session,
    config: AwsConfig,
    *,
    settings: Settings | None = None,
    meter_on_read: bool = True,
    **options: Any,
) -> AwsRuntime:
    """A runtime on the stack; `options` go to `build_aws_runtime` (clock, send, sleep, metric, ...).
    Its usage reads run the meter first unless `meter_on_read` is False (then the test drives it)."""
    settings = settings or Settings(backend="aws", allow_private_targets=True)
    options.setdefault("metric", Recorder())
    made = build_aws_runtime(settings, config, Clients(sess), **options)
    return metered(sess, config, made) if meter_on_read else made


def meter_poller(
    sess: boto3.session.Session,
    config: AwsConfig,
    runtime: AwsRuntime,
    invoke: Callable[[dict[str, Any]], Any] | None = None,
) -> StreamPoller:
    """The meter's event source mapping on the stack's messages table, invoking `invoke` (default:
    `runtime`'s meter with the batch's records)."""
    table = config.table(tables.MESSAGES)
    arn = sess.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    # moto routes the streams API on the path "/", which botocore leaves empty on the default endpoint
    streams = sess.client("dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com/")
    return StreamPoller(
        streams,
        arn,
        invoke or (lambda event: runtime.meter.apply(event["Records"])),
        filters=meter.FILTERS,
        batch_size=meter.BATCH_SIZE,
    )


class MeteredUsage:
    """The usage store, read after the meter took in everything the stream holds."""

    def __init__(self, runtime: AwsRuntime, make: Callable[[], StreamPoller]) -> None:
        self._store = runtime.usage
        self._make = make
        self.poller: StreamPoller | None = None

    def drain(self) -> None:
        """Run the meter's mapping up to the end of the stream (a failing batch is retried)."""
        self.poller = self.poller or self._make()
        self.poller.poll(max_failures=50)

    def usage(self, tenant_id: str, first_day: str, last_day: str) -> list[UsageDay]:
        self.drain()
        return self._store.usage(tenant_id, first_day, last_day)


def metered(sess: boto3.session.Session, config: AwsConfig, runtime: AwsRuntime) -> AwsRuntime:
    """`runtime` with its usage read through the meter (see the module docstring)."""
    runtime.usage = MeteredUsage(runtime, lambda: meter_poller(sess, config, runtime))  # type: ignore[assignment]
    return runtime
