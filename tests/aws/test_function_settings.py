"""Each function does its job with only the settings Terraform gives it: a runtime whose AWS settings
not in that function's Terraform environment are blanked, as they are on AWS."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.services import messages
from tests.aws import events, support
from tests.aws import faults as fault
from tests.aws.conftest import FakeSender, Tenant
from tests.aws.faults import Faults
from tests.support.doubles import SettableClock
from tests.terraform.test_lambda_contract import aws_config_settings, environment


def as_deployed(config: AwsConfig, function: str) -> AwsConfig:
    """`config` with every setting Terraform does not give `function` left at its unset value."""
    given = set(environment(function))
    unset = AwsConfig()
    blanked = {name: getattr(unset, name) for name, variable in aws_config_settings().items() if variable not in given}
    return dataclasses.replace(config, **blanked)


@pytest.mark.parametrize("kms_key", ["as deployed", "unset"])
def test_cleanup_arms_lost_work_with_the_settings_terraform_gives_it(
    aws: boto3.session.Session, runtime: AwsRuntime, tenant: Tenant, faults: Faults, clock: SettableClock, kms_key: str
) -> None:
    """Cleanup opens no secret: it also runs without a KMS key id (its stores resolve the key on first use)."""
    faults.fail("sqs", "SendMessage", fault.throttled("AWS.SimpleQueueService.RequestThrottled"), times=10**6)
    raw = {"appId": tenant.app_id, "payload": {"n": 1}, "delaySeconds": 300}
    [created] = messages.schedule(runtime.context, tenant.principal, [raw])
    assert isinstance(created, messages.Inserted), created
    faults.clear()
    clock.advance(1_000)
    deployed = as_deployed(runtime.config, "cleanup")
    if kms_key == "unset":
        deployed = dataclasses.replace(deployed, kms_key_id="")
    cleanup = support.runtime(aws, deployed, clock=clock)
    bootstrap.install(cleanup)
    from app import app

    with Client(app) as client:
        result = client.lambda_.invoke("cleanup", events.scheduled_event("2027-01-15T08:05:00Z"))
    assert (result.payload["armed"], result.payload["errors"]) == (1, [])
    item = runtime.messages._get(created.message.id, "m")
    assert item is not None and int(item["wakeAt"]) > clock.now_ms()


def test_deliver_sends_and_reschedules_with_the_settings_terraform_gives_it(
    aws: boto3.session.Session, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    [created] = messages.schedule(
        runtime.context, tenant.principal, [{"appId": tenant.app_id, "payload": {"n": 1}, "delaySeconds": 0}]
    )
    assert isinstance(created, messages.Inserted), created
    message = created.message
    body = json.dumps(
        {"tenantId": message.tenant_id, "messageId": message.id, "gen": message.gen, "dueAt": message.due_at}
    )
    sender.status = 500  # the retry is armed again, through the release queue
    deliver = support.runtime(aws, as_deployed(runtime.config, "deliver"), clock=clock, send=sender)
    bootstrap.install(deliver)
    from app import app

    with Client(app) as client:
        result = client.lambda_.invoke("deliver", events.sqs_event([body]))
    assert result.payload == {"batchItemFailures": []}
    [request] = sender.sent
    assert request.secrets[0].startswith("whsec_") and dict(request.headers) == {"x-env": "test"}
    assert messages.get(runtime.context, tenant.principal, message.id).attempts == 1
    queue = runtime.clients.get("sqs").get_queue_attributes(
        QueueUrl=runtime.config.release_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert queue["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # the retry, armed
