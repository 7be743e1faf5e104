"""EventBridge Scheduler and EventBridge rules, driven on the real clock.

`SchedulerDriver` reads the schedules the functions create in moto (moto stores them and never fires
them) and fires each one-time `at()` schedule the way EventBridge does: anywhere in the minute its
expression names (flexible window OFF; a seeded random offset of 0-60 s, plus up to the window when
FLEXIBLE), only if it still exists then, as an asynchronous invocation of its Lambda target with the
schedule's `Input` as the event. If the invocation cannot be made (unknown function), it retries with
backoff within the target's `RetryPolicy` and then sends the input to its `DeadLetterConfig` queue.
`ActionAfterCompletion=DELETE` deletes the schedule once it fired.

Recurring `cron(...)`/`rate(...)` schedules (awslocal/recurring.py) fire at each nominal time within the
minute after it, with `<aws.scheduler.scheduled-time>` in the `Input` replaced by that nominal time, as
EventBridge does; an UpdateSchedule is picked up on the next poll.

`RuleDriver` runs each `rate(...)` rule's targets with a Scheduled Event.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from awslocal import recurring
from awslocal.deployment import Deployment, Rule
from awslocal.lambdas import AsyncInvoker, LambdaFunction

log = logging.getLogger("awslocal.scheduler")

POLL_S = 2.0
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")


def fire_time(expression: str, window: dict[str, Any], rng: random.Random) -> float | None:
    """When a one-time schedule fires (Unix seconds), or None for other expressions."""
    match = _AT.fullmatch(expression)
    if match is None:
        return None
    year, month, day, hour, minute_of_hour, second = (int(g) for g in match.groups())
    at = datetime(year, month, day, hour, minute_of_hour, second, tzinfo=UTC).timestamp()
    minute = at - at % 60
    spread = 60.0
    if window.get("Mode") == "FLEXIBLE":
        spread += 60.0 * float(window.get("MaximumWindowInMinutes", 0))
    return max(at, minute + rng.uniform(0, spread))


@dataclass(order=True)
class _Pending:
    fire_at: float
    group: str
    name: str
    nominal: float | None = None  # recurring: the firing's scheduled time


@dataclass
class _Recurring:
    signature: str
    first_seen: float


class SchedulerDriver:
    """Fires the schedules of every group (see the module docstring)."""

    def __init__(
        self, scheduler: Any, sqs: Any, deployment: Deployment, functions: dict[str, LambdaFunction],
        invoker: AsyncInvoker, *, seed: int,
    ) -> None:  # fmt: skip
        self._scheduler = scheduler
        self._sqs = sqs
        self._deployment = deployment
        self._functions = functions
        self._invoker = invoker
        self._rng = random.Random(seed)  # noqa: S311 - jitter, seeded to be reproducible
        self._known: dict[tuple[str, str], float] = {}
        self._heap: list[_Pending] = []
        self._recurring: dict[tuple[str, str], _Recurring] = {}
        self._wake = asyncio.Event()
        self._firing: set[asyncio.Task[None]] = set()
        self.fired = 0

    async def run(self) -> None:
        """Watch and fire until cancelled."""
        log.info("scheduler: watching schedule groups, firing one-time schedules within their minute")
        firing = asyncio.create_task(self._fire_loop())
        try:
            while True:
                try:
                    await asyncio.to_thread(self._discover)
                except Exception:
                    log.exception("scheduler: could not list schedules")
                await asyncio.sleep(POLL_S)
        finally:
            firing.cancel()

    def _discover(self) -> None:
        seen: set[tuple[str, str]] = set()
        for group_page in self._scheduler.get_paginator("list_schedule_groups").paginate():
            for group in group_page.get("ScheduleGroups", []):
                for page in self._scheduler.get_paginator("list_schedules").paginate(GroupName=group["Name"]):
                    for entry in page.get("Schedules", []):
                        seen.add((group["Name"], entry["Name"]))
        for key in seen & self._recurring.keys():  # an UpdateSchedule keeps the name: look again
            detail = self._scheduler.get_schedule(GroupName=key[0], Name=key[1])
            if _signature(detail) != self._recurring[key].signature:
                self._arm_recurring(key, detail, time.time())
        for key in seen - self._known.keys():
            detail = self._scheduler.get_schedule(GroupName=key[0], Name=key[1])
            if detail.get("State", "ENABLED") != "ENABLED":
                continue
            if recurring.is_recurring(detail["ScheduleExpression"]):
                self._arm_recurring(key, detail, time.time())
                continue
            at = fire_time(detail["ScheduleExpression"], detail.get("FlexibleTimeWindow", {}), self._rng)
            if at is None:
                log.warning("scheduler: %s/%s: only at() schedules fire here", *key)
                at = float("inf")
            self._known[key] = at
            heapq.heappush(self._heap, _Pending(at, *key))
            self._wake.set()
        for gone in self._known.keys() - seen:
            del self._known[gone]
            self._recurring.pop(gone, None)

    def _arm_recurring(self, key: tuple[str, str], detail: dict[str, Any], after: float) -> None:
        known = self._recurring.get(key)
        first_seen = known.first_seen if known else time.time()
        self._recurring[key] = _Recurring(_signature(detail), first_seen)
        nominal = None
        if detail.get("State", "ENABLED") == "ENABLED":
            try:
                nominal = recurring.next_nominal(detail, after, first_seen)
            except ValueError:
                log.warning("scheduler: %s/%s: %s is not driven here", *key, detail["ScheduleExpression"])
        at = float("inf") if nominal is None else nominal + self._rng.uniform(0, 60.0)
        self._known[key] = at
        heapq.heappush(self._heap, _Pending(at, key[0], key[1], nominal))
        self._wake.set()

    async def _fire_loop(self) -> None:
        while True:
            if not self._heap or self._heap[0].fire_at == float("inf"):
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._heap[0].fire_at - time.time()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(delay, 5.0))
                continue
            pending = heapq.heappop(self._heap)
            if self._known.get((pending.group, pending.name)) == pending.fire_at:
                task = asyncio.create_task(self._fire(pending))
                self._firing.add(task)
                task.add_done_callback(self._firing.discard)

    async def _fire(self, pending: _Pending) -> None:
        try:
            detail = await asyncio.to_thread(self._scheduler.get_schedule, GroupName=pending.group, Name=pending.name)
        except self._scheduler.exceptions.ResourceNotFoundException:
            return  # deleted before it fired
        target = detail["Target"]
        text = target.get("Input")
        if pending.nominal is not None:
            text = recurring.fill_input(text, pending.nominal)
        event = _input(text)
        function = self._function_of(target["Arn"])
        await self._invoke_with_retries(target, pending, function, event)
        if pending.nominal is not None:
            key = (pending.group, pending.name)
            if key in self._recurring and self._known.get(key) == pending.fire_at:
                await asyncio.to_thread(self._arm_recurring, key, detail, pending.nominal)
            return
        if detail.get("ActionAfterCompletion") == "DELETE":
            with contextlib.suppress(self._scheduler.exceptions.ResourceNotFoundException):
                await asyncio.to_thread(self._scheduler.delete_schedule, GroupName=pending.group, Name=pending.name)

    async def _invoke_with_retries(
        self, target: dict[str, Any], pending: _Pending, function: LambdaFunction | None, event: Any
    ) -> None:
        """Scheduler's retry policy applies when the target cannot be invoked at all."""
        policy = target.get("RetryPolicy", {})
        attempts = 1 + int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
        started = time.time()
        for attempt in range(attempts):
            if function is not None:
                self._invoker.submit(function, event, source=f"schedule {pending.name}")
                self.fired += 1
                late_ms = (started - pending.fire_at) * 1000
                log.info("scheduler: fired %s/%s (%.0f ms after its fire time)", pending.group, pending.name, late_ms)
                return
            if time.time() - started + 2**attempt > max_age or attempt == attempts - 1:
                break
            await asyncio.sleep(min(2**attempt, 60))
        await self._dead_letter(target, pending, "the target function does not exist")

    def _function_of(self, arn: str) -> LambdaFunction | None:
        function = self._deployment.function_by_arn(arn)
        return None if function is None else self._functions.get(function.key)

    async def _dead_letter(self, target: dict[str, Any], pending: _Pending, reason: str) -> None:
        arn = target.get("DeadLetterConfig", {}).get("Arn")
        url = self._deployment.queues.get(arn or "")
        log.error("scheduler: %s/%s could not invoke %s: %s", pending.group, pending.name, target["Arn"], reason)
        if url is None:
            return
        attributes = {
            "ERROR_CODE": {"DataType": "String", "StringValue": "ResourceNotFoundException"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": reason},
            "EXECUTION_ID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
            "SCHEDULE_ARN": {"DataType": "String", "StringValue": f"schedule/{pending.group}/{pending.name}"},
            "TARGET_ARN": {"DataType": "String", "StringValue": target["Arn"]},
        }
        await asyncio.to_thread(
            self._sqs.send_message, QueueUrl=url, MessageBody=target.get("Input") or "{}", MessageAttributes=attributes
        )


def _signature(detail: dict[str, Any]) -> str:
    """What decides a recurring schedule's firings (a change re-arms it)."""
    fields = ("ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "EndDate", "State")
    return json.dumps([str(detail.get(f)) for f in fields] + [detail.get("Target", {}).get("Input")])


def _input(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


class RuleDriver:
    """Runs the targets of `rate(...)` rules every period, from one period after start."""

    def __init__(
        self, rule: Rule, functions: dict[str, LambdaFunction], invoker: AsyncInvoker, *, account: str, region: str
    ) -> None:
        self._rule = rule
        self._functions = functions
        self._invoker = invoker
        self._account = account
        self._region = region

    async def run(self) -> None:
        """Until cancelled."""
        log.info("rule %s: every %d s -> %s", self._rule.name, self._rule.every_s, ", ".join(self._rule.functions))
        next_at = time.time() + self._rule.every_s
        while True:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            now = datetime.now(UTC)
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self._account,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self._region,
                "resources": [self._rule.arn],
                "detail": {},
            }
            for key in self._rule.functions:
                if key in self._functions:
                    self._invoker.submit(self._functions[key], event, source=f"rule {self._rule.name}")
            next_at += self._rule.every_s
