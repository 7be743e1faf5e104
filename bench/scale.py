"""Scale: 1,000,000 pending messages. Server RSS, time to ready after a restart, and a message due during
the run still fires on time.

The pending messages are written straight into the data directory through the local store (the same
code the API uses, in batches of 10,000) to save the minutes the HTTP path would take; then the real
server process starts on that directory.

    python -m bench.scale --pending 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ReceiverProcess, create_app, iso_ms, rss_mb, start_server, write_results
from chalicelib.domain import ids
from chalicelib.domain.model import Message, Status, UsageDelta
from chalicelib.domain.times import day_of
from chalicelib.ports import NewMessage
from chalicelib.settings import Settings
from scheduler_local.wiring import build_local_runtime

CHUNK = 10_000


def fill(data_dir: Path, app_id: str, pending: int) -> float:
    """Insert `pending` messages due 1-30 days ahead; returns seconds taken."""
    runtime = build_local_runtime(Settings(data_dir=data_dir))
    store = runtime.context.messages
    now = int(time.time() * 1000)
    started = time.monotonic()
    try:
        for start in range(0, pending, CHUNK):
            batch = []
            for i in range(start, min(start + CHUNK, pending)):
                due = now + 86_400_000 + (i * 2_591) % (29 * 86_400_000)
                message = Message(ids.new_id(ids.MESSAGE_PREFIX), "default", app_id, Status.SCHEDULED, due, due, now, 8)
                batch.append(NewMessage(message, '{"n":1}'))
            store.insert_messages(batch, UsageDelta("default", day_of(now)), idempotency_ttl_ms=86_400_000)
            if start % 100_000 == 0:
                print(f"  filled {start + len(batch):,} / {pending:,}", flush=True)
    finally:
        runtime.close()
    return time.monotonic() - started


def time_to_ready(data_dir: Path) -> tuple[Any, float]:
    started = time.monotonic()
    server = start_server(data_dir)
    return server, time.monotonic() - started


def on_time_probe(server: Any, receiver: ReceiverProcess, app_id: str) -> float:
    """Schedule one message 3 s ahead; its lateness in ms at the receiver."""
    before = receiver.count()
    with server.client() as client:
        due = int(time.time() * 1000) + 3_000
        client.post("/messages", json={"appId": app_id, "payload": 1, "sendAt": iso_ms(due)}).raise_for_status()
    if not receiver.wait_for(before + 1, timeout_s=30):
        raise RuntimeError("probe message did not arrive")
    return float(receiver.records()[-1][0] - due)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=1_000_000)
    args = parser.parse_args()
    receiver = ReceiverProcess()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server, _ = time_to_ready(data_dir)
        with server.client() as client:
            app_id = create_app(client, f"{receiver.base}/ok")
        server.stop()
        print(f"filling {args.pending:,} pending messages...", flush=True)
        fill_s = fill(data_dir, app_id, args.pending)
        db_mb = sum(p.stat().st_size for p in data_dir.iterdir() if p.is_file()) / 1e6
        server, ready_s = time_to_ready(data_dir)
        try:
            late_ms = on_time_probe(server, receiver, app_id)
            rss = rss_mb(server.pid)
            server.stop()
            server, restart_ready_s = time_to_ready(data_dir)
            late_after_restart_ms = on_time_probe(server, receiver, app_id)
            rss_after_restart = rss_mb(server.pid)
        finally:
            server.stop()
            receiver.close()
    result = {
        "pending": args.pending,
        "fill_seconds": fill_s,
        "database_mb": db_mb,
        "ready_s_after_start": ready_s,
        "ready_s_after_restart": restart_ready_s,
        "rss_mb": rss,
        "rss_mb_after_restart": rss_after_restart,
        "probe_late_ms": late_ms,
        "probe_late_ms_after_restart": late_after_restart_ms,
    }
    for key, value in result.items():
        print(f"{key:32} {value:,.1f}" if isinstance(value, float) else f"{key:32} {value:,}")
    print("targets: RSS <= 300 MB, ready <= 5 s, probe on time")
    print(f"wrote {write_results('scale', result)}")


if __name__ == "__main__":
    main()
