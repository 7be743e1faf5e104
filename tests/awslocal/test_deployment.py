"""The stack `make run-aws` creates from terraform/*.tf (in-process moto here; moto server in run-aws)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from awslocal.deployment import Deployment, apply
from awslocal.provision import MotoProvider
from awslocal.terraform import Module
from chalicelib.adapters.aws import tables
from tests.aws.support import aws_env
from tests.terraform import tfvars

FACTS = {"account_id": "123456789012", "region": "us-east-1", "partition": "aws"}


@pytest.fixture
def session() -> Iterator[boto3.session.Session]:
    with aws_env(), mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def deployment(session: boto3.session.Session) -> Deployment:
    provider = MotoProvider(session, account_id=FACTS["account_id"], region=FACTS["region"])
    return apply(Module(provider, FACTS, {"operator_key_hash": "ab" * 32}))


def test_tables_are_the_ones_the_code_defines(session: boto3.session.Session, deployment: Deployment) -> None:
    client = session.client("dynamodb")
    for spec in tables.TABLES:
        table = client.describe_table(TableName=f"scheduler-dev-{spec['TableName']}")["Table"]
        assert table["KeySchema"] == spec["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(spec["AttributeDefinitions"], key=str)
        indexes = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {
            i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in spec.get("GlobalSecondaryIndexes", [])
        }
        ttl = client.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
        assert (ttl.get("AttributeName") == tables.TTL.get(spec["TableName"])) or spec["TableName"] not in tables.TTL


def test_the_messages_stream_feeds_the_meter_with_terraforms_filters(
    session: boto3.session.Session, deployment: Deployment
) -> None:
    from chalicelib.adapters.aws import meter

    [stream] = deployment.stream_mappings
    described = session.client("dynamodb").describe_table(TableName="scheduler-dev-messages")["Table"]
    assert stream.stream_arn == described["LatestStreamArn"]
    assert described["StreamSpecification"] == tables.STREAM
    assert (stream.function, stream.batch_size, stream.filters) == ("meter", meter.BATCH_SIZE, meter.FILTERS)
    assert stream.batching_window_s == 5  # variables.tf's meter_batching_window_s


def test_release_queue_redrives_to_its_dlq_after_five_receives(
    session: boto3.session.Session, deployment: Deployment
) -> None:
    [mapping] = deployment.mappings
    url = deployment.queues[mapping.queue_arn]
    attributes = session.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "180"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].endswith("scheduler-dev-release-dlq")
    assert (mapping.function, mapping.batch_size, mapping.report_failures, mapping.max_concurrency) == (
        "deliver",
        10,
        True,
        tfvars.deployment()["delivery_max_concurrency"],
    )


def test_functions_get_terraforms_handlers_and_resolved_environment(deployment: Deployment) -> None:
    functions = deployment.functions
    assert {k: f.handler for k, f in functions.items()} == {
        "api_handler": "app.app",
        "authorizer": "chalicelib.authorizer.authorizer",
        "deliver": "chalicelib.triggers.deliver",
        "cleanup": "chalicelib.triggers.cleanup",
        "post_confirmation": "chalicelib.triggers.post_confirmation",
        "meter": "chalicelib.triggers.meter",
    }
    deliver = functions["deliver"]
    assert (deliver.timeout_s, deliver.memory_mb) == (30, 512)
    assert deliver.environment["SCHEDULER_RELEASE_QUEUE_URL"] == deployment.queues[deployment.mappings[0].queue_arn]
    assert deliver.environment["SCHEDULER_DELIVERY_FUNCTION_ARN"] == deliver.arn
    assert deliver.dead_letter_arn == deliver.environment["SCHEDULER_SCHEDULE_DLQ_ARN"]
    assert functions["authorizer"].environment["SCHEDULER_OPERATOR_KEY_HASH"] == "ab" * 32
    plan_ids = json.loads(functions["api_handler"].environment["SCHEDULER_USAGE_PLAN_IDS"])
    assert plan_ids == {name: plan.id for name, plan in deployment.usage_plans.items()}
    assert "${" not in json.dumps([f.environment for f in functions.values()])


def test_usage_plans_stage_and_cleanup_rule_come_from_terraform(deployment: Deployment) -> None:
    free = deployment.usage_plans["free"]
    assert (free.rate, free.burst, free.daily_quota) == (10, 20, 1000)
    assert deployment.usage_plans["unlimited"].rate is None
    stage = deployment.stage
    assert (stage.name, stage.api_key_source, stage.throttle_rate, stage.throttle_burst) == (
        "api",
        "AUTHORIZER",
        tfvars.deployment()["api_throttle"]["rate"],
        tfvars.deployment()["api_throttle"]["burst"],
    )
    assert stage.responses["THROTTLED"].status == 429 and stage.responses["THROTTLED"].headers["Retry-After"] == "1"
    assert json.loads(stage.responses["UNAUTHORIZED"].body)["error"]["code"] == "unauthorized"
    [rule] = deployment.rules
    assert (rule.every_s, rule.functions) == (60, ["cleanup"])
