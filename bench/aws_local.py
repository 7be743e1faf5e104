"""The AWS path through `make run-aws`: lateness, deliveries/s and AWS calls per message.

Everything goes through the harness (awslocal/): API Gateway front -> authorizer and API Lambdas ->
moto; deliveries through the SQS event source mapping (`DelaySeconds`) or a real schedule that the
Scheduler driver fires anywhere in its minute, re-queued by the delivery Lambda. Scenarios, each
with its own message count:

- `due_5s`:   created one by one, each due 5 s after its create;
- `due_2min`: created one by one, each due 2 min ahead (the release queue's delay);
- `due_20min`: due 20 min ahead (a schedule `at(sendAt - 90 s, floored to the minute)` with
  in-minute jitter, then the release queue); created first, measured last;
- `burst`:    one batch of messages due at the same instant: deliveries/s from first to last arrival;
- `cold_start`: the first 10 messages (due 3 s ahead), which meet cold functions; not in the others.

Half of each scenario's messages go to an aiohttp receiver process, half to a thread-per-connection
`http.server` receiver process (`tests.support.threaded_receiver`). Lateness = arrival at the receiver -
sendAt. AWS calls are counted at moto's HTTP boundary, per function (`lambda:<function>`) and for the
harness itself (what AWS runs for us: Scheduler, the event source mapping's polls, which SQS bills, API
Gateway's key reads). Baseline in the same run: `due_5s` and `burst` on the local server (`make run`).

    python -m bench.aws_local            # ~23 min; writes bench/results/aws_local.json
    python -m bench.aws_local --quick    # no 20-min scenario, smaller counts (~5 min)
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import ReceiverProcess, iso_ms, post_batches, summary, write_results
from tests.support.server import SERVE_AWS, ServerProcess

_MOTO = re.compile(r"moto server on (http://[\d.]+:\d+)")


class Target:
    """A running server (local or run-aws) with one app per receiver."""

    def __init__(self, server: ServerProcess, receivers: tuple[ReceiverProcess, ReceiverProcess]) -> None:
        self.server = server
        self.client = server.client()
        self.receivers = receivers
        self.apps = [self._app(f"{receivers[0].base}/ok"), self._app(f"{receivers[1].base}/ok")]
        found = next((m for line in server.output if (m := _MOTO.search(line))), None)
        self.moto = found.group(1) if found else None

    def _app(self, url: str) -> str:
        response = self.client.post("/apps", json={"name": "bench", "url": url})
        response.raise_for_status()
        return str(response.json()["id"])

    def rows(self) -> list[list[Any]]:
        return [*self.receivers[0].records(), *self.receivers[1].records()]

    def calls(self, reset: bool = False) -> Counter[str]:
        if self.moto is None:
            return Counter()
        counts = Counter(httpx.get(f"{self.moto}/_awslocal/calls", timeout=30).json())
        if reset:
            httpx.post(f"{self.moto}/_awslocal/calls/reset", timeout=30)
        return counts


def create_paced(target: Target, count: int, ahead_s: float, rate: float) -> list[str]:
    """`count` single creates at `rate`/s, each due `ahead_s` after it is sent."""
    ids = []
    started = time.monotonic()
    for i in range(count):
        pause = started + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        send_at = iso_ms(int((time.time() + ahead_s) * 1000))
        body = {"appId": target.apps[i % 2], "payload": {"i": i}, "sendAt": send_at}
        response = target.client.post("/messages", json=body)
        response.raise_for_status()
        ids.append(str(response.json()["id"]))
    return ids


def wait_delivered(target: Target, ids: list[str], timeout_s: float) -> dict[str, Any]:
    """Wait until every id has arrived; lateness of the first arrival per id."""
    wanted = set(ids)
    deadline = time.monotonic() + timeout_s
    arrivals: dict[str, float] = {}
    due: dict[str, float] = {}
    duplicates = 0
    while time.monotonic() < deadline:
        arrivals.clear()
        duplicates = 0
        for at, message_id, scheduled in target.rows():
            if message_id not in wanted:
                continue
            if message_id in arrivals:
                duplicates += 1
                continue
            arrivals[message_id] = at
            due[message_id] = datetime.fromisoformat(scheduled.replace("Z", "+00:00")).timestamp() * 1000
        if len(arrivals) == len(wanted):
            break
        time.sleep(1.0)
    late = [arrivals[i] - due[i] for i in arrivals]
    first, last = (min(arrivals.values()), max(arrivals.values())) if arrivals else (0.0, 0.0)
    return {
        "count": len(ids),
        "delivered": len(arrivals),
        "lost": len(wanted) - len(arrivals),
        "duplicates": duplicates,
        "early": sum(1 for x in late if x < 0),
        "lateness_ms": summary(late),
        "spread_s": round((last - first) / 1000, 3),
    }


def per_message(calls: Counter[str], count: int) -> dict[str, Any]:
    """Calls per message by caller, and by caller + service + action."""
    by_caller: Counter[str] = Counter()
    for key, n in calls.items():
        by_caller[key.split(" ", 1)[0]] += n
    return {
        "per_message": {k: round(v / count, 2) for k, v in sorted(by_caller.items())},
        "detail_per_message": {k: round(v / count, 2) for k, v in sorted(calls.items())},
    }


def run_aws(args: argparse.Namespace, receivers: tuple[ReceiverProcess, ReceiverProcess]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"LOG_LEVEL": "WARNING", "POWERTOOLS_LOG_LEVEL": "WARNING", "AWSLOCAL_SEED": str(args.seed)}
        server = ServerProcess(Path(tmp) / "data", env, command=SERVE_AWS).start(timeout_s=180)
        try:
            target = Target(server, receivers)
            return scenarios(target, args)
        finally:
            server.stop_quietly()


def scenarios(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    # The first deliveries pay each function's cold start (boto3 clients, Powertools, the KMS data key):
    # measured on its own, so the scenarios see warm functions as steady traffic does.
    ids = create_paced(target, 10, 3, rate=10)
    results: dict[str, Any] = {"cold_start": wait_delivered(target, ids, 120)}
    print("cold start", results["cold_start"]["lateness_ms"], flush=True)
    far_ids: list[str] = []
    if not args.quick:
        target.calls(reset=True)
        far_ids = create_paced(target, args.far, 20 * 60, rate=1.0)
        far_create_calls = target.calls(reset=True)
        print(f"created {len(far_ids)} messages due in 20 min", flush=True)
    target.calls(reset=True)
    ids = create_paced(target, args.near, 5, rate=args.rate)
    results["due_5s"] = {**wait_delivered(target, ids, 120), **per_message(target.calls(reset=True), len(ids))}
    print("due_5s", results["due_5s"]["lateness_ms"], flush=True)
    ids = create_paced(target, args.mid, 120, rate=args.rate)
    results["due_2min"] = {**wait_delivered(target, ids, 300), **per_message(target.calls(reset=True), len(ids))}
    print("due_2min", results["due_2min"]["lateness_ms"], flush=True)
    results["burst"] = burst(target, args.burst)
    print("burst", results["burst"]["deliveries_per_s"], results["burst"]["lateness_ms"], flush=True)
    if far_ids:
        far = wait_delivered(target, far_ids, 30 * 60)
        calls = target.calls(reset=True) + far_create_calls
        results["due_20min"] = {**far, **per_message(calls, len(far_ids))}
        print("due_20min", far["lateness_ms"], flush=True)
    return results


def burst(target: Target, count: int) -> dict[str, Any]:
    """`count` messages in batches of 100, all due 30 s after the first batch is sent."""
    target.calls(reset=True)
    due = iso_ms(int((time.time() + 30) * 1000))
    messages = [{"appId": target.apps[i % 2], "payload": {"i": i}, "sendAt": due} for i in range(count)]
    ids = post_batches(target.client, messages)
    result = wait_delivered(target, ids, 300)
    result["deliveries_per_s"] = round(count / result["spread_s"], 1) if result["spread_s"] else None
    return {**result, **per_message(target.calls(reset=True), count)}


def run_local(args: argparse.Namespace, receivers: tuple[ReceiverProcess, ReceiverProcess]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", {"LOG_LEVEL": "WARNING"}).start(timeout_s=120)
        try:
            target = Target(server, receivers)
            ids = create_paced(target, args.near, 5, rate=args.rate)
            return {"due_5s": wait_delivered(target, ids, 120), "burst": burst(target, args.burst)}
        finally:
            server.stop_quietly()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 20-minute scenario, smaller counts")
    parser.add_argument("--near", type=int, default=200, help="messages due 5 s ahead")
    parser.add_argument("--mid", type=int, default=100, help="messages due 2 min ahead")
    parser.add_argument("--far", type=int, default=40, help="messages due 20 min ahead")
    parser.add_argument("--burst", type=int, default=500, help="messages due at one instant")
    parser.add_argument("--rate", type=float, default=10.0, help="single creates per second")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.near, args.mid, args.burst = min(args.near, 60), min(args.mid, 30), min(args.burst, 200)
    receivers = (ReceiverProcess("aiohttp"), ReceiverProcess("threaded"))
    try:
        started = time.monotonic()
        baseline = run_local(args, receivers)
        print("local baseline", baseline["due_5s"]["lateness_ms"], baseline["burst"]["deliveries_per_s"], flush=True)
        aws = run_aws(args, receivers)
        elapsed = round(time.monotonic() - started)
    finally:
        receivers[0].close()
        receivers[1].close()
    path = write_results(
        "aws_local",
        {
            "command": "python -m bench.aws_local" + (" --quick" if args.quick else ""),
            "settings": vars(args),
            "elapsed_s": elapsed,
            "note": "2-core machine shared with other engineers' builds and tests while measuring",
            "local_baseline": baseline,
            "aws": aws,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
