"""Two tenants hammering the real threaded server never see each other's request.

Chalice keeps ``app.current_request`` in one attribute shared by all threads. The route
below reads the caller's bearer token, yields the GIL (``time.sleep(0)``) so another
request can be dispatched in between, then reads the body. With ``ThreadSafeChalice`` each
server thread has its own request, so every response echoes exactly what its caller sent,
through an app route and a blueprint route alike. The same load on a plain ``Chalice``
app must produce a crossed response (asserted, within a deadline), which shows the test
would catch the bug it guards against.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from chalice.app import Blueprint, Chalice

from chalicelib.threadlocal import ThreadSafeChalice
from scheduler_local.server import Server

TENANTS = {"alpha": "sk_alpha_" + "a" * 24, "beta": "sk_beta_" + "b" * 24}
CLIENT_THREADS_PER_TENANT = 6
REQUESTS_PER_THREAD = 200
SERVER_THREADS = 16


def make_app(cls: type[Chalice]) -> Chalice:
    app = cls("threadsafety", configure_logs=False, env={})
    bp = Blueprint(__name__)

    def echo(request_of: Any) -> dict[str, Any]:
        token = request_of().headers["authorization"].removeprefix("Bearer ")
        time.sleep(0)  # let another request in between the two reads
        return {"token": token, "body": request_of().json_body, "tenant": request_of().headers["x-tenant"]}

    @app.route("/echo", methods=["POST"])
    def app_echo() -> dict[str, Any]:
        return echo(lambda: app.current_request)

    @bp.route("/bp/echo", methods=["POST"])
    def bp_echo() -> dict[str, Any]:
        return echo(lambda: bp.current_request)

    app.register_blueprint(bp)
    return app


@contextmanager
def running(app: Chalice) -> Iterator[Server]:
    with Server(app, threads=SERVER_THREADS, allow_thread_unsafe_app=True) as server:
        yield server


@dataclass
class Tally:
    ok: int = 0
    crossed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def hammer(server: Server, deadline: float, stop_on_first_crossing: bool = False) -> Tally:
    """Every tenant's client threads send their own token and body over keep-alive connections."""
    tally = Tally()
    stop = threading.Event()

    def client(tenant: str, worker: int) -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            for seq in range(REQUESTS_PER_THREAD):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                path = "/echo" if seq % 2 else "/bp/echo"
                body = {"tenant": tenant, "worker": worker, "seq": seq}
                conn.request(
                    "POST",
                    path,
                    body=json.dumps(body),
                    headers={
                        "Authorization": f"Bearer {TENANTS[tenant]}",
                        "X-Tenant": tenant,
                        "Content-Type": "application/json",
                    },
                )
                response = conn.getresponse()
                got = json.loads(response.read())
                expected = {"token": TENANTS[tenant], "body": body, "tenant": tenant}
                with tally.lock:
                    if response.status != 200:
                        tally.errors.append(f"{response.status} {got}")
                    elif got == expected:
                        tally.ok += 1
                    else:
                        tally.crossed.append(f"{tenant} sent {body}, got {got}")
                        if stop_on_first_crossing:
                            stop.set()
        except Exception as exc:  # surfaced through tally.errors
            with tally.lock:
                tally.errors.append(repr(exc))
        finally:
            conn.close()

    threads = [
        threading.Thread(target=client, args=(tenant, n))
        for tenant in TENANTS
        for n in range(CLIENT_THREADS_PER_TENANT)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 5)
    return tally


def test_two_tenants_never_see_each_others_request_on_a_thread_safe_app() -> None:
    with running(make_app(ThreadSafeChalice)) as server:
        tally = hammer(server, deadline=time.monotonic() + 10)
    assert tally.errors == []
    assert tally.crossed == []
    assert tally.ok == len(TENANTS) * CLIENT_THREADS_PER_TENANT * REQUESTS_PER_THREAD


def test_the_same_load_crosses_requests_on_a_plain_chalice_app() -> None:
    """The control experiment: without per-thread requests, some response carries the other
    tenant's token or body. If this ever stops failing, the test above proves nothing."""
    with running(make_app(Chalice)) as server:
        tally = hammer(server, deadline=time.monotonic() + 5, stop_on_first_crossing=True)
    assert tally.crossed, f"no crossed request in {tally.ok} responses"


def test_the_server_refuses_a_plain_chalice_app_when_threaded() -> None:
    with pytest.raises(TypeError, match="ThreadSafeChalice"):
        Server(make_app(Chalice), threads=4)
    Server(make_app(Chalice), threads=1).stop()  # one thread cannot interleave requests


def test_the_request_is_per_thread_and_forgotten_after_the_call() -> None:
    app = make_app(ThreadSafeChalice)
    assert app.current_request is None and app.lambda_context is None
    seen: dict[str, Any] = {}

    @app.route("/peek")
    def peek() -> dict[str, str]:
        seen["here"] = app.current_request
        other = threading.Thread(target=lambda: seen.update(there=app.current_request, ctx=app.lambda_context))
        other.start()
        other.join()
        return {}

    event = {
        "requestContext": {"resourcePath": "/peek", "httpMethod": "GET"},
        "headers": {},
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
    }
    assert app(event, "context")["statusCode"] == 200
    assert seen["here"] is not None and seen["here"].path == "/peek"
    assert seen["there"] is None and seen["ctx"] is None  # another thread sees nothing
    assert app.current_request is None and app.lambda_context is None  # cleared once answered
