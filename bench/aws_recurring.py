"""Recurring schedules through `make run-aws`: lateness of their runs' messages, native vs chained, against
one-time messages in the same run.

Everything goes through the harness (awslocal/): the API Lambda creates the schedules; the Scheduler
driver fires native `cron`/`rate` schedules anywhere in the minute after each nominal time (a minute
before the run, as armed) and the deliver Lambda re-queues each firing through SQS to the run's second;
chained schedules (an `every` that is not whole minutes) arm each next run through the release queue
after a run. Kinds, per run of the benchmark (a fresh stack each):

- `native_cron`: `--cron` schedules `* * * * *` (EventBridge `cron(* * * * ? *)`, fired a minute early);
- `native_rate`: `--rate` schedules `every: 1m` (`rate(1 minute)` from a StartDate a minute early);
- `chained`:     `--chained` schedules `every: 1m30s` (not whole minutes: one run armed at a time);
- `one_time`:    the baseline: one-time messages created every 10 s, due 60 s ahead (the release queue).

Lateness = arrival at the receiver - the message's `sendAt` (a run's `sendAt` is its run time). Only
messages due inside the window count. Each run takes about `--minutes` + 1.5 minutes.

    python -m bench.aws_recurring --minutes 3 --runs 2   # writes bench/results/aws_recurring.json
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import ReceiverProcess, create_app, iso_ms, summary, write_results
from tests.support.server import SERVE_AWS, ServerProcess

KINDS = ("native_cron", "native_rate", "chained", "one_time")
SETTLE_S = 25  # after the window, for the last runs to arrive


def _create(client: httpx.Client, app_id: str, kind: str, count: int) -> list[str]:
    spec = {"native_cron": {"cron": "* * * * *"}, "native_rate": {"every": "1m"}, "chained": {"every": "1m30s"}}[kind]
    ids = []
    for i in range(count):
        response = client.post("/schedules", json={"appId": app_id, "payload": {"kind": kind, "i": i}, **spec})
        response.raise_for_status()
        ids.append(str(response.json()["id"]))
    return ids


def _runs_of(client: httpx.Client, schedule_id: str) -> list[str]:
    response = client.get("/messages", params={"scheduleId": schedule_id, "limit": 100})
    response.raise_for_status()
    return [str(item["id"]) for item in response.json()["items"]]


def one_run(args: argparse.Namespace, receiver: ReceiverProcess) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"LOG_LEVEL": "WARNING", "POWERTOOLS_LOG_LEVEL": "WARNING", "AWSLOCAL_SEED": str(args.seed)}
        server = ServerProcess(Path(tmp) / "data", env, command=SERVE_AWS).start(timeout_s=180)
        try:
            with server.client() as client:
                return _measure(args, client, receiver)
        finally:
            server.stop_quietly()


def _measure(args: argparse.Namespace, client: httpx.Client, receiver: ReceiverProcess) -> dict[str, Any]:
    app_id = create_app(client, f"{receiver.base}/ok")
    warm = [_one_time(client, app_id, 3_000) for _ in range(5)]  # cold functions, not measured
    receiver.wait_for(len(warm), 120)
    schedules = {kind: _create(client, app_id, kind, getattr(args, kind.split("_")[-1])) for kind in KINDS[:3]}
    start = time.time() * 1000 + 60_000  # runs of the first minute include each schedule's arming
    end = start + args.minutes * 60_000
    one_time: list[str] = []
    while time.time() * 1000 < end - 60_000:
        one_time.append(_one_time(client, app_id, 60_000))
        time.sleep(10)
    time.sleep(max(0.0, (end - time.time() * 1000) / 1000) + SETTLE_S)
    for ids in schedules.values():
        for schedule_id in ids:
            client.delete(f"/schedules/{schedule_id}")
    ids_by_kind = {kind: [m for s in ids for m in _runs_of(client, s)] for kind, ids in schedules.items()}
    ids_by_kind["one_time"] = one_time
    records = receiver.records()
    return {kind: _lateness(records, set(ids), start, end) for kind, ids in ids_by_kind.items()}


def _one_time(client: httpx.Client, app_id: str, ahead_ms: int) -> str:
    body = {"appId": app_id, "payload": {"kind": "one_time"}, "sendAt": iso_ms(int(time.time() * 1000) + ahead_ms)}
    response = client.post("/messages", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


def _lateness(records: list[list[Any]], ids: set[str], start: float, end: float) -> dict[str, Any]:
    late: list[float] = []
    seen: set[str] = set()
    duplicates = 0
    for at, message_id, scheduled in records:
        if message_id not in ids:
            continue
        due = datetime.fromisoformat(scheduled.replace("Z", "+00:00")).timestamp() * 1000
        if not start <= due < end:
            continue
        if message_id in seen:
            duplicates += 1
            continue
        seen.add(message_id)
        late.append(at - due)
    return {"messages": len(late), "duplicates": duplicates, "early": sum(1 for x in late if x < 0), **summary(late)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=3, help="measured window per run")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cron", type=int, default=4, help="native cron schedules")
    parser.add_argument("--rate", type=int, default=3, help="native rate schedules")
    parser.add_argument("--chained", type=int, default=3, help="chained schedules")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    receiver = ReceiverProcess()
    started = time.monotonic()
    runs = []
    try:
        for n in range(args.runs):
            runs.append(one_run(args, receiver))
            print(f"run {n + 1}:", {k: (v["messages"], v["p50"], v["p99"]) for k, v in runs[-1].items()}, flush=True)
    finally:
        receiver.close()
    medians = {
        kind: {p: round(statistics.median(run[kind][p] for run in runs), 1) for p in ("p50", "p99")} for kind in KINDS
    }
    path = write_results(
        "aws_recurring",
        {
            "command": f"python -m bench.aws_recurring --minutes {args.minutes} --runs {args.runs}",
            "settings": vars(args),
            "elapsed_s": round(time.monotonic() - started),
            "note": "lateness_ms per kind; 2-core machine shared with other engineers' builds and tests",
            "median_of_runs_ms": medians,
            "runs": runs,
        },
    )
    print("median of runs (ms):", medians)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
