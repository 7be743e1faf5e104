"""A loopback webhook receiver for tests and benchmarks (aiohttp.web: keep-alive, TCP_NODELAY).

Paths choose the behaviour: `/ok`, `/status/<code>` (optionally `?retry_after=S`), `/flaky/<n>`
(fails each message's first n attempts with 500), `/slow/<ms>`, `/hang`. Every request is recorded
with its arrival time. Runs in a thread (`Receiver`) or as a process (`python -m tests.support.receiver`),
which serves `GET /_records` (JSON) and `GET /_count`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Received:
    """One request as it arrived."""

    at_ms: float
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Behaviour:
    """Shared state of one receiver."""

    records: list[Received] = field(default_factory=list)
    seen: collections.Counter[str] = field(default_factory=collections.Counter)
    keep_bodies: bool = True


def build_app(state: Behaviour) -> web.Application:
    """The aiohttp application implementing the paths of the module docstring."""

    async def handle(request: web.Request) -> web.StreamResponse:
        at_ms = time.time_ns() / 1e6
        body = await request.read()
        if request.method == "GET" and request.path == "/_count":
            return web.Response(text=str(len(state.records)))
        if request.method == "GET" and request.path == "/_records":
            rows = [
                [r.at_ms, r.headers.get("webhook-id"), r.headers.get("scheduler-scheduled-at")] for r in state.records
            ]
            return web.Response(text=json.dumps(rows), content_type="application/json")
        headers = {k.lower(): v for k, v in request.headers.items()}
        state.records.append(Received(at_ms, request.path, headers, body if state.keep_bodies else b""))
        return await _respond(state, request, headers)

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _respond(state: Behaviour, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    parts = request.path.strip("/").split("/")
    kind, arg = parts[0], (parts[1] if len(parts) > 1 else "")
    if kind == "status":
        extra = {"Retry-After": request.query["retry_after"]} if "retry_after" in request.query else {}
        return web.Response(status=int(arg), text=f"status {arg}", headers=extra)
    if kind == "flaky":
        key = headers.get("webhook-id", "")
        state.seen[key] += 1
        if state.seen[key] <= int(arg):
            return web.Response(status=500, text="flaky", headers={"Retry-After": "0"})
    if kind == "slow":
        await asyncio.sleep(int(arg) / 1000)
    if kind == "hang":
        await asyncio.sleep(3600)
    return web.Response(text="ok")


class Receiver:
    """A receiver on a free loopback port, in a background thread."""

    def __init__(self, *, keep_bodies: bool = True) -> None:
        self.state = Behaviour(keep_bodies=keep_bodies)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> Receiver:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("receiver did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            assert self._runner is not None
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def records(self) -> list[Received]:
        return list(self.state.records)

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Received]:
        """Poll until `count` requests arrived (or fail after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while len(self.state.records) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"received {len(self.state.records)} of {count} requests in {timeout_s}s")
            time.sleep(0.01)
        return self.records

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(
            build_app(self.state), access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=4096)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()


def main() -> None:
    """Serve as a process; prints `receiver listening on PORT` when ready."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    state = Behaviour(keep_bodies=False)

    async def start() -> None:
        runner = web.AppRunner(build_app(state), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"receiver listening on {port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(start())


if __name__ == "__main__":
    main()
