"""One run over real connections: a moto server on loopback, the API served over HTTP with
`SCHEDULER_BACKEND=aws` (wired from the environment, `AWS_ENDPOINT_URL` pointing at moto) behind an
API Gateway stand-in that runs the authorizer Lambda, and a delivery to a loopback receiver by the
delivery Lambda, invoked with the SQS event AWS would build from the release queue."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from chalice.test import Client
from moto.server import ThreadedMotoServer
from standardwebhooks import Webhook

from chalicelib import authorizer, bootstrap
from chalicelib.settings import get_settings
from scheduler_local.server import Server
from scheduler_local.wsgi import ChaliceWSGI
from tests.aws import events, support
from tests.support.receiver import Receiver

PREFIX = "scheduler-fn"


class _Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiGateway(ChaliceWSGI):
    """What API Gateway does in front of the app: runs the TOKEN authorizer of a route (401 when it
    fails), requires the usage key on API-key routes (403), passes the context on."""

    def handle(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            return super().handle(environ)
        except _Denied as denied:
            body = json.dumps({"message": str(denied)}).encode()
            return denied.status, [("Content-Type", "application/json")], body

    def _event(self, environ: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        event = super()._event(environ, **kwargs)
        entry = self.app.routes[kwargs["template"]][kwargs["method"]]
        if entry.authorizer is None:
            return event
        token = event["headers"].get("authorization")
        if not token:
            raise _Denied(401, "Unauthorized")
        arn = f"arn:aws:execute-api:{support.REGION}:{support.ACCOUNT}:api1/api/{kwargs['method']}{kwargs['path']}"
        try:
            answer = self.app.handler_map["authorizer"](events.token_event(token) | {"methodArn": arn}, None)
        except authorizer.Unauthorized as exc:
            raise _Denied(401, "Unauthorized") from exc
        if entry.api_key_required and not answer.get("usageIdentifierKey"):
            raise _Denied(403, "Forbidden")
        event["requestContext"]["authorizer"] = {**answer["context"], "principalId": answer["principalId"]}
        return event


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def deployment(moto_url: str) -> Iterator[dict[str, str]]:
    """The stack on the moto server and the environment the Lambdas would get."""
    with support.aws_env(AWS_ENDPOINT_URL=moto_url):
        config = support.create_stack(boto3.session.Session(region_name=support.REGION), PREFIX)
        env = {
            "SCHEDULER_BACKEND": "aws",
            "SCHEDULER_ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on loopback
            "SCHEDULER_TABLE_PREFIX": PREFIX,
            "SCHEDULER_RELEASE_QUEUE_URL": config.release_queue_url,
            "SCHEDULER_SCHEDULE_GROUP": config.schedule_group,
            "SCHEDULER_DELIVERY_FUNCTION_ARN": config.delivery_function_arn,
            "SCHEDULER_SCHEDULER_ROLE_ARN": config.scheduler_role_arn,
            "SCHEDULER_SCHEDULE_DLQ_ARN": config.schedule_dlq_arn,
            "SCHEDULER_KMS_KEY_ID": config.kms_key_id,
            "SCHEDULER_OPERATOR_KEY_HASH": config.operator_key_hash or "",
            "SCHEDULER_USAGE_PLAN_IDS": json.dumps(dict(config.usage_plan_ids)),
        }
        with support.aws_env(AWS_ENDPOINT_URL=moto_url, **env):
            _forget()
            try:
                yield env
            finally:
                _forget()


def _forget() -> None:
    get_settings.cache_clear()
    bootstrap.install(None)


def test_schedule_over_http_and_deliver_through_the_release_queue(deployment: dict[str, str]) -> None:
    from app import app

    with Receiver() as receiver, Server(ApiGateway(app), port=0, threads=4) as server:
        http = httpx.Client(base_url=server.url, timeout=10.0, trust_env=False)
        assert http.get("/apps").status_code == 401  # the gateway: no token
        operator = {"Authorization": f"Bearer {support.OPERATOR_KEY}"}
        tenant = http.post("/tenants", json={"name": "acme", "plan": "pro"}, headers=operator)
        assert tenant.status_code == 201, tenant.text
        admin = {"Authorization": f"Bearer {tenant.json()['adminKey']}"}
        app_body = {"name": "hooks", "url": f"http://127.0.0.1:{receiver.port}/ok", "headers": {"x-env": "fn"}}
        created_app = http.post("/apps", json=app_body, headers=admin)
        assert created_app.status_code == 201, created_app.text
        assert http.get("/tenants", headers=admin).status_code == 404  # a tenant is not the operator
        key = http.post("/keys", json={"name": "r", "scopes": ["read"]}, headers=admin).json()["key"]
        reader = {"Authorization": f"Bearer {key}"}
        assert http.post("/messages", json={"appId": "x", "payload": 1}, headers=reader).status_code == 403
        scheduled = http.post(
            "/messages",
            json={"appId": created_app.json()["id"], "payload": {"hello": "aws"}, "delaySeconds": 1},
            headers=admin,
        )
        assert scheduled.status_code == 201, scheduled.text
        message = scheduled.json()

        received = _receive_release_messages(deployment["SCHEDULER_RELEASE_QUEUE_URL"])
        assert json.loads(received[0]["Body"])["messageId"] == message["id"]
        result = Client(app).lambda_.invoke("deliver", events.sqs_event_from(received))
        assert result.payload == {"batchItemFailures": []}

        [delivery] = receiver.state.records
        secret = created_app.json()["signingSecret"]
        assert Webhook(secret).verify(delivery.body, delivery.headers) == {"hello": "aws"}
        assert delivery.headers["x-env"] == "fn" and delivery.headers["webhook-id"] == message["id"]
        done = http.get(f"/messages/{message['id']}", headers=reader).json()
        assert done["status"] == "delivered" and 0 <= done["lateMs"] < 5_000
        [attempt] = http.get(f"/messages/{message['id']}/attempts", headers=reader).json()["items"]
        assert attempt["statusCode"] == 200
        _meter(Client(app))  # the stream's event source mapping runs the meter Lambda
        days = http.get("/usage", headers=reader).json()["items"]
        assert [(d["scheduled"], d["delivered"], d["attempts"]) for d in days if d["scheduled"]] == [(1, 1, 1)]


def _meter(lambdas: Client) -> None:
    """What the meter's mapping does on AWS: the messages stream's new records to the meter Lambda."""
    from awslocal.streams import StreamPoller
    from chalicelib.adapters.aws import meter

    arn = boto3.client("dynamodb").describe_table(TableName=f"{PREFIX}-messages")["Table"]["LatestStreamArn"]
    poller = StreamPoller(
        boto3.client("dynamodbstreams"),
        arn,
        lambda event: lambdas.lambda_.invoke("meter", event),
        filters=meter.FILTERS,
        batch_size=meter.BATCH_SIZE,
    )
    assert poller.poll(max_failures=1) == 3  # the message stored, its attempt, its delivery


def _receive_release_messages(queue_url: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """What the event source mapping would receive from the release queue once the delay is over."""
    sqs = boto3.client("sqs", region_name=support.REGION)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            return list(messages)
    raise AssertionError("no release message arrived")
