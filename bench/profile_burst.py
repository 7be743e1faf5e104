"""Where the server's time goes while it delivers a burst: py-spy samples the `scheduler serve` process
during N messages due at once, and this prints the share of samples per thread and the top frames.

Needs py-spy (`.venv/bin/pip install py-spy`; not a project dependency).

    python -m bench.profile_burst [--count 40000]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import burst, post_batches, service_and_receiver, write_results


def sample(count: int, raw: Path) -> float:
    """Run the burst under py-spy; returns seconds from the due instant to the last arrival."""
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with service_and_receiver() as (server, receiver, app_id):
        due = int(time.time() * 1000) + max(10_000, count // 4)
        with server.client() as client:
            post_batches(client, burst(app_id, count, due))
        time.sleep(max(0.0, due / 1000 - time.time() - 0.2))
        seconds = str(max(5, count // 5000))
        spy = subprocess.Popen(
            [spy_bin, "record", "-p", str(server.pid), "-d", seconds, "-r", "200", "-f", "raw", "-o", str(raw),
             "--threads", "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        receiver.wait_for(count, timeout_s=120)
        span = time.time() - due / 1000
        spy.wait()
        return span


def shares(raw: Path) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Share of samples per thread, and the top frames by own samples."""
    threads: collections.Counter[str] = collections.Counter()
    frames: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        parts = stack.split(";")
        threads[parts[0].split(": ")[-1]] += int(count)
        frames[parts[-1]] += int(count)
    total = sum(threads.values()) or 1
    return (
        {name: n / total for name, n in threads.most_common()},
        [(frame, n / total) for frame, n in frames.most_common(12)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=40_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "burst.raw"
        span = sample(args.count, raw)
        by_thread, top = shares(raw)
    print(f"{args.count} deliveries in {span:.2f} s ({args.count / span:.0f}/s) while sampled")
    for name, share in by_thread.items():
        print(f"{share * 100:5.1f}%  {name}")
    print("top frames by own samples:")
    for frame, share in top:
        print(f"{share * 100:5.1f}%  {frame[:110]}")
    print(f"wrote {write_results('profile_burst', {'count': args.count, 'threads': by_thread, 'top': top})}")


if __name__ == "__main__":
    main()
