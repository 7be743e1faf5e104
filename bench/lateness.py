"""Firing lateness: N messages due at R/s to a loopback receiver; ours vs APScheduler 3 in the same run.

Lateness = receive time at the receiver minus sendAt. Both schedulers POST to the same kind of receiver
process. Ours runs as the real `scheduler serve` process with every state change committed to SQLite;
APScheduler 3 runs in this process with its default in-memory job store and thread-pool executor,
each job doing the same POST on a keep-alive connection of its executor thread.

    python bench/lateness.py --count 30000 --rate 1000 --runs 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    ReceiverProcess,
    delivered_today,
    iso_ms,
    post_batches,
    service_and_receiver,
    summary,
    write_results,
)

LEAD_MS = 20_000  # time to schedule everything before the first message is due


def run_ours(count: int, rate: float) -> dict[str, Any]:
    with service_and_receiver() as (server, receiver, app_id), server.client() as client:
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
        return result


def run_apscheduler(count: int, rate: float) -> dict[str, Any]:
    from apscheduler.schedulers.background import BackgroundScheduler

    receiver = ReceiverProcess()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    try:
        post = _KeepAlivePost(receiver.port)
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
        return _lateness(receiver.records(), count)
    finally:
        scheduler.shutdown(wait=False)
        receiver.close()


class _KeepAlivePost:
    """The job APScheduler runs: a POST on a keep-alive connection of the executor thread (stdlib
    http.client: a shared httpx client costs several times the CPU per request and would measure httpx)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._local = threading.local()

    def __call__(self, body: bytes, headers: dict[str, str]) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
        connection.request("POST", "/ok", body=body, headers={"content-type": "application/json", **headers})
        connection.getresponse().read()


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
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "apscheduler": []}
    for n in range(args.runs):
        runs["ours"].append(run_ours(args.count, args.rate))
        print(f"run {n + 1} ours:        {_line(runs['ours'][-1])}", flush=True)
        if not args.skip_apscheduler:
            runs["apscheduler"].append(run_apscheduler(args.count, args.rate))
            print(f"run {n + 1} apscheduler: {_line(runs['apscheduler'][-1])}", flush=True)
    medians = {name: _median_of(results) for name, results in runs.items() if results}
    print(f"\n{args.count} messages at {args.rate:g}/s, {args.runs} runs; median of runs (ms):")
    print(f"{'':14}{'p50':>8}{'p99':>8}{'max':>8}{'lost':>6}")
    for name, figures in medians.items():
        print(f"{name:14}{figures['p50']:8.1f}{figures['p99']:8.1f}{figures['max']:8.1f}{figures['lost']:6.0f}")
    path = write_results("lateness", {"count": args.count, "rate": args.rate, "runs": runs, "median_of_runs": medians})
    print(f"wrote {path}")


def _median_of(results: list[dict[str, Any]]) -> dict[str, float]:
    import statistics

    keys = ("p50", "p99", "max", "lost")
    return {key: statistics.median(float(r[key]) for r in results) for key in keys}


def _line(result: dict[str, Any]) -> str:
    return (
        f"p50 {result['p50']:.1f} ms  p99 {result['p99']:.1f} ms  max {result['max']:.1f} ms  "
        f"lost {result['lost']}  early {result['early']}"
    )


if __name__ == "__main__":
    main()
