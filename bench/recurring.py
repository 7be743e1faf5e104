"""Recurring schedules locally: N schedules running every minute; lateness of their runs' messages and
the server process's CPU and memory, against one-off messages at the same times in the same run.

Shapes (each on a fresh `scheduler serve` and a receiver process):
- `staggered`: N schedules `every: 1m`, their `startAt` spread evenly over a minute (N/60 runs a second);
- `burst`: N schedules `cron: * * * * *` (all N runs at the same second of every minute);
- `baseline`: no schedules; the same N-per-minute times as `staggered`, sent as one-off messages
  through the batch route before they are due (what the delivery path does without the dispatcher).
Lateness = receive time at the receiver minus the message's `sendAt` (a run's `sendAt` is its run time).
Only runs due inside the measured window count; `lost` = runs due in it that never arrived. `lead` is
how long before its time the dispatcher created a run's message (read from the SQLite file): above 0
means it kept ahead of the clock. CPU is the server process's user+system seconds over the window.

    python -m bench.recurring --schedules 10000 --minutes 2 --runs 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ReceiverProcess, create_app, iso_ms, post_batches, rss_mb, start_server, summary, write_results

MINUTE_MS = 60_000
WARMUP_MS = 20_000  # after the last schedule exists (and its first run is due), before the window opens


def run_shape(shape: str, count: int, minutes: int) -> dict[str, Any]:
    receiver = ReceiverProcess()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            server = start_server(data_dir)
            try:
                with server.client() as client:
                    app_id = create_app(client, f"{receiver.base}/ok")
                    window = _prepare(shape, server, client, app_id, count, minutes)
                return _measure(shape, server.pid, receiver, data_dir, window)
            finally:
                server.stop()
    finally:
        receiver.close()


def _prepare(shape: str, server: Any, client: httpx.Client, app_id: str, count: int, minutes: int) -> tuple[int, int]:
    """Create the schedules (or one-off messages); returns the measured window [start, end) in Unix ms."""
    now = int(time.time() * 1000)
    if shape == "baseline":
        start = (now // MINUTE_MS + 2) * MINUTE_MS
        due = [start + k * MINUTE_MS + i * MINUTE_MS // count for k in range(minutes) for i in range(count)]
        post_batches(client, [{"appId": app_id, "payload": {"i": i}, "sendAt": iso_ms(ms)} for i, ms in enumerate(due)])
        if time.time() * 1000 > start:
            raise RuntimeError("scheduling the baseline took longer than its lead")
        return start, start + minutes * MINUTE_MS
    anchor = (now // MINUTE_MS + 2) * MINUTE_MS  # staggered starts from here
    bodies = [_body(shape, app_id, i, count, anchor) for i in range(count)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda chunk: _create_all(server, chunk), [bodies[i::4] for i in range(4)]))
    created_s = time.monotonic() - started
    print(f"  created {count} {shape} schedules in {created_s:.1f} s", flush=True)
    ready = max(int(time.time() * 1000), anchor) + MINUTE_MS  # every schedule has run once by then
    start = ((ready + WARMUP_MS) // MINUTE_MS + 1) * MINUTE_MS
    return start, start + minutes * MINUTE_MS


def _body(shape: str, app_id: str, i: int, count: int, anchor: int) -> dict[str, Any]:
    if shape == "burst":
        return {"appId": app_id, "payload": {"i": i}, "cron": "* * * * *"}
    return {"appId": app_id, "payload": {"i": i}, "every": "1m", "startAt": iso_ms(anchor + i * MINUTE_MS // count)}


def _create_all(server: Any, bodies: list[dict[str, Any]]) -> None:
    with server.client() as client:
        for body in bodies:
            response = client.post("/schedules", json=body)
            response.raise_for_status()


def _measure(
    shape: str, pid: int, receiver: ReceiverProcess, data_dir: Path, window: tuple[int, int]
) -> dict[str, Any]:
    start, end = window
    _sleep_until(start)
    cpu_before = _cpu_s(pid)
    _sleep_until(end)
    cpu_s = _cpu_s(pid) - cpu_before
    rss = rss_mb(pid)
    time.sleep(15)  # the window's last runs arrive and their results commit
    from chalicelib.domain.times import parse_instant

    records = receiver.records()
    in_window = {}
    for at, message_id, scheduled in records:
        due = parse_instant(scheduled, field="scheduled")
        if start <= due < end:
            in_window[message_id] = at - due
    expected, leads = _expected_and_leads(data_dir, window)
    late = list(in_window.values())
    return {
        "shape": shape,
        **summary(late),
        "runs_in_window": expected,
        "received": len(late),
        "lost": expected - len(late),
        "early": sum(1 for value in late if value < 0),
        "lead_ms_min": min(leads) if leads else None,
        "lead_ms_p1": _pct(leads, 1),
        "cpu_s_per_min": cpu_s / ((end - start) / MINUTE_MS),
        "cpu_percent_of_one_core": 100 * cpu_s / ((end - start) / 1000),
        "rss_mb": rss,
        "peak_rss_mb": _hwm_mb(pid),
    }


def _expected_and_leads(data_dir: Path, window: tuple[int, int]) -> tuple[int, list[int]]:
    """Messages due in the window (runs or one-offs), and how early each run's message was created."""
    conn = sqlite3.connect(f"file:{data_dir / 'scheduler.db'}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT send_at - created_at, schedule_id IS NOT NULL FROM messages WHERE send_at >= ? AND send_at < ?",
            window,
        ).fetchall()
    finally:
        conn.close()
    return len(rows), [lead for lead, is_run in rows if is_run]


def _pct(values: list[int], pct: float) -> float | None:
    from bench.common import percentile

    return percentile(values, pct) if values else None


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sleep_until(ms: int) -> None:
    while (left := ms / 1000 - time.time()) > 0:
        time.sleep(min(left, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=2, help="measured minutes per shape and run")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--shapes", default="baseline,staggered,burst")
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    runs: dict[str, list[dict[str, Any]]] = {shape: [] for shape in shapes}
    for n in range(args.runs):
        for shape in shapes:
            result = run_shape(shape, args.schedules, args.minutes)
            runs[shape].append(result)
            print(f"run {n + 1} {shape:10} {_line(result)}", flush=True)
    medians = {shape: _median_of(results) for shape, results in runs.items()}
    print(f"\n{args.schedules} schedules every minute, {args.minutes} min measured, {args.runs} runs; median of runs:")
    print(f"{'':11}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'lost':>6}{'cpu %':>7}{'rss MB':>8}")
    for shape, m in medians.items():
        print(
            f"{shape:11}{m['p50']:8.1f}{m['p99']:8.1f}{m['max']:8.1f}{m['lost']:6.0f}"
            f"{m['cpu_percent_of_one_core']:7.1f}{m['rss_mb']:8.0f}"
        )
    path = write_results(
        "recurring",
        {"schedules": args.schedules, "minutes": args.minutes, "runs": runs, "median_of_runs": medians},
    )
    print(f"wrote {path}")


def _median_of(results: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("p50", "p99", "max", "lost", "cpu_percent_of_one_core", "rss_mb", "peak_rss_mb")
    return {key: statistics.median(float(r[key]) for r in results) for key in keys}


def _line(result: dict[str, Any]) -> str:
    return (
        f"p50 {result['p50']:.1f} ms  p99 {result['p99']:.1f} ms  max {result['max']:.1f} ms  lost {result['lost']}"
        f"  early {result['early']}  lead min {result['lead_ms_min']} ms  cpu {result['cpu_percent_of_one_core']:.1f} %"
        f"  rss {result['rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
