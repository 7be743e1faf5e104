"""Claiming ahead (`DeliveryRunner.claim_ahead`): what is due within the window is claimed before its
time, but holds no in-flight slot until admitted, so a tenant's fair share counts what it sends."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.model import Message, Status
from chalicelib.ports import Admission, Lease
from chalicelib.services.fairness import CLAIM_FLOOR, FairShareLimiter
from chalicelib.services.runner import DeliveryRunner
from tests.support.doubles import SettableClock


class DueQueue:
    """A `DeliveryQueue` stand-in: claims scheduled messages due by the time asked, earliest first."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.asked: list[tuple[int, int]] = []

    def claim_due(self, now_ms: int, admission: Admission, *, lease_until: int) -> list[Lease]:
        self.asked.append((now_ms, lease_until))
        due = sorted((m for m in self.messages if m.due_at <= now_ms), key=lambda m: m.due_at)[: admission.limit]
        for m in due:
            self.messages.remove(m)
        return [Lease(m, "{}", None, lease_until) for m in due]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the runner called {name}")


def message(n: int, due_at: int, tenant: str = "ten_a") -> Message:
    return Message(f"msg_{n}", tenant, "app_a", Status.SCHEDULED, due_at, due_at, 0, 8)


def test_what_comes_due_within_the_window_is_claimed_but_not_in_flight_until_admitted() -> None:
    clock = SettableClock(1_000_000)
    now = clock.now_ms()
    queue = DueQueue([message(1, now - 5), message(2, now + 10), message(3, now + 20), message(4, now + 21)])
    limiter = FairShareLimiter(512, per_tenant=32, per_app=64)
    runner = DeliveryRunner(queue, clock, lease_ms=60_000, limiter=limiter)  # type: ignore[arg-type]
    due, ahead = runner.claim_ahead(20)
    assert [lease.message.id for lease in due] == ["msg_1"]
    assert [lease.message.id for lease in ahead] == ["msg_2", "msg_3"]  # msg_4 is 21 ms away: not yet
    assert queue.asked == [(now + 20, now + 20 + 60_000)]  # the lease covers the wait too
    assert limiter._total == 1  # only the due one is in flight
    runner.admit(ahead)
    assert limiter._total == 3


def test_leases_waiting_for_their_time_do_not_use_up_the_tenants_share() -> None:
    clock = SettableClock(1_000_000)
    now = clock.now_ms()
    queue = DueQueue([message(n, now + 1 + n % 19) for n in range(100)])  # 100 due within 20 ms
    limiter = FairShareLimiter(512, per_tenant=32, per_app=64)
    runner = DeliveryRunner(queue, clock, lease_ms=60_000, limiter=limiter, max_waiting=200)  # type: ignore[arg-type]
    claimed = [runner.claim_ahead(20) for _ in range(4)]  # a claim takes up to the tenant's cap of 32
    assert [(len(due), len(ahead)) for due, ahead in claimed] == [(0, 32), (0, 32), (0, 32), (0, 4)]
    assert not limiter.admission(256).excluded_tenants  # none is in flight yet: none is held back


def test_a_burst_due_at_one_instant_is_claimed_ahead_only_up_to_the_waiting_bound() -> None:
    clock = SettableClock(1_000_000)
    now = clock.now_ms()
    queue = DueQueue([message(n, now + 10) for n in range(200)])  # all due at one instant
    limiter = FairShareLimiter(512, per_tenant=32, per_app=64)
    runner = DeliveryRunner(queue, clock, lease_ms=60_000, limiter=limiter, max_waiting=40)  # type: ignore[arg-type]
    waiting = [lease for _ in range(10) for lease in runner.claim_ahead(20)[1]]
    assert len(waiting) == 64  # two claims of 32, then the bound holds: nothing more until they are admitted
    assert queue.asked[-1][0] == now  # past the bound it claims only what is due now
    runner.admit(waiting[:30])
    # room again, within the tenant's share, where the 30 admitted now count (the claim floor of 8)
    assert len(runner.claim_ahead(20)[1]) == CLAIM_FLOOR
