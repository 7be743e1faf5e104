"""Micro-benchmark: how many deliveries per second one ``HttpSender`` makes on this machine.

A raw asyncio HTTP/1.1 receiver (keep-alive, TCP_NODELAY, answers ``200 ok``) runs in another
process on 127.0.0.1; the sender signs and posts N messages with a fixed concurrency, after a
warm-up, and the median of the runs is printed.

    .venv/bin/python bench/bench_sender.py [--n 20000] [--concurrency 256] [--runs 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from chalicelib.delivery import HttpSender
from chalicelib.domain.delivery import DeliveryRequest

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_CONTENT_LENGTH = b"\r\ncontent-length:"


class _Receiver(asyncio.Protocol):
    """Just enough HTTP/1.1: requests with Content-Length, keep-alive, one response each."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[:end]).lower()
            start = head.find(_CONTENT_LENGTH)
            length = 0
            if start >= 0:
                stop = head.find(b"\r\n", start + 2)
                length = int(head[start + len(_CONTENT_LENGTH) : stop if stop >= 0 else None])
            if len(self._buffer) < end + 4 + length:
                return
            del self._buffer[: end + 4 + length]
            assert self._transport is not None
            self._transport.write(_RESPONSE)


def _serve(conn: Connection) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Receiver, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _request(url: str, index: int) -> DeliveryRequest:
    return DeliveryRequest(
        message_id=f"msg_{index:026d}",
        app_id="app_bench",
        url=url,
        headers={"x-bench": "1"},
        body=json.dumps({"index": index, "data": "x" * 200}).encode(),
        secrets=("whsec_" + base64.b64encode(b"k" * 32).decode(),),
        scheduled_at="2026-12-01T10:00:00.000Z",
        attempt=1,
    )


async def _run(sender: HttpSender, requests: list[DeliveryRequest], concurrency: int) -> tuple[float, int]:
    """Send everything with ``concurrency`` workers; return (seconds, failures)."""
    queue = iter(requests)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for request in queue:
            if not (await sender.send(request)).ok:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, failures


async def _bench(port: int, n: int, concurrency: int, runs: int) -> list[float]:
    url = f"http://127.0.0.1:{port}/hook"
    requests = [_request(url, i) for i in range(n)]
    sender = HttpSender(user_agent="point-in-time-scheduler/bench", allow_private=True, max_connections=512)
    try:
        await _run(sender, requests[: min(n, 2000)], concurrency)  # warm-up: pool, caches
        rates = []
        for run in range(1, runs + 1):
            seconds, failures = await _run(sender, requests, concurrency)
            rates.append(n / seconds)
            print(f"run {run}: {n} deliveries in {seconds:.2f} s = {n / seconds:,.0f}/s, {failures} failed")
    finally:
        await sender.aclose()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    try:
        rates = asyncio.run(_bench(parent.recv(), args.n, args.concurrency, args.runs))
    finally:
        server.terminate()
        server.join()
    median = statistics.median(rates)
    print(f"sender: median {median:,.0f} deliveries/s (n={args.n}, concurrency={args.concurrency})")
    if args.out:
        figures = {**vars(args), "out": str(args.out), "deliveries_per_s": round(median)}
        figures["per_run"] = [round(rate) for rate in rates]
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
