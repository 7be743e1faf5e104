"""`make bench`: every benchmark with the figures BENCHMARKS.md reports; results in bench/results/.

    python bench/run_all.py [--quick]

`--quick` runs smaller workloads (a smoke run, not the reported figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FULL = [
    ["bench.lateness", "--count", "30000", "--rate", "1000", "--runs", "3"],
    ["bench.throughput", "--count", "40000", "--runs", "3"],
    ["bench.ingest", "--seconds", "10", "--clients", "4", "--runs", "3"],
    ["bench.scale", "--pending", "1000000"],
    ["bench.bench_sender", "--out", "bench/results/sender.json"],
    ["bench.recurring", "--schedules", "10000", "--minutes", "2", "--runs", "2"],
    ["bench.aws_cost"],
]
QUICK = [
    ["bench.lateness", "--count", "3000", "--rate", "1000", "--runs", "1"],
    ["bench.throughput", "--count", "5000", "--runs", "1"],
    ["bench.ingest", "--seconds", "3", "--clients", "2", "--runs", "1"],
    ["bench.scale", "--pending", "50000"],
    ["bench.recurring", "--schedules", "1000", "--minutes", "1", "--runs", "1", "--shapes", "baseline,staggered"],
    ["bench.aws_cost"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    for number, command in enumerate(plan, 1):
        print(f"\n=== [{number}/{len(plan)}] python -m {' '.join(command)}", flush=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", *command], cwd=ROOT, check=True)
        print(f"=== done in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
