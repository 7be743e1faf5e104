"""Firing lateness: N messages due at R/s to a loopback receiver; ours vs APScheduler 3 in the same run.

Lateness = receive time at the receiver minus sendAt. Both schedulers POST to the same kind of receiver
process. Ours runs as the real `scheduler serve` process with every state change committed to SQLite;
APScheduler 3 runs in this process with its default in-memory job store and thread-pool executor,
each job doing the same POST on a keep-alive connection of its executor thread.

    python -m bench.lateness --count 30000 --rate 1000 --runs 3 --receiver threaded

`--receiver aiohttp|threaded|both` picks the receiver process (asyncio, or Python's thread-per-connection
`ThreadingHTTPServer`); both systems of one run deliver to a fresh receiver of the same kind.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    KeepAlivePost,
    ReceiverProcess,
    delivered_today,
    iso_ms,
    post_batches,
    service_and_receiver,
    summary,
    write_results,
)

LEAD_MS = 20_000  # time to schedule everything before the first message is due


def run_ours(count: int, rate: float, receiver_kind: str = "aiohttp", **env: str) -> dict[str, Any]:
    with service_and_receiver(receiver_kind, **env) as (server, receiver, app_id), server.client() as client:
        first_due = int(time.time() * 1000) + LEAD_MS
        due = [first_due + int(i * 1000 / rate) for i in range(count)]
        messages = [{"appId": app_id, "payload": {"i": i}, "sendAt": iso_ms(ms)} for i, ms in enumerate(due)]
        started = time.monotonic()
        post_batches(client, messages)
        scheduling_s = time.monotonic() - started
        if time.time() * 1000 > first_due:
            raise RuntimeError(f"scheduling took {scheduling_s:.1f}s, longer than the lead")
        receiver.wait_for(count, timeout_s=LEAD_MS / 1000 + count / rate + 60)
        time.sleep(1.0)  # let the last state changes commit before reading them
        result = _lateness(receiver.records(), count)
        result["committed_delivered"] = delivered_today(client)
        result["receiver_connections"] = receiver.connections()
        return result


def run_apscheduler(count: int, rate: float, receiver_kind: str = "aiohttp") -> dict[str, Any]:
    from apscheduler.schedulers.background import BackgroundScheduler

    receiver = ReceiverProcess(receiver_kind)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    try:
        post = KeepAlivePost(receiver.port)
        first_due = int(time.time() * 1000) + LEAD_MS  # the same lead as ours: adding 30,000 jobs takes seconds
        for i in range(count):
            ms = first_due + int(i * 1000 / rate)
            headers = {"webhook-id": f"ap_{i}", "scheduler-scheduled-at": iso_ms(ms)}
            run_at = datetime.fromtimestamp(ms / 1000, tz=UTC)
            body = json.dumps({"i": i}).encode()
            scheduler.add_job(post, "date", run_date=run_at, args=[body, headers], misfire_grace_time=None)
        if time.time() * 1000 > first_due:
            raise RuntimeError("adding the jobs took longer than the lead")
        receiver.wait_for(count, timeout_s=LEAD_MS / 1000 + count / rate + 60)
        return {**_lateness(receiver.records(), count), "receiver_connections": receiver.connections()}
    finally:
        scheduler.shutdown(wait=False)
        receiver.close()


def _lateness(records: list[list[Any]], expected: int) -> dict[str, Any]:
    from chalicelib.domain.times import parse_instant

    late = [at - parse_instant(scheduled, field="x") for at, _, scheduled in records]
    unique = {message_id for _, message_id, _ in records}
    early = sum(1 for value in late if value < 0)
    return {**summary(late), "received": len(records), "lost": expected - len(unique), "early": early}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-apscheduler", action="store_true")
    parser.add_argument("--receiver", choices=["aiohttp", "threaded", "both"], default="aiohttp")
    parser.add_argument(
        "--baseline-claim-ahead-ms", type=int, help="also run ours with this SCHEDULER_CLAIM_AHEAD_MS (an A/B)"
    )
    args = parser.parse_args()
    kinds = ["aiohttp", "threaded"] if args.receiver == "both" else [args.receiver]
    systems: dict[str, Callable[[int, float, str], dict[str, Any]]] = {"ours": run_ours}
    if args.baseline_claim_ahead_ms is not None:
        ahead = str(args.baseline_claim_ahead_ms)
        systems[f"ours, ahead {ahead} ms"] = functools.partial(run_ours, SCHEDULER_CLAIM_AHEAD_MS=ahead)
    if not args.skip_apscheduler:
        systems["apscheduler"] = run_apscheduler
    runs: dict[str, list[dict[str, Any]]] = {f"{s} / {k}": [] for k in kinds for s in systems}
    for n in range(args.runs):
        for kind in kinds:
            for system, run in systems.items():
                runs[f"{system} / {kind}"].append(run(args.count, args.rate, kind))
                print(f"run {n + 1} {system + ' / ' + kind:30} {_line(runs[f'{system} / {kind}'][-1])}", flush=True)
    medians = {name: _median_of(results) for name, results in runs.items()}
    print(f"\n{args.count} messages at {args.rate:g}/s, {args.runs} runs; median of runs (ms):")
    print(f"{'':30}{'p50':>8}{'p99':>8}{'max':>8}{'lost':>6}")
    for name, figures in medians.items():
        print(f"{name:30}{figures['p50']:8.1f}{figures['p99']:8.1f}{figures['max']:8.1f}{figures['lost']:6.0f}")
    results = {"count": args.count, "rate": args.rate, "receivers": kinds, "runs": runs, "median_of_runs": medians}
    path = write_results("lateness", results)
    print(f"wrote {path}")


def _median_of(results: list[dict[str, Any]]) -> dict[str, float]:
    import statistics

    keys = ("p50", "p99", "max", "lost")
    return {key: statistics.median(float(r[key]) for r in results) for key in keys}


def _line(result: dict[str, Any]) -> str:
    return (
        f"p50 {result['p50']:.1f} ms  p99 {result['p99']:.1f} ms  max {result['max']:.1f} ms  "
        f"lost {result['lost']}  early {result['early']}"
        + (f"  connections {result['receiver_connections']}" if result.get("receiver_connections") else "")
    )


if __name__ == "__main__":
    main()
