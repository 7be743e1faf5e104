"""Delivery throughput: N messages all due at the same instant; deliveries per second.

Measured from the due instant to the last arrival at the receiver (another process), and from the
first to the last arrival. Every result is committed (checked through `/usage` afterwards).

    python -m bench.throughput --count 40000 --runs 3 --receiver both

APScheduler 3 (in memory, its thread pool POSTing on keep-alive connections) runs the same burst to a
fresh receiver of the same kind in each run, unless `--skip-apscheduler`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    KeepAlivePost,
    ReceiverProcess,
    burst,
    delivered_today,
    iso_ms,
    post_batches,
    service_and_receiver,
    write_results,
)


def run_once(count: int, receiver_kind: str = "aiohttp", **env: str) -> dict[str, Any]:
    with service_and_receiver(receiver_kind, **env) as (server, receiver, app_id), server.client() as client:
        due = int(time.time() * 1000) + max(10_000, count // 4)  # room to schedule everything first
        post_batches(client, burst(app_id, count, due))
        if not receiver.wait_for(count, timeout_s=(due / 1000 - time.time()) + count / 500 + 30):
            raise RuntimeError(f"only {receiver.count()} of {count} arrived")
        arrivals = sorted(at for at, _, _ in receiver.records())
        time.sleep(1.0)  # let the last state changes commit before reading them
        delivered = delivered_today(client)
    span_s = (arrivals[-1] - due) / 1000
    return {
        "deliveries_per_s": count / span_s,
        "seconds_due_to_last": span_s,
        "first_arrival_ms_after_due": arrivals[0] - due,
        "committed_delivered": delivered,
    }


def run_apscheduler(count: int, receiver_kind: str = "aiohttp") -> dict[str, Any]:
    """The same burst through APScheduler 3 (default in-memory store, 10-thread pool)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    receiver = ReceiverProcess(receiver_kind)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    try:
        post = KeepAlivePost(receiver.port)
        due = int(time.time() * 1000) + max(10_000, count // 4)
        run_at = datetime.fromtimestamp(due / 1000, tz=UTC)
        scheduled = iso_ms(due)
        for i in range(count):
            headers = {"webhook-id": f"ap_{i}", "scheduler-scheduled-at": scheduled}
            scheduler.add_job(post, "date", run_date=run_at, args=[b'{"n":1}', headers], misfire_grace_time=None)
        if not receiver.wait_for(count, timeout_s=(due / 1000 - time.time()) + count / 500 + 30):
            raise RuntimeError(f"apscheduler: only {receiver.count()} of {count} arrived")
        arrivals = sorted(at for at, _, _ in receiver.records())
    finally:
        scheduler.shutdown(wait=False)
        receiver.close()
    span_s = (arrivals[-1] - due) / 1000
    return {"deliveries_per_s": count / span_s, "seconds_due_to_last": span_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--receiver", choices=["aiohttp", "threaded", "both"], default="aiohttp")
    parser.add_argument("--skip-apscheduler", action="store_true")
    parser.add_argument(
        "--baseline-claim-ahead-ms", type=int, help="also run ours with this SCHEDULER_CLAIM_AHEAD_MS (an A/B)"
    )
    args = parser.parse_args()
    kinds = ["aiohttp", "threaded"] if args.receiver == "both" else [args.receiver]
    systems: dict[str, Callable[[int, str], dict[str, Any]]] = {"ours": run_once}
    if args.baseline_claim_ahead_ms is not None:
        ahead = str(args.baseline_claim_ahead_ms)
        systems[f"ours, ahead {ahead} ms"] = functools.partial(run_once, SCHEDULER_CLAIM_AHEAD_MS=ahead)
    if not args.skip_apscheduler:
        systems["apscheduler"] = run_apscheduler
    runs: dict[str, list[dict[str, Any]]] = {f"{s} / {k}": [] for k in kinds for s in systems}
    for n in range(args.runs):
        for kind in kinds:
            for system, run in systems.items():
                result = run(args.count, kind)
                runs[f"{system} / {kind}"].append(result)
                print(
                    f"run {n + 1} {system + ' / ' + kind:24} {result['deliveries_per_s']:.0f} deliveries/s "
                    f"({args.count} in {result['seconds_due_to_last']:.2f} s)",
                    flush=True,
                )
    medians = {name: statistics.median(r["deliveries_per_s"] for r in results) for name, results in runs.items()}
    print(f"\n{args.count} due at once, median of {args.runs} runs (deliveries/s):")
    for name, median in medians.items():
        print(f"  {name:24}{median:8.0f}")
    results = {"count": args.count, "receivers": kinds, "runs": runs, "median_deliveries_per_s": medians}
    path = write_results("throughput", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
