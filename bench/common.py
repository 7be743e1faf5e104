"""Shared benchmark plumbing: receiver and server processes, percentiles, results files."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess

# `--receiver` of the benchmarks: aiohttp (asyncio, one process) or Python's ThreadingHTTPServer
# (a thread per connection), the two kinds of endpoint users run.
RECEIVERS = {"aiohttp": "tests.support.receiver", "threaded": "tests.support.threaded_receiver"}


class ReceiverProcess:
    """The loopback receiver in its own process (so it does not share our cores' GIL)."""

    def __init__(self, kind: str = "aiohttp") -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, "-m", RECEIVERS[kind]], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (\d+)", line)
        if not match:
            raise RuntimeError(f"receiver did not start: {line!r}")
        self.port = int(match.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        return int(httpx.get(f"{self.base}/_count", timeout=30).text)

    def records(self) -> list[list[Any]]:
        return httpx.get(f"{self.base}/_records", timeout=120).json()  # type: ignore[no-any-return]

    def connections(self) -> dict[str, int] | None:
        """Connections the threaded receiver accepted and held open at most at once (None for aiohttp)."""
        if self.kind != "threaded":
            return None
        return httpx.get(f"{self.base}/_connections", timeout=30).json()  # type: ignore[no-any-return]

    def wait_for(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.25)
        return False

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class KeepAlivePost:
    """The job APScheduler runs in the benchmarks: a POST on a keep-alive connection of the executor thread (stdlib
    http.client: a shared httpx client costs several times the CPU per request and would measure httpx)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._local = threading.local()

    def __call__(self, body: bytes, headers: dict[str, str]) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
        connection.request("POST", "/ok", body=body, headers={"content-type": "application/json", **headers})
        connection.getresponse().read()


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (0 < pct <= 100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(pct / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p99, max and mean."""
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write `bench/results/<name>.json` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
    }
    path.write_text(json.dumps({**payload, **data}, indent=2) + "\n")
    return path


def start_server(data_dir: Path, **env: str) -> ServerProcess:
    """A fresh `scheduler serve` process with an unlimited admin key."""
    return ServerProcess(data_dir, {"LOG_LEVEL": "WARNING", **env}).start(timeout_s=120)


def create_app(client: httpx.Client, url: str) -> str:
    response = client.post("/apps", json={"name": "bench", "url": url})
    response.raise_for_status()
    return str(response.json()["id"])


def post_batches(client: httpx.Client, messages: Sequence[dict[str, Any]], size: int = 100) -> list[str]:
    """Schedule `messages` through the batch route; returns their ids."""
    ids: list[str] = []
    for start in range(0, len(messages), size):
        response = client.post("/messages/batch", json={"messages": list(messages[start : start + size])})
        response.raise_for_status()
        for item in response.json()["items"]:
            if "error" in item:
                raise RuntimeError(f"batch item failed: {item}")
            ids.append(item["id"])
    return ids


@contextlib.contextmanager
def service_and_receiver(
    receiver_kind: str = "aiohttp", **env: str
) -> Iterator[tuple[ServerProcess, ReceiverProcess, str]]:
    """A receiver process of `receiver_kind` and a fresh `scheduler serve` (`env` over the defaults) with one
    app delivering to the receiver's `/ok`."""
    receiver = ReceiverProcess(receiver_kind)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            server = start_server(Path(tmp) / "data", **env)
            try:
                with server.client() as client:
                    app_id = create_app(client, f"{receiver.base}/ok")
                yield server, receiver, app_id
            finally:
                server.stop()
    finally:
        receiver.close()


def burst(app_id: str, count: int, due_ms: int) -> list[dict[str, Any]]:
    """`count` messages of `app_id`, all due at `due_ms`."""
    send_at = iso_ms(due_ms)
    return [{"appId": app_id, "payload": {"i": i}, "sendAt": send_at} for i in range(count)]


def delivered_today(client: httpx.Client) -> int:
    """Today's committed `delivered` count of the client's tenant."""
    return int(client.get("/usage").json()["items"][-1]["delivered"])


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
