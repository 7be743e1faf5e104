"""Shared plumbing of the fault, fuzz and security tests (and of `bench/faults.py`).

- `SwitchReceiver`: a loopback webhook receiver in a thread whose behaviour can be switched
  while it runs: `up`, `down` (503 + `Retry-After`), `refusing` (its socket closed, so
  connections are refused on the same port) — plus the paths `/ok`, `/slow/<ms>`, `/hang` and
  `/redirect` (a 302 to `/ok`).
- `ReceiverProcess`: `tests.support.receiver` in a process of its own (for load that must not share
  the measuring receiver's GIL, such as hung requests).
- `Cluster`: a `ServerProcess` with an operator key, tenants made through `/tenants`, and
  paging helpers; `read_db` opens the SQLite file read-only (the server may be dead).
- `poll` / `wait_for`: wait for a condition with a deadline (no sleeping for outcomes).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp import web

from chalicelib.domain.times import parse_instant
from tests.support.server import ROOT, ServerProcess

T = TypeVar("T")
OPERATOR_KEY = "op_reliability_operator_key_0123456789"


def poll(predicate: Callable[[], T], timeout_s: float, interval_s: float = 0.05, what: str = "condition") -> T:
    """Call `predicate()` until it returns something truthy (returned), or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s (last: {value!r})")
        time.sleep(interval_s)


def wait_for(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Like `poll`, but tells whether the condition was met instead of failing (for figures)."""
    try:
        poll(predicate, timeout_s, interval_s)
    except AssertionError:
        return False
    return True


# ---- receiver ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One request as the receiver saw it (wall-clock ms, path, the headers that matter)."""

    at_ms: float
    path: str
    message_id: str
    scheduled_at: str
    attempt: int
    headers: dict[str, str]

    @property
    def late_ms(self) -> float:
        """Arrival minus the message's `sendAt` (positive: late)."""
        return self.at_ms - parse_instant(self.scheduled_at, field="scheduled_at")


@dataclass
class _State:
    mode: str = "up"  # up | down
    retry_after: str = "1"
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SwitchReceiver:
    """A receiver on a fixed loopback port whose behaviour can change while messages arrive."""

    def __init__(self, *, keep_headers: bool = False) -> None:
        self._state = _State()
        self._keep_headers = keep_headers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="switch-receiver", daemon=True)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    def __enter__(self) -> SwitchReceiver:
        self._thread.start()
        self._call(self._setup())
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        runner = self._runner
        if runner is not None:
            self._call(runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        """The URL of `path` on this receiver (`host` may be any spelling of loopback)."""
        return f"http://{host}:{self.port}{path}"

    # -- switching --

    def down(self, retry_after: str = "1") -> None:
        """Answer every delivery with 503 and `Retry-After: <retry_after>`."""
        self._state.retry_after = retry_after
        self._state.mode = "down"

    def up(self) -> None:
        """Answer normally again (and accept connections, if refusing)."""
        self._state.mode = "up"
        if self._site is None:
            self._call(self._listen())

    def refuse(self) -> None:
        """Close the listening socket: connections to the port are refused until `up()`."""
        site = self._site
        self._site = None
        if site is not None:
            self._call(site.stop())

    # -- what arrived --

    @property
    def hits(self) -> list[Hit]:
        with self._state.lock:
            return list(self._state.hits)

    def count(self, path: str | None = None) -> int:
        with self._state.lock:
            return sum(1 for hit in self._state.hits if path is None or hit.path == path)

    # -- internals --

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    async def _setup(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()

    async def _listen(self) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=4096, reuse_address=True)
        await site.start()
        self._site = site
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        at_ms = time.time_ns() / 1e6
        await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()} if self._keep_headers else {}
        hit = Hit(
            at_ms,
            request.path,
            request.headers.get("webhook-id", ""),
            request.headers.get("scheduler-scheduled-at", "1970-01-01T00:00:00Z"),
            int(request.headers.get("scheduler-attempt", "0")),
            headers,
        )
        with self._state.lock:
            self._state.hits.append(hit)
        return await self._respond(request.path)

    async def _respond(self, path: str) -> web.StreamResponse:
        if self._state.mode == "down":
            return web.Response(status=503, text="down", headers={"Retry-After": self._state.retry_after})
        if path == "/hang":
            await asyncio.sleep(3600)
        if path.startswith("/slow/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        if path == "/redirect":
            return web.Response(status=302, headers={"Location": "/ok"})
        return web.Response(text="ok")


class ReceiverProcess:
    """`tests.support.receiver` in its own process: an endpoint whose load (hung requests) must not
    share a GIL with the receiver that measures lateness. `count()` is how many requests arrived."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.receiver"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        match = re.search(r"listening on (\d+)", self.proc.stdout.readline())
        if match is None:
            self.close()
            raise RuntimeError("receiver process did not start")
        self.port = int(match.group(1))

    def __enter__(self) -> ReceiverProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self) -> int:
        return int(httpx.get(self.url("/_count"), timeout=10, trust_env=False).text)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


# ---- server and tenants -------------------------------------------------------------------------


class Cluster:
    """One local server process with an operator key, and helpers to make tenants and walk lists."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.server = ServerProcess(data_dir, {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY, "LOG_LEVEL": "WARNING", **env})

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def start(self) -> Cluster:
        self.server.start(timeout_s=60)
        return self

    def kill(self) -> None:
        self.server.kill()

    def client(self, token: str | None = None) -> httpx.Client:
        """A client of the running server (admin key of tenant `default` unless `token`)."""
        return self.server.client(token) if token else self.server.client()

    def tenant(self, name: str, plan: str = "unlimited") -> str:
        """A new tenant; returns its admin key."""
        with self.server.client(OPERATOR_KEY) as operator:
            response = operator.post("/tenants", json={"name": name, "plan": plan})
        assert response.status_code == 201, response.text
        return str(response.json()["adminKey"])


def create_app(client: httpx.Client, url: str, **fields: Any) -> dict[str, Any]:
    """A new app (asserts the 201)."""
    response = client.post("/apps", json={"name": "reliability", "url": url, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_key(client: httpx.Client, *scopes: str) -> dict[str, Any]:
    """A new API key with `scopes` (asserts the 201)."""
    response = client.post("/keys", json={"name": "-".join(scopes), "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return dict(response.json())


def list_all(client: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a paginated list, following `nextCursor` to the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": "500", **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def schedule_batch(client: httpx.Client, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Post one batch (asserts the 200 and that no item failed)."""
    response = client.post("/messages/batch", json={"messages": messages})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert not [item for item in items if "error" in item], items
    return list(items)


@contextlib.contextmanager
def read_db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """The server's SQLite file, opened read-only (works while the server is dead or alive)."""
    conn = sqlite3.connect(f"file:{data_dir / 'scheduler.db'}?mode=ro", uri=True, timeout=5.0)
    try:
        yield conn
    finally:
        conn.close()


def count_status(data_dir: Path, status: str) -> int:
    """How many messages are in `status`, straight from the SQLite file."""
    with read_db(data_dir) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE status = ?", (status,)).fetchone()[0])


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 < pct <= 100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]
