"""Full-size fault runs: prints the figures of RELIABILITY.md and writes `bench/results/faults.json`.

The same scenarios as `tests/reliability` (real server processes on loopback), at full size:

- crash: 10,000 messages due over 10 s, the server SIGKILLed 5 times at random moments;
- outage: 2,000 messages while the receiver answers 503 + Retry-After, and while it refuses connections;
- neighbours: a tenant's 1,000 messages over 10 s while another tenant's 2,000 hang until the deadline;
- storage: the SQLite write lock held by another connection; the disk full (a tmpfs; needs root).

    .venv/bin/python -m bench.faults [--only crash,outage,neighbours,storage] [--messages 10000] [--kills 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import write_results
from tests.reliability.crash import crash_run
from tests.reliability.neighbours import neighbour_run
from tests.reliability.outage import outage_run
from tests.reliability.storage import disk_full_run, lock_run, tiny_disk

SCENARIOS = ("crash", "outage", "neighbours", "storage")


def in_temp_dir(run: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Run a scenario with a fresh data directory, removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="faults-"))
    try:
        return run(where)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def crash(args: argparse.Namespace) -> dict[str, Any]:
    return in_temp_dir(
        lambda d: crash_run(
            d / "data", messages=args.messages, kills=args.kills, spread_s=10.0, seed=args.seed
        ).as_dict()
    )


def outage(args: argparse.Namespace) -> dict[str, Any]:
    return {
        mode: in_temp_dir(lambda d, m=mode: outage_run(d / "data", messages=2_000, mode=m).as_dict())
        for mode in ("503", "refused")
    }


def neighbours(args: argparse.Namespace) -> dict[str, Any]:
    return in_temp_dir(lambda d: neighbour_run(d / "data", quiet=1_000, noisy=2_000, window_s=10.0).as_dict())


def storage(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"lock": in_temp_dir(lambda d: lock_run(d / "data").as_dict())}

    def full_disk(where: Path) -> dict[str, Any]:
        try:
            with tiny_disk(where / "disk", size_mb=24) as mount_point:
                return disk_full_run(mount_point).as_dict()
        except OSError as exc:
            return {"skipped": str(exc)}

    results["disk_full"] = in_temp_dir(full_disk)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--messages", type=int, default=10_000, help="messages of the crash run")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs of the crash run")
    parser.add_argument("--seed", type=int, default=5, help="where the crash run's kills land")
    args = parser.parse_args()
    runners = {"crash": crash, "outage": outage, "neighbours": neighbours, "storage": storage}
    results: dict[str, Any] = {}
    for name in args.only.split(","):
        results[name] = runners[name](args)
        print(f"{name}: {results[name]}", flush=True)
    print(f"wrote {write_results('faults', results)}")


if __name__ == "__main__":
    main()
