"""Writer fairness: one tenant's flood of 5 MB batches must not slow another tenant's writes.

Issue 13 measured 12 streams of 5 MB batches from one tenant pushing another tenant's `POST /keys`
from 2 ms to 0.4-1 s. This benchmark starts a fresh server, measures a quiet tenant's writes
(`POST /keys` and `POST /messages`, one every `--interval-ms`) alone, then while a flood process
runs `--streams` threads of back-to-back 100-message batches of ~50 KB payloads each (~5 MB a
request), and prints p50/p99 of both phases per run and the median over runs.

    .venv/bin/python -m bench.writer_fairness --runs 3 --seconds 10

The flood runs in its own process (its client work must not slow the measuring client), and its
messages are due in a day (they are stored, not delivered). The box is shared: compare the two
phases of the same run, not figures of different runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, percentile, write_results
from tests.reliability.harness import Cluster, create_app

BATCH = 100
PAYLOAD_BYTES = 50_000


def flood(url: str, token: str, app_id: str, streams: int, seconds: float) -> None:
    """Run in the flood process: `streams` threads posting 5 MB batches until `seconds` passed."""
    item = {"appId": app_id, "payload": "x" * PAYLOAD_BYTES, "delaySeconds": 86_400}
    body = json.dumps({"messages": [item] * BATCH}).encode()
    stop = time.monotonic() + seconds
    sent = [0] * streams

    def stream(index: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while time.monotonic() < stop:
                response = client.post("/messages/batch", content=body)
                response.raise_for_status()
                sent[index] += 1

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"batches": sum(sent), "bytes_per_batch": len(body)}), flush=True)


def quiet_writes(client: httpx.Client, app_id: str, seconds: float, interval_ms: float) -> dict[str, list[float]]:
    """A write every `interval_ms`, alternating `POST /keys` and `POST /messages`; latencies in ms."""
    latencies: dict[str, list[float]] = {"keys": [], "messages": []}
    stop = time.monotonic() + seconds
    n = 0
    while time.monotonic() < stop:
        began = time.perf_counter()
        if n % 2 == 0:
            response = client.post("/keys", json={"name": f"k{n}", "scopes": ["read"]})
            kind = "keys"
        else:
            response = client.post("/messages", json={"appId": app_id, "payload": n, "delaySeconds": 86_400})
            kind = "messages"
        response.raise_for_status()
        latencies[kind].append((time.perf_counter() - began) * 1000)
        n += 1
        time.sleep(max(0.0, interval_ms / 1000 - (time.perf_counter() - began)))
    return latencies


def figures(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(percentile(values, 50), 2), "p99": round(percentile(values, 99), 2)}


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp) / "data").start()
        try:
            quiet_token, noisy_token = cluster.tenant("quiet"), cluster.tenant("noisy")
            with cluster.client(quiet_token) as quiet, cluster.client(noisy_token) as noisy:
                quiet_app = create_app(quiet, "http://127.0.0.1:9/never")["id"]
                noisy_app = create_app(noisy, "http://127.0.0.1:9/never")["id"]
                quiet_writes(quiet, quiet_app, 1.0, args.interval_ms)  # warm-up
                alone = quiet_writes(quiet, quiet_app, args.seconds, args.interval_ms)
                flooder = subprocess.Popen(
                    [sys.executable, "-m", "bench.writer_fairness", "--flood", cluster.server.url, noisy_token,
                     noisy_app, str(args.streams), str(args.seconds + 3)],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                time.sleep(2.0)  # let every stream get going
                flooded = quiet_writes(quiet, quiet_app, args.seconds, args.interval_ms)
                out, _ = flooder.communicate(timeout=args.seconds + 180)
        finally:
            cluster.kill()
    flood_stats = json.loads(out.strip().splitlines()[-1])
    run = {
        "alone": {kind: figures(values) for kind, values in alone.items()},
        "flooded": {kind: figures(values) for kind, values in flooded.items()},
        "flood": {**flood_stats, "streams": args.streams, "seconds": args.seconds + 3},
    }
    print(json.dumps(run), flush=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=12)
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--name", default="writer_fairness", help="results file name under bench/results/")
    parser.add_argument("--flood", nargs=5, metavar=("URL", "TOKEN", "APP", "STREAMS", "SECONDS"))
    args = parser.parse_args()
    if args.flood:
        url, token, app_id, streams, seconds = args.flood
        flood(url, token, app_id, int(streams), float(seconds))
        return
    runs = [one_run(args) for _ in range(args.runs)]
    median = {
        phase: {
            kind: {stat: statistics.median(run[phase][kind][stat] for run in runs) for stat in ("p50", "p99")}
            for kind in ("keys", "messages")
        }
        for phase in ("alone", "flooded")
    }
    print(json.dumps({"median_of_runs": median}, indent=2))
    path = write_results(
        args.name,
        {
            "command": "python -m bench.writer_fairness " + " ".join(sys.argv[1:]),
            "note": "2-core box shared with other engineers' tests: compare phases of one run",
            "median_of_runs": median,
            "runs": runs,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
