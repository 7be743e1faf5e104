"""A thread-per-connection loopback receiver: Python's `ThreadingHTTPServer`, the kind of endpoint many
users run (issue 17 measured us against it), in its own process.

HTTP/1.1 keep-alive, TCP_NODELAY on each accepted socket, a listen backlog of 1,024. It serves the
process protocol of `tests.support.receiver`: it prints `receiver listening on PORT` when ready, records
every request but `GET /_count`, `GET /_records` (which answer the count and the JSON rows
`[arrival ms, webhook-id, scheduler-scheduled-at]`) and `GET /_connections` (connections accepted, and the
most open at once: each is a thread here), and answers `200 ok` to the rest.

    python -m tests.support.threaded_receiver [--port N]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_records: list[list[Any]] = []
_connections = {"accepted": 0, "open": 0, "open_max": 0}
_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with _lock:
            _connections["accepted"] += 1
            _connections["open"] += 1
            _connections["open_max"] = max(_connections["open_max"], _connections["open"])

    def finish(self) -> None:
        super().finish()
        with _lock:
            _connections["open"] -= 1

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: an access log line per request would measure the terminal."""

    def do_GET(self) -> None:
        with _lock:
            if self.path == "/_count":
                body = str(len(_records))
            else:
                body = json.dumps(_connections if self.path == "/_connections" else _records)
        self._answer(body.encode(), "text/plain" if self.path == "/_count" else "application/json")

    def do_POST(self) -> None:
        at_ms = time.time_ns() / 1e6
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with _lock:
            _records.append([at_ms, self.headers.get("webhook-id"), self.headers.get("scheduler-scheduled-at")])
        self._answer(b"ok", "text/plain")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


def main() -> None:
    """Serve as a process; prints `receiver listening on PORT` when ready."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = _Server(("127.0.0.1", args.port), _Handler)
    print(f"receiver listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
