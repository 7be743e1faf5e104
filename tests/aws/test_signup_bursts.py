"""A burst of sign-ups survives API Gateway's CreateApiKey limit (5 requests/s per account, not
adjustable: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): a sign-up whose
key is throttled still succeeds, and cleanup makes the pending keys at most 4 a second."""

from __future__ import annotations

import dataclasses
import uuid

from chalice.test import Client

from chalicelib.adapters.aws.wiring import AwsRuntime
from tests.aws import events
from tests.aws import faults as fault
from tests.aws.faults import Faults
from tests.support.doubles import SettableClock

SIGN_UPS = 30


def keys(runtime: AwsRuntime) -> dict[str, bool]:
    """Tenant id -> whether it has its usage key."""
    found = {}
    for page in (
        runtime.clients.get("dynamodb").get_paginator("scan").paginate(TableName=runtime.config.table("tenants"))
    ):
        for item in page["Items"]:
            found[item["id"]["S"]] = "usageKey" in item
    return found


def test_a_burst_of_sign_ups_all_succeed_and_get_their_keys_from_cleanup(
    lambdas: Client, runtime: AwsRuntime, faults: Faults, clock: SettableClock
) -> None:
    faults.fail("apigateway", "CreateApiKey", fault.aws_error("TooManyRequestsException"), times=10**6, skip=5)
    subs = [str(uuid.UUID(int=n + 1)) for n in range(SIGN_UPS)]
    for sub in subs:
        event = events.post_confirmation(sub)
        assert lambdas.lambda_.invoke("post_confirmation", event).payload == event  # Cognito sees success
    assert sorted(keys(runtime)) == sorted(subs)
    assert sum(keys(runtime).values()) == 5
    assert len(runtime.tenants.key_pending(limit=100)) == SIGN_UPS - 5

    faults.clear()
    slept: list[float] = []
    cleanup = dataclasses.replace(runtime.cleanup, sleep=slept.append)
    report = cleanup.run(sweep_schedules=False)
    assert (report.keys_made, report.keys_failed) == (SIGN_UPS - 5, 0)
    assert sum(slept) >= (SIGN_UPS - 5) / 4  # never faster than 4 keys a second
    assert all(keys(runtime).values()) and runtime.tenants.key_pending(limit=100) == []
    plan = runtime.config.usage_plan_ids["free"]
    members = runtime.clients.get("apigateway").get_usage_plan_keys(usagePlanId=plan, limit=500)["items"]
    assert len(members) == SIGN_UPS


def test_a_key_still_throttled_in_cleanup_stays_pending_for_the_next_run(
    lambdas: Client, runtime: AwsRuntime, faults: Faults
) -> None:
    faults.fail("apigateway", "CreateApiKey", fault.aws_error("TooManyRequestsException"), times=2)
    sub = str(uuid.UUID(int=99))
    lambdas.lambda_.invoke("post_confirmation", events.post_confirmation(sub))
    cleanup = dataclasses.replace(runtime.cleanup, sleep=lambda s: None)
    assert (cleanup.run(sweep_schedules=False).keys_failed, keys(runtime)[sub]) == (1, False)
    assert (cleanup.run(sweep_schedules=False).keys_made, keys(runtime)[sub]) == (1, True)
