"""A moto-backed AWS stack for tests and benchmarks: tables from `tables.TABLES`, the release queue
(with its DLQ), the schedule group, a KMS key and two usage plans; and runtimes wired onto it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.wiring import AwsRuntime, Clients, build_aws_runtime
from chalicelib.domain.ids import hash_token
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


@contextlib.contextmanager
def aws_env(**extra: str) -> Iterator[None]:
    """Fake credentials and the region for the block (and no endpoint override unless given)."""
    saved = dict(os.environ)
    os.environ.update(FAKE_ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(extra)
    try:
        yield
    finally:
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
    sess: boto3.session.Session, config: AwsConfig, *, settings: Settings | None = None, **options: Any
) -> AwsRuntime:
    """A runtime on the stack; `options` go to `build_aws_runtime` (clock, send, sleep, metric, ...)."""
    settings = settings or Settings(backend="aws", allow_private_targets=True)
    options.setdefault("metric", Recorder())
    return build_aws_runtime(settings, config, Clients(sess), **options)
