"""What the INFO logs cost: delivery throughput with `LOG_LEVEL=WARNING` (the benchmarks' setting) and
with `LOG_LEVEL=INFO` (the default: one access line per request, one line per delivery result), in
alternating runs of the same burst, so both meet the same load on a shared machine.

    python -m bench.log_cost --count 10000 --runs 3

The server's stderr goes to a pipe read by this process (as a terminal or journald would read it).
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import write_results
from bench.throughput import run_once

LEVELS = ("WARNING", "INFO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {level: [] for level in LEVELS}
    for n in range(args.runs):
        for level in LEVELS:
            result = run_once(args.count, LOG_LEVEL=level)
            runs[level].append(result["deliveries_per_s"])
            print(f"run {n + 1} {level:7}: {result['deliveries_per_s']:.0f} deliveries/s", flush=True)
    medians = {level: statistics.median(values) for level, values in runs.items()}
    ratio = medians["INFO"] / medians["WARNING"]
    print(
        f"\nmedians: WARNING {medians['WARNING']:.0f}/s, INFO {medians['INFO']:.0f}/s (INFO = {ratio:.0%} of WARNING)"
    )
    path = write_results(
        "log_cost", {"count": args.count, "runs": runs, "median_deliveries_per_s": medians, "info_over_warning": ratio}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
