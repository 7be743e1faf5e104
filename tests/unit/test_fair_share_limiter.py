"""`FairShareLimiter`: no tenant (and no app of a tenant) can take the delivery pool (issue 13: 9 apps
x 64 in flight beat the 512 slots, and a quiet tenant's deliveries came 6.5-8.5 s late)."""

from __future__ import annotations

import itertools

from chalicelib.domain.model import Message, Status
from chalicelib.ports import Lease
from chalicelib.services.fairness import CLAIM_FLOOR, FairShareLimiter
from chalicelib.services.inflight import InFlightLimiter

_ids = itertools.count()


def message(tenant: str, app: str) -> Message:
    return Message(f"msg_{next(_ids)}", tenant, app, Status.DELIVERING, 0, 0, 0, 8)


def leases(messages: list[Message]) -> list[Lease]:
    return [Lease(m, "{}", None, 0) for m in messages]


def claim_all(limiter: InFlightLimiter, backlog: list[Message], rounds: int = 200) -> list[Message]:
    """What a dispatcher claims from an earliest-first backlog, honouring each admission (no releases)."""
    claimed: list[Message] = []
    for _ in range(rounds):
        admission = limiter.admission(256)
        if admission.limit <= 0:
            break
        take = [
            m
            for m in backlog
            if m.tenant_id not in admission.excluded_tenants and m.app_id not in admission.excluded_apps
        ][: admission.limit]
        if not take:
            break
        for m in take:
            backlog.remove(m)
        limiter.acquire(leases(take))
        claimed.extend(take)
    return claimed


def test_a_tenant_with_many_hanging_apps_stays_under_its_cap_and_leaves_room() -> None:
    limiter = FairShareLimiter(512, per_tenant=128, per_app=64)
    noisy = [message("noisy", f"app{n % 40}") for n in range(5_000)]
    claim_all(limiter, noisy)
    assert 100 <= limiter.in_flight_of("noisy") < 128 + CLAIM_FLOOR
    admission = limiter.admission(256)
    assert "quiet" not in admission.excluded_tenants and admission.limit >= 1  # quiet is claimed at once
    noisy_apps = {f"app{n}" for n in range(40)}
    assert "noisy" in admission.excluded_tenants or noisy_apps <= set(admission.excluded_apps)


def test_the_apps_of_a_busy_tenant_share_its_cap() -> None:
    limiter = FairShareLimiter(512, per_tenant=128, per_app=64)
    claim_all(limiter, [message("t", f"hang{n % 20}") for n in range(2_000)])
    assert limiter.in_flight_of("t") <= 128  # 20 apps x (128 // 21) each: the app shares keep room
    admission = limiter.admission(256)
    assert "t" not in admission.excluded_tenants
    assert {f"hang{n}" for n in range(20)} <= set(admission.excluded_apps)
    assert "healthy" not in admission.excluded_apps  # the tenant's one healthy app is claimed at once


def test_shares_shrink_with_busy_tenants_but_a_newcomer_always_gets_in() -> None:
    limiter = FairShareLimiter(512, per_tenant=128, per_app=64)
    backlog = [message(f"t{n % 12}", f"a{n % 12}-{n % 5}") for n in range(20_000)]
    claim_all(limiter, backlog)
    assert limiter.in_flight < 512
    assert max(limiter.in_flight_of(f"t{n}") for n in range(12)) <= 512 // 12 + CLAIM_FLOOR
    admission = limiter.admission(256)
    assert admission.limit >= 1 and "newcomer" not in admission.excluded_tenants


def test_release_says_when_an_excluded_tenant_may_be_claimed_again() -> None:
    limiter = FairShareLimiter(16, per_tenant=4, per_app=4)
    held = [message("a", "x") for _ in range(4)]
    limiter.acquire(leases(held))
    assert "a" in limiter.admission(16).excluded_tenants
    assert limiter.release(held[:1]) is True
    other = [message("b", "y")]
    limiter.acquire(leases(other))
    limiter.admission(16)  # nothing excluded now
    assert limiter.release(other) is False
    assert limiter.in_flight == 3
