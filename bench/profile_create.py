"""In-process cost of one `POST /messages` (no network): the WSGI adapter, Chalice, auth, validation,
SQLite commit. Prints microseconds per create and, with `--profile`, the top functions by own time.

    python -m bench.profile_create [--count 3000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import write_results
from chalicelib import bootstrap
from chalicelib.settings import Settings
from scheduler_local.wiring import bootstrap_admin_key, build_local_runtime
from scheduler_local.wsgi import ChaliceWSGI

TOKEN = "k" * 32


def make_caller(wsgi: ChaliceWSGI) -> Callable[[str, str, Any], tuple[str, bytes]]:
    def call(method: str, path: str, body: Any) -> tuple[str, bytes]:
        raw = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
            "wsgi.input": io.BytesIO(raw),
            "SERVER_NAME": "bench",
            "SERVER_PORT": "0",
            "wsgi.url_scheme": "http",
            "REMOTE_ADDR": "127.0.0.1",
        }
        status: dict[str, str] = {}

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status["line"] = line

        return status.get("line", ""), b"".join(wsgi(environ, start_response))

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from app import app

    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_local_runtime(Settings(data_dir=Path(tmp), admin_key=TOKEN))
        bootstrap_admin_key(runtime.context, runtime.context.settings)
        bootstrap.install(runtime.context)
        call = make_caller(ChaliceWSGI(app))
        _, body = call("POST", "/apps", {"name": "bench", "url": "http://127.0.0.1:9/never"})
        message = {"appId": json.loads(body)["id"], "payload": {"k": "v"}, "delaySeconds": 3600}
        for _ in range(200):  # warm-up
            call("POST", "/messages", message)
        started = time.perf_counter()
        for _ in range(args.count):
            call("POST", "/messages", message)
        per_create_us = (time.perf_counter() - started) / args.count * 1e6
        print(f"{per_create_us:.0f} us per create in process ({args.count} creates)")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.count):
                call("POST", "/messages", message)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        bootstrap.install(None)
        runtime.close()
    print(f"wrote {write_results('profile_create', {'count': args.count, 'us_per_create': per_create_us})}")


if __name__ == "__main__":
    main()
