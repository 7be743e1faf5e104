"""The bundle of adapters a use case runs against; `bootstrap` builds one per backend."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.ports import (
    AppStore,
    Clock,
    DeliveryQueue,
    KeyStore,
    Limiter,
    MessageStore,
    ScheduleStore,
    ScheduleTimer,
    TenantStore,
    Timer,
    UsageStore,
)
from chalicelib.settings import Settings


@dataclass(frozen=True)
class Context:
    """Ports plus settings; tests build one from fakes or either real adapter set."""

    tenants: TenantStore
    keys: KeyStore
    apps: AppStore
    messages: MessageStore
    deliveries: DeliveryQueue
    usage: UsageStore
    timer: Timer
    limiter: Limiter
    clock: Clock
    settings: Settings
    schedules: ScheduleStore | None = None  # None: this adapter set has no recurring schedules yet
    schedule_timer: ScheduleTimer | None = None
    jitter: Callable[[], float] = field(default=random.random)
