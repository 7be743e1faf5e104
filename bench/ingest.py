"""API ingest over HTTP with keep-alive clients: single creates/s and messages/s through the batch route.

Clients run in a separate process pool so they do not share the server's cores' GIL with it. Each
client holds one keep-alive connection. Latency percentiles are per request.

    python -m bench.ingest --seconds 10 --clients 4 --runs 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import create_app, start_server, summary, write_results
from tests.support.server import ADMIN_KEY


def _client_loop(args: tuple[str, str, str, int, float]) -> tuple[int, list[float]]:
    base, app_id, mode, batch, seconds = args
    body: dict[str, Any]
    if mode == "single":
        body = {"appId": app_id, "payload": {"k": "v"}, "delaySeconds": 3600}
    else:
        body = {"messages": [{"appId": app_id, "payload": {"k": i}, "delaySeconds": 3600} for i in range(batch)]}
    headers = {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"}
    payload = json.dumps(body).encode()
    latencies: list[float] = []
    sent = 0
    host, port = base.removeprefix("http://").split(":")
    # http.client keeps the client side cheap (httpx costs several times more CPU per request), so the
    # two cores measure the server rather than the load generator.
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    path = "/messages" if mode == "single" else "/messages/batch"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("POST", path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status not in (200, 201):
            raise RuntimeError(f"{response.status}: {text[:200]!r}")
        sent += 1 if mode == "single" else batch
    connection.close()
    return sent, latencies


def run_once(mode: str, clients: int, seconds: float, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            with server.client() as client:
                app_id = create_app(client, "http://127.0.0.1:9/never")
            work = [(server.url, app_id, mode, batch, seconds)] * clients
            started = time.monotonic()
            with multiprocessing.get_context("spawn").Pool(clients) as pool:
                results = pool.map(_client_loop, work)
            elapsed = time.monotonic() - started
        finally:
            server.stop()
    messages = sum(sent for sent, _ in results)
    latencies = [value for _, values in results for value in values]
    return {
        "messages_per_s": messages / seconds,
        "requests": len(latencies),
        "elapsed_s": elapsed,
        "latency_ms": summary(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {"single": [], "batch": []}
    for n in range(args.runs):
        for mode in list(results):
            result = run_once(mode, args.clients, args.seconds, args.batch)
            results[mode].append(result)
            lat = result["latency_ms"]
            print(
                f"run {n + 1} {mode:6}: {result['messages_per_s']:8.0f} messages/s  "
                f"request p50 {lat['p50']:.1f} ms p99 {lat['p99']:.1f} ms",
                flush=True,
            )
    medians = {mode: statistics.median(r["messages_per_s"] for r in runs) for mode, runs in results.items()}
    print(
        f"\nmedian of {args.runs} runs, {args.clients} keep-alive clients: single creates {medians['single']:.0f}/s "
        f"(target 1,000); batch {medians['batch']:.0f} messages/s (target 10,000)"
    )
    path = write_results(
        "ingest", {"clients": args.clients, "seconds": args.seconds, "runs": results, "median_messages_per_s": medians}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
