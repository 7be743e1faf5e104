"""Each function's boto3 calls, recorded under moto while its code runs, are granted to its role in
terraform/iam.tf; and each grant is used by some recorded call or says why not (least privilege both
ways). The functions run as on AWS: the Lambda handlers through Chalice's test client, the API
function's routes through the service layer it calls (API Gateway's authorizer is not emulated)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.model import Principal, Scope, Status
from chalicelib.domain.schemas import AppCreate, AppPatch, KeyCreate, TenantCreate
from chalicelib.domain.times import format_ms
from chalicelib.ports import MessageQuery
from chalicelib.services import accounts, apps, messages, schedules, usage
from tests.aws import events, support
from tests.aws import faults as fault
from tests.aws.faults import Faults
from tests.support.doubles import SettableClock
from tests.terraform.iam import CallMapper, Grant, allowed, function_grants

# Grants no recorded call uses, and why they are still needed.
NOT_CALLED_BY_OUR_CODE: dict[str, dict[Grant, str]] = {
    "*": {
        ("logs:CreateLogStream", "logs/own"): "the Lambda runtime writes the function's logs",
        ("logs:PutLogEvents", "logs/own"): "the Lambda runtime writes the function's logs",
        ("xray:PutTraceSegments", "*"): "the X-Ray daemon sends the traces (tracing is active)",
        ("xray:PutTelemetryRecords", "*"): "the X-Ray daemon sends the traces (tracing is active)",
    },
    "deliver": {
        ("sqs:ReceiveMessage", "queue/release"): "the event source mapping polls with the function's role",
        ("sqs:DeleteMessage", "queue/release"): "the event source mapping deletes what the batch delivered",
        ("sqs:GetQueueAttributes", "queue/release"): "the event source mapping reads the queue",
        ("sqs:SendMessage", "queue/schedule_dlq"): "Lambda dead-letters failed asynchronous invocations",
    },
    "api_handler": {
        ("dynamodb:DeleteItem", "table/keys"): "put_key replaces a key item when its token hash changes",
    },
    "meter": {
        ("dynamodb:ListStreams", "table/messages/stream/*"): "the event source mapping finds the table's stream",
    },
}


@dataclass
class Recorder:
    """Every boto3 call made while `phase` is set, as grants, by phase (a `provide-client-params`
    handler: it sees each call's parameters as the code passed them)."""

    mapper: CallMapper | None = None
    phase: str | None = None
    calls: dict[str, set[Grant]] = field(default_factory=dict)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self.phase is None or self.mapper is None:
            return
        grants = self.mapper.grants(model.service_model.service_name, model.name, params)
        self.calls.setdefault(self.phase, set()).update(grants)


@dataclass
class Sender:
    """Answers deliveries with `status` (and `retry_after_s`) at once."""

    clock: SettableClock
    status: int = 200
    retry_after_s: float | None = None

    def __call__(self, request: DeliveryRequest) -> AttemptOutcome:
        ok = 200 <= self.status < 300
        return AttemptOutcome(
            self.clock.now_ms(), 5, self.status, None if ok else f"http_status: {self.status}", "", self.retry_after_s
        )


@dataclass
class World:
    runtime: AwsRuntime
    config: AwsConfig
    clock: SettableClock
    sender: Sender
    recorder: Recorder
    lambdas: Client
    session: boto3.session.Session
    faults: Faults


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    recorder = Recorder()
    with support.aws_env(), mock_aws():
        session = support.session()
        session.events.register("provide-client-params", recorder)
        faults = Faults(session)
        config = support.create_stack(session)
        sqs = session.client("sqs")
        queues = {config.release_queue_url: "release"}
        dlq = sqs.get_queue_url(QueueName=f"{support.PREFIX}-release-dlq")["QueueUrl"]
        queues[dlq] = "release_dlq"
        recorder.mapper = CallMapper(config.table_prefix, config.schedule_group, config.scheduler_role_arn, queues)
        clock = SettableClock()
        sender = Sender(clock)
        runtime = support.runtime(
            session, config, clock=clock, send=sender, sleep=support.clock_sleep(clock), meter_on_read=False
        )
        bootstrap.install(runtime)
        from app import app

        with Client(app) as lambdas:
            yield World(runtime, config, clock, sender, recorder, lambdas, session, faults)
        bootstrap.install(None)


@dataclass
class Made:
    principal: Principal
    token: str
    app_id: str
    near: list[str]
    far: list[str]
    recurring: list[str]


def _ids(results: list[Any]) -> list[str]:
    return [r.message.id for r in results]


@pytest.fixture(scope="module")
def made(world: World) -> Made:
    """The API function's work (recorded as `api_handler`): every route's service call."""
    ctx = world.runtime.context
    world.recorder.phase = "api_handler"
    tenant, token = accounts.create_tenant(ctx, TenantCreate(name="acme", plan="free"))
    principal = Principal(tenant.id, "free", frozenset({Scope.ADMIN}), None)
    accounts.list_tenants(ctx, cursor=None, limit=10)
    key, _ = accounts.create_key(ctx, principal, KeyCreate(name="ci", scopes=["send"]))
    accounts.list_keys(ctx, principal)
    accounts.revoke_key(ctx, principal, key.id)
    app = apps.create_app(ctx, principal, AppCreate(name="hooks", url="https://example.com/h", headers={"x-env": "t"}))
    apps.get_app(ctx, principal, app.id)
    apps.list_apps(ctx, principal, cursor=None, limit=10)
    apps.update_app(ctx, principal, app.id, AppPatch(name="hooks-2"))
    apps.rotate_secret(ctx, principal, app.id)
    near = _ids(
        messages.schedule(ctx, principal, [{"appId": app.id, "payload": {"n": i}, "delaySeconds": 0} for i in range(3)])
    )
    far = _ids(
        messages.schedule(
            ctx,
            principal,
            [
                {"appId": app.id, "payload": {"far": 1}, "delaySeconds": 7200, "idempotencyKey": "far-1"},
                {"appId": app.id, "payload": {"far": 2}, "delaySeconds": 9000},
            ],
        )
    )
    messages.schedule(
        ctx, principal, [{"appId": app.id, "payload": {"far": 1}, "delaySeconds": 7200, "idempotencyKey": "far-1"}]
    )
    messages.list_messages(ctx, principal, MessageQuery(), cursor=None, limit=10)
    messages.list_messages(ctx, principal, MessageQuery(status=Status.CANCELLED), cursor=None, limit=10)
    messages.get(ctx, principal, far[0])
    messages.get_payload(ctx, principal, far[0])
    changed = messages.change(ctx, principal, far[0], {"payload": {"far": "changed"}}, "*")
    messages.cancel(ctx, principal, changed.id)
    messages.redrive(ctx, principal, changed.id, None)
    messages.attempts(ctx, principal, near[0])
    messages.recent_attempts(ctx, principal, app_id=None, after=None, limit=10)
    usage.usage(ctx, principal, first=None, last=None)
    other = apps.create_app(ctx, principal, AppCreate(name="gone", url="https://example.com/g"))
    gone = _ids(messages.schedule(ctx, principal, [{"appId": other.id, "payload": {}, "delaySeconds": 0}]))
    recurring = _recurring(ctx, principal, app.id)
    world.recorder.phase = None
    return Made(principal, token, app.id, near + gone, far, recurring)


def _recurring(ctx: Any, principal: Principal, app_id: str) -> list[str]:
    """The /schedules routes: a native and a chained schedule that stay, one changed, paused, resumed, deleted."""
    native = schedules.create(
        ctx, principal, {"appId": app_id, "payload": {}, "cron": "*/5 * * * *", "missedRuns": "all"}
    )
    chained = schedules.create(ctx, principal, {"appId": app_id, "payload": {}, "every": "15m30s"})
    gone = schedules.create(ctx, principal, {"appId": app_id, "payload": {}, "every": "1h"})
    schedules.get(ctx, principal, gone.id)
    schedules.list_schedules(ctx, principal, cursor=None, limit=10)
    changed = schedules.update(ctx, principal, gone.id, {"every": "2h"}, gone.etag)
    schedules.pause(ctx, principal, changed.id)
    schedules.resume(ctx, principal, changed.id)
    schedules.delete(ctx, principal, changed.id)
    return [native.id, chained.id, changed.id]


def release(world: World, message_id: str, tenant_id: str) -> str:
    message = world.runtime.messages.get_message(tenant_id, message_id)
    assert message is not None
    return json.dumps({"tenantId": tenant_id, "messageId": message.id, "gen": message.gen, "dueAt": message.due_at})


@pytest.fixture(scope="module")
def ran(world: World, made: Made) -> dict[str, set[Grant]]:
    """Every other function, through its Lambda handler."""
    tenant = made.principal.tenant_id
    invoke = world.lambdas.lambda_.invoke

    world.recorder.phase = "authorizer"
    invoke("authorizer", events.token_event(made.token))

    world.recorder.phase = "api_handler"
    apps.delete_app(world.runtime.context, made.principal, _app_of(world, tenant, made.near[-1]))
    bodies = [release(world, m, tenant) for m in made.near]
    world.recorder.phase = "deliver"
    invoke("deliver", events.sqs_event(bodies[:1]))  # delivered
    world.sender.status = 503
    invoke("deliver", events.sqs_event(bodies[1:2]))  # short retry: the release queue
    world.sender.retry_after_s = 6 * 3600
    invoke("deliver", events.sqs_event(bodies[2:3]))  # long retry (Retry-After): a schedule
    invoke("deliver", events.sqs_event(bodies[3:]))  # its app is gone: failed without an attempt
    far = world.runtime.messages.get_message(tenant, made.far[1])
    assert far is not None
    invoke("deliver", {"tenantId": tenant, "messageId": far.id, "gen": far.gen, "dueAt": far.due_at})  # schedule fired
    _fire_recurring(world, tenant, made.recurring)

    world.recorder.phase = None
    stale = timing.schedule_name("msg_01J0000000000000000000ZZZZ", 1)
    world.session.client("scheduler").create_schedule(
        Name=stale,
        GroupName=world.config.schedule_group,
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": world.config.delivery_function_arn, "RoleArn": world.config.scheduler_role_arn},
    )
    lost = world.runtime.messages.get_message(tenant, made.far[1])
    assert lost is not None
    world.runtime.messages.set_wake(lost, world.clock.now_ms())  # its arming "failed"
    world.clock.advance(3600_000)  # the 503'd message's lease has long expired if it was claimed again
    world.recorder.phase = "cleanup"
    invoke("cleanup", events.scheduled_event("2027-01-15T08:05:00Z"))

    world.recorder.phase = "post_confirmation"
    invoke("post_confirmation", events.post_confirmation("0f6c2a4e-1111-4222-8333-944455556666"))
    # a burst: API Gateway throttles the next sign-up's key, which cleanup makes on its next run
    world.faults.fail("apigateway", "CreateApiKey", fault.aws_error("TooManyRequestsException"))
    invoke("post_confirmation", events.post_confirmation("1a7d3b5f-2222-4333-8444-a55566667777"))
    world.recorder.phase = "cleanup"
    invoke("cleanup", events.scheduled_event("2027-01-15T08:06:00Z"))

    world.recorder.phase = None
    mapping = support.meter_poller(world.session, world.config, world.runtime, lambda e: invoke("meter", e))
    world.recorder.phase = "meter"  # the stream's mapping (with the meter's role) and the meter itself
    mapping.poll(max_failures=1)
    world.recorder.phase = None
    return world.recorder.calls


def _fire_recurring(world: World, tenant: str, recurring: list[str]) -> None:
    """A native firing and a chained run of the recurring schedules (recorded as `deliver`), then the
    native one's timer lost: cleanup's repair pass (recorded as `cleanup` with the next run)."""
    native, chained = (world.runtime.schedules.get_schedule(tenant, sid) for sid in recurring[:2])
    assert native is not None and chained is not None and chained.next_run_at is not None
    body = {"kind": "run", "tenantId": tenant, "scheduleId": chained.id, "runAt": chained.next_run_at, "chain": True}
    world.clock.set(chained.next_run_at - 5_000)
    world.lambdas.lambda_.invoke("deliver", events.sqs_event([json.dumps(body)]))  # the next: a one-time schedule
    native = world.runtime.schedules.get_schedule(tenant, native.id)
    assert native is not None and native.next_run_at is not None
    world.clock.set(max(world.clock.now_ms(), native.next_run_at - 5_000))
    scheduled = format_ms(native.next_run_at - 60_000).replace(".000", "")
    firing = {"kind": "run", "tenantId": tenant, "scheduleId": native.id, "scheduledTime": scheduled, "aheadMs": 60_000}
    world.lambdas.lambda_.invoke("deliver", firing)
    deleted = {**firing, "scheduleId": recurring[2]}
    world.lambdas.lambda_.invoke("deliver", deleted)  # a deleted schedule's firing deletes its schedule
    world.recorder.phase = None
    group = world.config.schedule_group
    world.session.client("scheduler").delete_schedule(Name=f"r-{native.id[4:]}", GroupName=group)  # lost: the
    # cleanup run below (an hour on) finds the schedule overdue, creates its runs and arms it again


def _app_of(world: World, tenant: str, message_id: str) -> str:
    message = world.runtime.messages.get_message(tenant, message_id)
    assert message is not None
    return message.app_id


FUNCTIONS = ["api_handler", "authorizer", "deliver", "cleanup", "post_confirmation", "meter"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_call_of_the_function_is_granted_to_its_role(name: str, ran: dict[str, set[Grant]]) -> None:
    calls = ran.get(name, set())
    assert calls, f"{name} made no AWS call: did the scenario run?"
    grants = function_grants(name)
    denied = sorted(call for call in calls if not allowed(call, grants))
    assert not denied, f"{name} would be denied: {denied}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_grant_of_the_function_is_used_or_explained(name: str, ran: dict[str, set[Grant]]) -> None:
    calls = ran.get(name, set())
    explained = {**NOT_CALLED_BY_OUR_CODE["*"], **NOT_CALLED_BY_OUR_CODE.get(name, {})}
    unused = sorted(g for g in function_grants(name) if g not in explained and not allowed_by_any(g, calls))
    assert not unused, f"{name} is granted what it never called: {unused}"


def allowed_by_any(grant: Grant, calls: set[Grant]) -> bool:
    """Whether some concrete call falls under this grant."""
    return any(allowed(call, {grant}) for call in calls)


def test_the_scenarios_reach_every_kind_of_call(ran: dict[str, set[Grant]]) -> None:
    """Guards the scenarios themselves: each path worth checking was taken."""
    assert any(a == "scheduler:CreateSchedule" for a, _ in ran["deliver"])  # a long retry
    assert any(a == "scheduler:DeleteSchedule" for a, _ in ran["cleanup"])  # a stale schedule swept
    assert any(a == "kms:Decrypt" for a, _ in ran["deliver"])
    assert any(a == "kms:GenerateDataKey" for a, _ in ran["api_handler"])
    assert any(a == "apigateway:POST" for a, _ in ran["post_confirmation"])
    assert any(a == "apigateway:POST" for a, _ in ran["api_handler"])  # operator-made tenant's usage key
    assert any(a == "apigateway:POST" for a, _ in ran["cleanup"])  # a throttled sign-up's key, made later
    assert ("dynamodb:PutItem", "table/usage") in ran["meter"]  # a ledger, in a transaction with counters
    assert ("dynamodb:GetRecords", "table/messages/stream/*") in ran["meter"]
