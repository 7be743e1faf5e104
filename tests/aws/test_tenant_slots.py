"""The per-tenant cap on deliveries in flight on AWS (issue 13): a tenant at its cap is re-queued, so its
hung endpoints cannot hold the release queue's whole concurrency."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.slots import TenantSlots
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.model import Status
from chalicelib.services import messages
from tests.aws import events
from tests.aws.conftest import Tenant
from tests.aws.test_lambdas import captured, release_body, schedule
from tests.support.doubles import SettableClock


def slots(runtime: AwsRuntime, cap: int) -> TenantSlots:
    return TenantSlots(runtime.clients.get("dynamodb"), runtime.config.table(tables.USAGE), cap)


def test_at_most_cap_leases_and_an_expired_one_is_free_again(runtime: AwsRuntime, clock: SettableClock) -> None:
    two = slots(runtime, 2)
    now = clock.now_ms()
    first = two.take("t1", "a", now_ms=now, lease_until=now + 1_000)
    second = two.take("t1", "b", now_ms=now, lease_until=now + 1_000)
    assert first is not None and second is not None and first != second
    assert two.take("t1", "c", now_ms=now, lease_until=now + 1_000) is None
    assert two.take("t2", "d", now_ms=now, lease_until=now + 1_000) is not None  # another tenant's own slots
    two.give_back("t1", first, "not-the-owner")  # left alone
    assert two.take("t1", "c", now_ms=now, lease_until=now + 1_000) is None
    two.give_back("t1", first, "a")
    assert two.take("t1", "c", now_ms=now, lease_until=now + 1_000) == first
    later = now + 1_001  # a crashed holder's lease runs out: its slot is free again
    assert two.take("t1", "e", now_ms=later, lease_until=later + 1_000) is not None


def test_a_tenant_at_its_cap_is_requeued_and_delivered_once_a_slot_frees(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    cap = runtime.settings.per_tenant_concurrency
    held = slots(runtime, cap)
    now = clock.now_ms()
    taken = [
        held.take(tenant.principal.tenant_id, f"hung{n}", now_ms=now, lease_until=now + 60_000) for n in range(cap)
    ]
    assert None not in taken
    message = schedule(runtime, tenant, delaySeconds=0).message
    sends: list[dict[str, Any]] = captured(runtime, "sqs", "SendMessage")
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    waiting = messages.get(runtime.context, tenant.principal, message.id)
    assert waiting.status is Status.SCHEDULED and waiting.attempts == 0 and waiting.gen == message.gen
    [deferred] = sends
    assert json.loads(deferred["MessageBody"])["messageId"] == message.id and 2 <= deferred["DelaySeconds"] <= 4
    held.give_back(tenant.principal.tenant_id, str(taken[0]), "hung0")
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    done = messages.get(runtime.context, tenant.principal, message.id)
    assert done.status is Status.DELIVERED
    assert held.take(tenant.principal.tenant_id, "next", now_ms=now, lease_until=now + 1) is not None  # given back
