"""The init-phase build on the AWS runtime (moto): each function's components and clients are made
before its first invocation, with no AWS call; the invocation then uses them (issue 10 item 7)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import warmup
from chalicelib.adapters.aws.wiring import SERVICES, AwsRuntime, Clients
from tests.aws import events

# handler -> (the component it builds, the clients that makes)
BUILDS = {
    "app.app": ("context", {"dynamodb", "sqs", "scheduler", "kms", "apigateway"}),
    "chalicelib.authorizer.authorizer": ("authority", {"dynamodb"}),
    "chalicelib.triggers.deliver": ("worker", {"dynamodb", "sqs", "scheduler", "kms"}),
    "chalicelib.triggers.cleanup": ("cleanup", {"dynamodb", "sqs", "scheduler", "apigateway"}),  # opens no secret
    "chalicelib.triggers.post_confirmation": ("provisioner", {"dynamodb", "apigateway"}),
    "chalicelib.triggers.meter": ("meter", {"dynamodb"}),
}


def sends(session: boto3.session.Session) -> list[str]:
    """The URL of every request the session's clients send from now on."""
    sent: list[str] = []
    session.events.register("before-send", lambda request, **_: sent.append(request.url))
    return sent


def test_the_table_covers_every_warmed_handler() -> None:
    assert set(BUILDS) == set(warmup.WARM)


@pytest.mark.parametrize("handler", sorted(BUILDS))
def test_warm_builds_what_the_function_uses_and_calls_nothing(
    handler: str, runtime: AwsRuntime, aws: boto3.session.Session
) -> None:
    component, clients = BUILDS[handler]
    sent = sends(aws)
    warmup.warm(handler)
    assert component in vars(runtime)  # a cached property, built
    assert set(runtime.clients._made) == clients
    assert sent == []


def test_a_warmed_function_then_calls_aws_on_its_first_invocation(
    runtime: AwsRuntime, aws: boto3.session.Session, lambdas: Client
) -> None:
    sent = sends(aws)
    warmup.warm("chalicelib.triggers.cleanup")
    assert sent == []
    result: Any = lambdas.lambda_.invoke("cleanup", events.scheduled_event())
    assert "errors" in result.payload
    assert sent  # the hook sees the calls the invocation makes


def test_a_client_of_a_service_the_package_has_no_model_for_is_refused() -> None:
    assert "s3" not in SERVICES
    with pytest.raises(ValueError, match="SERVICES"):
        Clients().get("s3")
