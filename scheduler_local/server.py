"""The local HTTP server: waitress in one process, with a graceful stop.

Chosen by measurement: ``bench/bench_server.py`` (trivial ``GET /ping`` through
``ChaliceWSGI``, 16 threads, ``wrk -t1`` in another process, median of 5 runs of 4 s; this
VM varies 15-25 % from run to run; full figures in ``bench/results/server.json``)::

    server            1 conn req/s  p99 ms   16 conns req/s  p99 ms   one process
    serve() waitress         4,338    0.74            4,070   10.4    yes
    waitress (plain)         4,765    1.47            4,938    9.1    yes
    cheroot                  4,921    2.71            4,886   12.7    yes (p99 max 179 ms)
    granian (1 worker)       7,364    2.52           11,661    8.0    no: parent + worker
    gunicorn gthread (1)     2,865    0.80            3,172   12.4    no: arbiter + worker
    pyruvate                    keep-alive broken: a 2nd request on a connection hangs
    chalice local               23   47.9              288   97.7    yes

The app must live in ONE process (in-process timer, ``fcntl`` lock on the data directory)
and stop cleanly from Python. granian is fastest but forks its worker on a GIL build (its
in-process mode needs free-threaded Python); pyruvate can neither be stopped nor drained
from Python. Between the two left, waitress and cheroot tie on throughput, and waitress
keeps the steadier tail under concurrency (cheroot's p99 spikes past 100 ms). serve() and
plain waitress differ only within run-to-run noise.

What this module adds to waitress:

* errors that waitress answers itself (413 body too large, 400 malformed request, 431,
  501) get the service's JSON error shape instead of waitress's text/plain page;
* the body limit is enforced by waitress's parser, so an oversize ``Content-Length`` is
  refused before a byte of the body is read or buffered (waitress otherwise buffers up to
  1 GiB before calling the app);
* ``poll()`` instead of ``select()`` (no 1024-descriptor ceiling), TCP_NODELAY on every
  connection (waitress's default: without it, keep-alive requests stall 40 ms on delayed
  ACKs), no "Task queue depth" warning per request under load;
* ``Server.stop()``: stop accepting, let in-flight requests finish (bounded), close idle
  keep-alive connections, stop the worker threads, then return.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from chalicelib.threadlocal import ThreadSafeChalice
from scheduler_local.wsgi import ChaliceWSGI

__all__ = ["Server", "serve"]

SWITCH_INTERVAL_S = 0.001  # see serve()

log = logging.getLogger(__name__)

_ERROR_CODES = {400: "bad_request", 413: "payload_too_large", 431: "headers_too_large", 501: "not_implemented"}


class _JSONErrorTask(ErrorTask):
    """Waitress's own error responses, in the service's error shape."""

    def execute(self) -> None:
        error = self.request.error
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            message = f"the request body is larger than {limit} bytes"
        else:
            message = f"{error.reason}: {error.body}"
        code = _ERROR_CODES.get(error.code, "internal_error")
        body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
        data = body.encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(data)
        self.write(data)


class _Channel(HTTPChannel):
    error_task_class = _JSONErrorTask

    def send_continue(self) -> None:
        if self.request is not None and self.request.error is not None:
            return  # no "100 Continue" inviting a body that is already refused (413)
        super().send_continue()


class _TcpServer(TcpWSGIServer):
    channel_class = _Channel


class _QuietLog:
    def warning(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Dispatcher(ThreadedTaskDispatcher):
    # waitress warns on every request that has to wait for a thread: noise under load.
    queue_logger = _QuietLog()


class Server:
    """A waitress server bound at construction (``port=0`` picks a free port).

    ``start()`` runs it in a background thread; ``stop()`` shuts it down gracefully;
    ``request_stop()`` is safe to call from a signal handler and wakes ``wait()``.
    A plain ``Chalice`` app is refused when ``threads > 1`` (its ``current_request`` is
    shared by all threads) unless ``allow_thread_unsafe_app`` is set.
    """

    def __init__(
        self,
        app: Chalice | ChaliceWSGI,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 16,
        shutdown_timeout: float = 5.0,
        connection_limit: int = 1000,
        allow_thread_unsafe_app: bool = False,
    ) -> None:
        wsgi = app if isinstance(app, ChaliceWSGI) else ChaliceWSGI(app)
        if threads > 1 and not isinstance(wsgi.app, ThreadSafeChalice) and not allow_thread_unsafe_app:
            raise TypeError("a threaded server needs a ThreadSafeChalice app (chalicelib.threadlocal)")
        wsgi.warm_up()  # fail now, not on the first request, if the route table is unusable
        self.shutdown_timeout = shutdown_timeout
        adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=wsgi.max_body_bytes + 1,
            asyncore_use_poll=True,
            connection_limit=connection_limit,
        )
        self._dispatcher = _Dispatcher()
        self._map: dict[int, Any] = {}
        self._server = _TcpServer(wsgi, map=self._map, dispatcher=self._dispatcher, adj=adj)
        self._dispatcher.set_thread_count(threads)
        self.host: str = self._server.effective_host
        self.port: int = int(self._server.effective_port)
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._pipe_open = True

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Server:
        """Serve in a background thread; return at once."""
        self._thread = threading.Thread(target=self._server.run, name="http-server-loop", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask ``wait()`` to return. Async-signal-safe (one ``write`` to a pipe)."""
        if not self._pipe_open:
            return  # closed by stop(): the descriptor number may belong to another file by now
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def wait(self) -> None:
        """Block until ``request_stop()`` (for example from a signal handler)."""
        if self._pipe_open:
            os.read(self._wake_r, 1)

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting, finish in-flight requests (bounded), close connections and threads."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + (self.shutdown_timeout if timeout is None else timeout)
        server = self._server
        running = self._thread is not None and self._thread.is_alive()
        if running:
            self._in_loop(lambda: wasyncore.dispatcher.close(server), deadline)  # the listening socket only
            while self._busy() and time.monotonic() < deadline:
                time.sleep(0.01)  # graceful drain: bounded poll of in-flight requests
            self._in_loop(self._close_channels, deadline)
        else:
            wasyncore.dispatcher.close(server)
        finished = self._dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))
        threads_left = bool(self._dispatcher.threads)
        if running:
            # With a worker still running, only unhook the trigger: closing its pipe could let
            # a late write hit whatever file reuses the descriptor.
            self._in_loop(server.trigger.del_channel if threads_left else server.trigger.close, deadline)
            assert self._thread is not None
            self._thread.join(max(0.1, deadline - time.monotonic()))
        elif not threads_left:
            server.trigger.close()
        if threads_left or not finished:
            log.warning("HTTP server stopped with %d request thread(s) still busy", len(self._dispatcher.threads))
        self.request_stop()  # wake a wait() still pending
        self._pipe_open = False
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def _in_loop(self, thunk: Callable[[], Any], deadline: float) -> None:
        """Run ``thunk`` on the event-loop thread (wasyncore is not thread-safe) and wait."""
        done = threading.Event()

        def call() -> None:
            try:
                thunk()
            finally:
                done.set()

        self._server.trigger.pull_trigger(call)
        done.wait(max(0.1, deadline - time.monotonic()))

    def _busy(self) -> bool:
        dispatcher = self._dispatcher
        if dispatcher.queue or dispatcher.active_count > 0:
            return True
        try:
            channels = [ch for ch in list(self._map.values()) if isinstance(ch, HTTPChannel)]
        except RuntimeError:  # the loop thread changed the map meanwhile: look again
            return True
        return any(ch.requests or ch.request is not None or ch.total_outbufs_len for ch in channels)

    def _close_channels(self) -> None:
        for channel in list(self._map.values()):
            if isinstance(channel, HTTPChannel):
                channel.close()

    def __enter__(self) -> Server:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    app: Chalice | ChaliceWSGI,
    host: str,
    port: int,
    *,
    threads: int = 16,
    on_ready: Callable[[Server], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    shutdown_timeout: float = 5.0,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then stop gracefully and return.

    Prints ``listening on http://HOST:PORT`` (the real port when ``port=0``) once requests
    are accepted, after ``on_ready(server)`` has returned. ``on_stop()`` runs after the
    server has stopped, even on error: the place to stop the engine. Signal handlers are
    installed only when called from the main thread and restored on return; elsewhere
    ``server.request_stop()`` (the server is given to ``on_ready``) ends it.
    """
    server: Server | None = None
    previous: dict[signal.Signals, Any] = {}
    switch_interval = sys.getswitchinterval()
    # A short request waits for the GIL at every hand-over (socket, worker, each SQLite call): with the
    # default 5 ms interval, a tenant's CPU-heavy batches added 25-50 ms to everyone else's requests
    # (bench/writer_fairness.py). 1 ms bounds each wait at the cost of more switching.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        server = Server(app, host, port, threads=threads, shutdown_timeout=shutdown_timeout)
        stop = server.request_stop
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: stop())
        server.start()
        if on_ready is not None:
            on_ready(server)
        print(f"listening on {server.url}", flush=True)  # noqa: T201 (the line callers wait for)
        server.wait()
    finally:
        try:
            if server is not None:
                server.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sys.setswitchinterval(switch_interval)
            if on_stop is not None:
                on_stop()
