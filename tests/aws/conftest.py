"""Fixtures for the AWS backend under moto: the stack, a runtime on a settable clock with a fake HTTP
sender, installed as the process's runtime and context, and Chalice's test client on the real app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.model import Principal
from chalicelib.domain.schemas import AppCreate, TenantCreate
from chalicelib.services import accounts, apps
from tests.aws import support
from tests.aws.faults import Faults
from tests.support.doubles import SettableClock


@dataclass
class FakeSender:
    """Answers every delivery with `status` (per URL when set), taking `duration_ms` on the clock."""

    clock: SettableClock
    status: int | None = 200
    by_url: dict[str, int | None] = field(default_factory=dict)
    duration_ms: int = 5
    sent: list[DeliveryRequest] = field(default_factory=list)

    def __call__(self, request: DeliveryRequest) -> AttemptOutcome:
        self.sent.append(request)
        started = self.clock.now_ms()
        self.clock.advance(self.duration_ms)
        status = self.by_url.get(request.url, self.status)
        ok = status is not None and 200 <= status < 300
        error = None if ok else ("timeout" if status is None else f"http_status: {status}")
        return AttemptOutcome(started, self.duration_ms, status, error, "ok" if ok else "nope", None)


@pytest.fixture
def aws() -> Iterator[boto3.session.Session]:
    """moto for every AWS service, fake credentials, one session."""
    with support.aws_env(), mock_aws():
        yield support.session()


@pytest.fixture
def faults(aws: boto3.session.Session) -> Faults:
    """Planned AWS failures on the session (registered before any runtime client exists)."""
    return Faults(aws)


@pytest.fixture
def config(aws: boto3.session.Session) -> AwsConfig:
    """A deployment's resources, created from the table specs."""
    return support.create_stack(aws)


@pytest.fixture
def clock() -> SettableClock:
    """The runtime's clock."""
    return SettableClock()


@pytest.fixture
def sender(clock: SettableClock) -> FakeSender:
    """The delivery Lambda's HTTP sender."""
    return FakeSender(clock)


@pytest.fixture
def runtime(
    aws: boto3.session.Session, config: AwsConfig, clock: SettableClock, sender: FakeSender, faults: Faults
) -> Iterator[AwsRuntime]:
    """The AWS runtime on moto, installed for the app's handlers and routes."""
    built = support.runtime(aws, config, clock=clock, send=sender, sleep=support.clock_sleep(clock))
    bootstrap.install(built)
    yield built
    bootstrap.install(None)


@pytest.fixture
def lambdas(runtime: AwsRuntime) -> Iterator[Client]:
    """Chalice's test client on the real app (its `lambda_.invoke` runs the handlers)."""
    from app import app

    with Client(app) as client:
        yield client


@dataclass
class Tenant:
    """A tenant made through the services, with an app."""

    principal: Principal
    token: str
    app_id: str


@pytest.fixture
def tenant(runtime: AwsRuntime) -> Tenant:
    """Tenant `acme` (plan unlimited) with one app."""
    ctx = runtime.context
    _, token = accounts.create_tenant(ctx, TenantCreate(name="acme", plan="unlimited"))
    principal = accounts.authenticate(ctx, token)
    app = apps.create_app(
        ctx, principal, AppCreate(name="hooks", url="https://example.com/hook", headers={"x-env": "test"})
    )
    return Tenant(principal, token, app.id)
