"""Compare WSGI servers in front of the Chalice app (through ``ChaliceWSGI``).

Each candidate serves a trivial ``GET /ping`` route in its own process; a keep-alive load
generator (``wrk`` if installed, else a multi-process ``http.client`` one from this file)
runs in another process. Several runs per server and concurrency; prints the median req/s
and the median (and worst) p99 latency, and writes ``bench/results/server.json``.

    .venv/bin/python bench/bench_server.py                       # all candidates installed
    .venv/bin/python bench/bench_server.py --servers waitress,cheroot --runs 3 --duration 3

Candidates: ``serve`` (our ``scheduler_local.server.serve``), ``waitress``, ``cheroot``,
``pyruvate`` (Rust, threads, one process), ``granian`` and ``gunicorn`` (gthread), both
with one worker but a parent + worker process pair, and ``chalice-local`` (the baseline).
Servers whose package is missing are skipped. Also prints the in-process cost of one
request through ``ChaliceWSGI`` and through ``chalice.local.LocalGateway``.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import importlib.metadata
import io
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.threadlocal import ThreadSafeChalice
from scheduler_local.wsgi import ChaliceWSGI

SERVERS = ("serve", "waitress", "cheroot", "pyruvate", "granian", "gunicorn", "chalice-local")
PACKAGES = {
    "waitress": "waitress",
    "cheroot": "cheroot",
    "pyruvate": "pyruvate",
    "granian": "granian",
    "gunicorn": "gunicorn",
    "chalice-local": "chalice",
    "serve": "chalice",
}
HOST = "127.0.0.1"


def build_app() -> ThreadSafeChalice:
    app = ThreadSafeChalice("bench", configure_logs=False)

    @app.route("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    for i in range(8):  # a realistic table size: the matcher must skip other routes
        app.route(f"/r{i}/{{item}}", methods=["GET", "POST"])(lambda item: {"item": item})
    return app


@functools.cache
def _worker_wsgi() -> ChaliceWSGI:
    return ChaliceWSGI(build_app())


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Import target for granian and gunicorn workers (built in the worker process)."""
    return _worker_wsgi()(environ, start_response)


def run_server(name: str, port: int, threads: int) -> None:
    """Run one candidate in this process until SIGTERM."""
    app = build_app()
    wsgi = ChaliceWSGI(app)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if name == "serve":
        from scheduler_local.server import serve

        serve(app, HOST, port, threads=threads)
    elif name == "waitress":
        import waitress

        waitress.serve(wsgi, host=HOST, port=port, threads=threads, _quiet=True)
    elif name == "cheroot":
        from cheroot.wsgi import Server

        Server((HOST, port), wsgi, numthreads=threads).safe_start()
    elif name == "pyruvate":
        import pyruvate

        pyruvate.serve(wsgi, f"{HOST}:{port}", threads, max_reuse_count=255, async_logging=False)  # u8: 255 max
    elif name == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "bench.bench_server:wsgi_app",
            address=HOST,
            port=port,
            interface=Interfaces.WSGI,
            workers=1,
            blocking_threads=threads,
            log_enabled=False,
        ).serve()
    elif name == "gunicorn":
        from gunicorn.app.base import BaseApplication

        class _App(BaseApplication):
            def load_config(self) -> None:
                for key, value in {
                    "bind": f"{HOST}:{port}",
                    "workers": 1,
                    "worker_class": "gthread",
                    "threads": threads,
                    "loglevel": "warning",
                    "keepalive": 30,
                }.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                return wsgi_app

        _App().run()
    elif name == "chalice-local":
        from chalice.config import Config
        from chalice.local import create_local_server

        create_local_server(app, Config(), HOST, port).serve_forever()
    else:
        raise SystemExit(f"unknown server {name}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server not ready in time")


def keepalive_ok(port: int) -> bool:
    """Two requests on one connection: a server that never answers the second fails."""
    conn = http.client.HTTPConnection(HOST, port, timeout=3)
    try:
        for _ in range(2):
            conn.request("GET", "/ping")
            response = conn.getresponse()
            response.read()
            if response.status != 200 or response.getheader("connection", "").lower() == "close":
                return False
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def load_wrk(url: str, connections: int, duration: float) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": failed}


def _py_worker(port: int, connections: int, duration: float, out: Any) -> None:
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + duration

    def loop() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/ping")
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            latencies.append(time.perf_counter() - t0) if ok else errors.__setitem__(0, errors[0] + 1)

    workers = [threading.Thread(target=loop) for _ in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((latencies, errors[0]))


def load_python(port: int, connections: int, duration: float, procs: int = 2) -> dict[str, float]:
    procs = max(1, min(procs, connections))
    queue: Any = multiprocessing.get_context("spawn").Queue()
    per_proc = max(1, connections // procs)
    ps = [
        multiprocessing.get_context("spawn").Process(target=_py_worker, args=(port, per_proc, duration, queue))
        for _ in range(procs)
    ]
    for p in ps:
        p.start()
    results = [queue.get(timeout=duration + 60) for _ in ps]
    for p in ps:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {
        "rps": len(lat) / duration,
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
        "errors": sum(r[1] for r in results),
    }


def micro() -> dict[str, float]:
    """Microseconds per in-process request: ChaliceWSGI vs chalice.local.LocalGateway."""
    from chalice.config import Config
    from chalice.local import LocalGateway

    app = build_app()
    wsgi, gateway = ChaliceWSGI(app), LocalGateway(app, Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/r7/abc",
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "*/*",
        "REMOTE_ADDR": "127.0.0.1",
    }
    headers = {"host": "127.0.0.1", "accept": "*/*"}
    cases = {
        "ChaliceWSGI": lambda: wsgi(environ, lambda *a: None),
        "LocalGateway": lambda: gateway.handle_request("GET", "/r7/abc", headers, b""),
    }
    result = {}
    for label, fn in cases.items():
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(5000):
                fn()
            best = min(best, (time.perf_counter() - t0) / 5000)
        result[label] = round(best * 1e6, 1)
    return result


def bench(args: argparse.Namespace) -> dict[str, Any]:
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    report: dict[str, Any] = {
        "client": "wrk -t1" if use_wrk else "python http.client (2 procs)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "params": {
            "runs": args.runs,
            "duration_s": args.duration,
            "threads": args.threads,
            "connections": args.connections,
        },
        "micro_us": micro(),
        "servers": {},
    }
    print(f"in-process µs/request: {report['micro_us']}")
    print(f"{'server':<14}{'conns':>6}{'req/s (median)':>16}{'p50 ms':>9}{'p99 ms (med/max)':>19}{'errors':>8}")
    for name in args.servers:
        try:
            version = importlib.metadata.version(PACKAGES[name])
        except importlib.metadata.PackageNotFoundError:
            print(f"{name:<14}  skipped (not installed)")
            continue
        entry: dict[str, Any] = {"version": version, "by_connections": {}}
        report["servers"][name] = entry
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", name, "--port", str(port), "--threads", str(args.threads)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_ready(port, proc)
            entry["keepalive"] = keepalive_ok(port)
            if not entry["keepalive"]:
                print(f"{name:<14}  skipped: keep-alive broken (no answer to a 2nd request on a connection)")
                continue
            for conns in args.connections:
                duration = min(args.duration, 3) if name == "chalice-local" else args.duration
                runs = []
                for i in range(args.runs + 1):  # first run warms up and is dropped
                    r = (
                        load_wrk(f"http://{HOST}:{port}/ping", conns, duration)
                        if use_wrk
                        else load_python(port, conns, duration)
                    )
                    if i:
                        runs.append(r)
                row = {
                    "runs": runs,
                    "rps_median": statistics.median(r["rps"] for r in runs),
                    "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
                    "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
                    "p99_ms_max": max(r["p99_ms"] for r in runs),
                    "errors": sum(r["errors"] for r in runs),
                }
                entry["by_connections"][str(conns)] = row
                print(
                    f"{name:<14}{conns:>6}{row['rps_median']:>16,.0f}{row['p50_ms_median']:>9.2f}"
                    f"{row['p99_ms_median']:>10.2f}/{row['p99_ms_max']:<8.2f}{row['errors']:>8}",
                    flush=True,
                )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", default=",".join(SERVERS), type=lambda s: s.split(","))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--connections", default="1,16", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "server.json")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve, args.port, args.threads)
        return
    report = bench(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
