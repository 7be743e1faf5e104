"""The noisy-neighbour scenario: one tenant's hung endpoint must not make another tenant's deliveries late.

Tenant "quiet" schedules messages spread over a window twice: once alone (the baseline) and once
while tenant "noisy" has a flood of messages whose endpoint hangs until the attempt deadline
(`SCHEDULER_DELIVERY_TIMEOUT_S`). Lateness is measured at the receiver: arrival minus the
message's `sendAt` (`scheduler-scheduled-at`). The hanging endpoint runs in a process of its own, so
its load cannot slow down the measuring receiver.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chalicelib.domain.times import format_ms
from chalicelib.settings import Settings
from tests.reliability.harness import (
    Cluster,
    ReceiverProcess,
    SwitchReceiver,
    create_app,
    percentile,
    read_db,
    schedule_batch,
    wait_for,
)

ATTEMPT_DEADLINE_S = 1
HOLD_DEADLINE_S = 600  # admission_run: the noisy tenant's attempts never end while it runs
# What the default fair shares give the one busy app of the one busy noisy tenant: the tenant's cap
# (`SCHEDULER_PER_TENANT_CONCURRENCY`) halved, leaving room for another of its apps.
NOISY_CAP = min(Settings().per_app_concurrency, Settings().per_tenant_concurrency // 2)
TENANT_CAP = Settings().per_tenant_concurrency  # what one tenant may hold at most, whatever its apps do


@dataclass
class NeighbourReport:
    """Lateness of the quiet tenant alone and next to the noisy one."""

    quiet_messages: int
    noisy_messages: int
    window_s: float
    baseline: dict[str, float] = field(default_factory=dict)
    with_noise: dict[str, float] = field(default_factory=dict)
    noisy_timeouts_during_window: int = 0
    noisy_in_flight_when_quiet_started: int = 0
    quiet_received: int = 0
    seconds: float = 0.0

    @property
    def p99_increase_ms(self) -> float:
        return self.with_noise["p99"] - self.baseline["p99"]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "p99_increase_ms": round(self.p99_increase_ms, 2)}


def neighbour_run(data_dir: Path, *, quiet: int, noisy: int, window_s: float) -> NeighbourReport:
    """Measure the quiet tenant's lateness alone, then beside a noisy tenant whose endpoint hangs."""
    started = time.monotonic()
    report = NeighbourReport(quiet_messages=quiet, noisy_messages=noisy, window_s=window_s)
    env = {"SCHEDULER_DELIVERY_TIMEOUT_S": str(ATTEMPT_DEADLINE_S)}  # the default caps and shares
    with SwitchReceiver() as receiver, ReceiverProcess() as hanging:
        cluster = Cluster(data_dir, **env).start()
        try:
            _play(cluster, receiver, hanging, report)
        finally:
            cluster.kill()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _play(cluster: Cluster, receiver: SwitchReceiver, hanging: ReceiverProcess, report: NeighbourReport) -> None:
    with cluster.client(cluster.tenant("quiet")) as quiet, cluster.client(cluster.tenant("noisy")) as noisy:
        quiet_app = create_app(quiet, receiver.url("/ok"))["id"]
        noisy_app = create_app(noisy, hanging.url("/hang"))["id"]
        report.baseline = _quiet_phase(quiet, quiet_app, receiver, report)
        _flood(noisy, noisy_app, report.noisy_messages)
        wait_for(lambda: hanging.count() >= NOISY_CAP, timeout_s=20)
        report.noisy_in_flight_when_quiet_started = hanging.count()
        window_start_ms = time.time_ns() // 1_000_000
        report.with_noise = _quiet_phase(quiet, quiet_app, receiver, report)
        report.noisy_timeouts_during_window = _timeouts(cluster.data_dir, noisy_app, since_ms=window_start_ms)


@dataclass
class AdmissionReport:
    """Who got delivery slots while a noisy tenant's endpoint held every attempt it was given."""

    noisy_arrived_before: int = 0  # noisy attempts that reached the hanging endpoint before the quiet tenant sent
    noisy_arrived_after: int = 0  # ... by the time the quiet tenant's last message was delivered
    noisy_attempts_ended: int = 0  # noisy attempts that finished (none can: the deadline is far away)
    quiet_messages: int = 0
    quiet_delivered: int = 0
    quiet_attempts: int = 0


def admission_run(data_dir: Path, *, quiet: int, noisy: int) -> AdmissionReport:
    """The noisy tenant's endpoint hangs past the end of the run (deadline `HOLD_DEADLINE_S`), so each of
    its attempts holds a delivery slot until the server is killed. The quiet tenant's messages, due now,
    can then only be delivered by slots the fair shares kept for it: none of the noisy ones ever frees."""
    report = AdmissionReport(quiet_messages=quiet)
    with SwitchReceiver() as receiver, ReceiverProcess() as hanging:
        cluster = Cluster(data_dir, SCHEDULER_DELIVERY_TIMEOUT_S=str(HOLD_DEADLINE_S)).start()
        try:
            with cluster.client(cluster.tenant("quiet")) as q, cluster.client(cluster.tenant("noisy")) as n:
                quiet_app = create_app(q, receiver.url("/ok"))["id"]
                noisy_app = create_app(n, hanging.url("/hang"))["id"]
                _flood(n, noisy_app, noisy)
                wait_for(lambda: hanging.count() >= NOISY_CAP, timeout_s=30)
                report.noisy_arrived_before = hanging.count()
                bodies = [{"appId": quiet_app, "payload": i, "delaySeconds": 0} for i in range(quiet)]
                ids = {
                    item["id"]
                    for start in range(0, quiet, 100)
                    for item in schedule_batch(q, bodies[start : start + 100])
                }
                wait_for(lambda: ids <= {hit.message_id for hit in receiver.hits}, timeout_s=60)
                report.noisy_arrived_after = hanging.count()
                report.quiet_delivered = len(ids & {hit.message_id for hit in receiver.hits})
                with read_db(cluster.data_dir) as conn:
                    report.noisy_attempts_ended = conn.execute(
                        "SELECT count(*) FROM attempts WHERE app_id = ?", (noisy_app,)
                    ).fetchone()[0]
                    report.quiet_attempts = conn.execute(
                        "SELECT count(*) FROM attempts WHERE app_id = ?", (quiet_app,)
                    ).fetchone()[0]
        finally:
            cluster.kill()
    return report


def _quiet_phase(
    client: httpx.Client, app_id: str, receiver: SwitchReceiver, report: NeighbourReport
) -> dict[str, float]:
    first = time.time_ns() // 1_000_000 + 500
    step_ms = report.window_s * 1000 / report.quiet_messages
    bodies = [
        {"appId": app_id, "payload": i, "sendAt": format_ms(first + round(i * step_ms))}
        for i in range(report.quiet_messages)
    ]
    ids: set[str] = set()
    for start in range(0, len(bodies), 100):
        ids.update(item["id"] for item in schedule_batch(client, bodies[start : start + 100]))
    wait_for(lambda: ids <= {hit.message_id for hit in receiver.hits}, timeout_s=report.window_s + 20)
    late = [hit.late_ms for hit in receiver.hits if hit.message_id in ids]
    report.quiet_received = len({hit.message_id for hit in receiver.hits if hit.message_id in ids})
    return {"p50": round(percentile(late, 50), 2), "p99": round(percentile(late, 99), 2), "max": round(max(late), 2)}


def _flood(client: httpx.Client, app_id: str, count: int) -> None:
    for start in range(0, count, 100):
        size = min(100, count - start)
        schedule_batch(client, [{"appId": app_id, "payload": start + i, "delaySeconds": 0} for i in range(size)])


def _timeouts(data_dir: Path, app_id: str, *, since_ms: int) -> int:
    with read_db(data_dir) as conn:
        row = conn.execute(
            "SELECT count(*) FROM attempts WHERE app_id = ? AND error = 'timeout' AND started_at >= ?",
            (app_id, since_ms - ATTEMPT_DEADLINE_S * 1000),
        ).fetchone()
    return int(row[0])
