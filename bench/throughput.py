"""Delivery throughput: N messages all due at the same instant; deliveries per second.

Measured from the due instant to the last arrival at the receiver (another process), and from the
first to the last arrival. Every result is committed (checked through `/usage` afterwards).

    python -m bench.throughput --count 40000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.common import burst, delivered_today, post_batches, service_and_receiver, write_results


def run_once(count: int, **env: str) -> dict[str, Any]:
    with service_and_receiver(**env) as (server, receiver, app_id), server.client() as client:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        result = run_once(args.count)
        runs.append(result)
        print(
            f"run {n + 1}: {result['deliveries_per_s']:.0f} deliveries/s "
            f"({args.count} in {result['seconds_due_to_last']:.2f} s; committed {result['committed_delivered']})",
            flush=True,
        )
    median = statistics.median(r["deliveries_per_s"] for r in runs)
    print(f"\nmedian of {args.runs} runs: {median:.0f} deliveries/s (target 2,000, stretch 4,000)")
    path = write_results("throughput", {"count": args.count, "runs": runs, "median_deliveries_per_s": median})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
