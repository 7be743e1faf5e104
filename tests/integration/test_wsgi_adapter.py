"""`ChaliceWSGI` turns WSGI requests into the API Gateway events Chalice expects; `serve` runs it.

Most tests call the adapter as a WSGI app with hand-made environs (what any WSGI server
hands over); the last ones go through the real waitress server on a free loopback port,
and one runs `serve()` in a subprocess to check the `listening on` line and SIGTERM.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Blueprint, Response

from chalicelib.threadlocal import ThreadSafeChalice
from scheduler_local.server import Server
from scheduler_local.wsgi import ChaliceWSGI, UnsupportedRouteError

ROOT = Path(__file__).resolve().parents[2]


def make_app() -> ThreadSafeChalice:
    app = ThreadSafeChalice("adapter-test", configure_logs=False, env={})
    bp = Blueprint(__name__)

    def describe(**params: str) -> dict[str, Any]:
        request = app.current_request
        assert request is not None
        return {
            "params": params,
            "resourcePath": request.path,
            "uri_params": request.uri_params,
            "query": None
            if request.query_params is None
            else {k: request.query_params.getlist(k) for k in request.query_params},
            "method": request.method,
            "context": request.context,
        }

    @app.route("/items/{item_id}", methods=["GET", "DELETE"])
    def item(item_id: str) -> dict[str, Any]:
        return describe(item_id=item_id)

    @app.route("/items/special")
    def special() -> dict[str, Any]:
        return describe()

    @app.route("/apps/{app_id}/messages/{message_id}")
    def nested(app_id: str, message_id: str) -> dict[str, Any]:
        return describe(app_id=app_id, message_id=message_id)

    @app.route("/", methods=["GET"])
    def root() -> dict[str, Any]:
        return describe()

    @app.route("/echo", methods=["POST"], content_types=["application/json", "application/octet-stream", "text/plain"])
    def echo() -> dict[str, Any]:
        request = app.current_request
        assert request is not None
        raw = request.raw_body
        assert isinstance(raw, bytes)
        return {
            "b64": base64.b64encode(raw).decode(),
            "headers": dict(request.headers),
            "x_tenant": [request.headers.get("X-Tenant-Id"), request.headers.get("x-tenant-id")],
        }

    @app.route("/image")
    def image() -> Response:
        return Response(body=bytes(range(256)), headers={"Content-Type": "application/octet-stream"})

    @app.route("/cookies")
    def cookies() -> Response:
        return Response(body="", headers={"Set-Cookie": ["a=1", "b=2"], "X-One": "1"}, status_code=204)

    @bp.route("/bp/{name}")
    def from_blueprint(name: str) -> dict[str, Any]:
        return {"name": name, "path": bp.current_request.path}

    app.register_blueprint(bp)
    return app


class Served:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.code = int(status.split(maxsplit=1)[0])

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    wsgi: ChaliceWSGI,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Served:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.9",
        "wsgi.input": io.BytesIO(body),
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    environ.update(extra or {})
    started: list[Any] = []
    chunks = wsgi(environ, lambda status, hdrs, exc_info=None: started.extend([status, hdrs]))
    return Served(started[0], started[1], b"".join(chunks))


@pytest.fixture(scope="module")
def wsgi() -> ChaliceWSGI:
    return ChaliceWSGI(make_app(), max_body_bytes=1024)


# --- routing ---------------------------------------------------------------------------------


def test_path_parameters_are_matched_against_route_templates(wsgi: ChaliceWSGI) -> None:
    got = call(wsgi, "GET", "/items/msg_01H").json()
    assert got["resourcePath"] == "/items/{item_id}"
    assert got["params"] == {"item_id": "msg_01H"} == got["uri_params"]
    nested = call(wsgi, "GET", "/apps/app_1/messages/msg_2").json()
    assert nested["params"] == {"app_id": "app_1", "message_id": "msg_2"}
    assert call(wsgi, "GET", "/bp/ada").json() == {"name": "ada", "path": "/bp/{name}"}


def test_a_literal_segment_wins_over_a_parameter_and_a_trailing_slash_is_ignored(wsgi: ChaliceWSGI) -> None:
    assert call(wsgi, "GET", "/items/special").json()["resourcePath"] == "/items/special"
    assert call(wsgi, "GET", "/items/special/").json()["resourcePath"] == "/items/special"
    assert call(wsgi, "GET", "/items/other/").json()["params"] == {"item_id": "other"}
    assert call(wsgi, "GET", "/").json()["resourcePath"] == "/"


def test_the_event_carries_a_minimal_request_context(wsgi: ChaliceWSGI) -> None:
    context = call(wsgi, "DELETE", "/items/x", headers={"User-Agent": "t/1"}).json()["context"]
    assert context["resourcePath"] == "/items/{item_id}"
    assert context["httpMethod"] == "DELETE"
    assert context["path"] == "/items/x"
    assert context["stage"] == "api"
    assert context["identity"] == {"sourceIp": "127.0.0.9", "userAgent": "t/1"}
    assert len(context["requestId"]) == 36
    assert call(wsgi, "DELETE", "/items/x").json()["context"]["requestId"] != context["requestId"]


# --- query strings and headers -------------------------------------------------------------------


def test_query_strings_keep_repeated_keys_and_blank_values(wsgi: ChaliceWSGI) -> None:
    got = call(wsgi, "GET", "/items/1", query="status=a&status=b&limit=5&empty=&sp=x%20y").json()
    assert got["query"] == {"status": ["a", "b"], "limit": ["5"], "empty": [""], "sp": ["x y"]}
    assert call(wsgi, "GET", "/items/1").json()["query"] is None


def test_request_headers_are_case_insensitive(wsgi: ChaliceWSGI) -> None:
    got = call(wsgi, "POST", "/echo", body=b"{}", headers={"X-Tenant-ID": "t-1", "Content-Type": "application/json"})
    assert got.json()["x_tenant"] == ["t-1", "t-1"]
    assert got.json()["headers"]["content-type"] == "application/json"  # lowercased, like API Gateway


# --- bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain"])
def test_binary_request_bodies_arrive_intact(wsgi: ChaliceWSGI, content_type: str) -> None:
    payload = bytes(range(256))  # not UTF-8: base64 in the event even for a text type
    got = call(wsgi, "POST", "/echo", body=payload, headers={"Content-Type": content_type})
    assert got.code == 200
    assert base64.b64decode(got.json()["b64"]) == payload


def test_binary_responses_are_decoded_and_multi_value_headers_are_repeated(wsgi: ChaliceWSGI) -> None:
    got = call(wsgi, "GET", "/image", headers={"Accept": "application/octet-stream"})
    assert got.body == bytes(range(256))
    assert got.header("Content-Length") == ["256"]
    empty = call(wsgi, "GET", "/cookies")
    assert empty.code == 204
    assert empty.header("Set-Cookie") == ["a=1", "b=2"] and empty.header("X-One") == ["1"]


class ExplodingInput(io.RawIOBase):
    """A request body that must never be read."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the adapter read a body it should have refused")


def test_an_oversize_content_length_is_a_413_before_the_body_is_read(wsgi: ChaliceWSGI) -> None:
    got = call(
        wsgi,
        "POST",
        "/echo",
        extra={"CONTENT_LENGTH": "1025", "CONTENT_TYPE": "application/json", "wsgi.input": ExplodingInput()},
    )
    assert got.code == 413
    assert got.json()["error"]["code"] == "payload_too_large"
    assert set(got.json()) == {"error"} and set(got.json()["error"]) == {"code", "message"}
    assert call(wsgi, "POST", "/echo", body=b"x" * 1024, headers={"Content-Type": "text/plain"}).code == 200


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit(wsgi: ChaliceWSGI) -> None:
    stream = io.BytesIO(b"y" * 10_000_000)
    got = call(
        wsgi,
        "POST",
        "/echo",
        extra={
            "HTTP_TRANSFER_ENCODING": "chunked",
            "CONTENT_TYPE": "text/plain",
            "wsgi.input": stream,
            "wsgi.input_terminated": True,
        },
    )
    assert got.code == 413
    assert stream.tell() <= 1025  # stopped reading just past the limit
    small = call(
        wsgi,
        "POST",
        "/echo",
        extra={
            "HTTP_TRANSFER_ENCODING": "chunked",
            "CONTENT_TYPE": "text/plain",
            "wsgi.input": io.BytesIO(b"abc"),
            "wsgi.input_terminated": True,
        },
    )
    assert base64.b64decode(small.json()["b64"]) == b"abc"


# --- errors ----------------------------------------------------------------------------------------


def test_an_unknown_path_is_a_404_in_the_service_error_shape(wsgi: ChaliceWSGI) -> None:
    got = call(wsgi, "GET", "/nope")
    assert got.code == 404
    assert got.header("Content-Type") == ["application/json"]
    assert got.body == b'{"error":{"code":"not_found","message":"no route matches this path"}}'  # compact, as Chalice's


def test_a_known_path_with_another_method_is_a_405_with_allow(wsgi: ChaliceWSGI) -> None:
    got = call(wsgi, "PUT", "/items/1")
    assert got.code == 405
    assert got.json() == {
        "error": {"code": "method_not_allowed", "message": "this path does not allow that method; allowed: DELETE, GET"}
    }
    assert got.header("Allow") == ["DELETE, GET"]


def test_a_failure_inside_the_adapter_is_a_generic_500() -> None:
    app = make_app()
    broken = ChaliceWSGI(app, context_factory=lambda: 1 / 0)
    got = call(broken, "GET", "/items/1")
    assert got.code == 500
    assert got.json() == {"error": {"code": "internal_error", "message": "An internal error occurred."}}


def test_routes_with_a_chalice_authorizer_are_refused_unless_told_otherwise() -> None:
    app = ThreadSafeChalice("auth-test", configure_logs=False, env={})

    @app.authorizer()
    def auth(auth_request: Any) -> Any:
        raise AssertionError("never called")

    @app.route("/secret", authorizer=auth)
    def secret() -> dict[str, bool]:
        return {"secret": True}

    with pytest.raises(UnsupportedRouteError, match="GET /secret"):
        ChaliceWSGI(app).warm_up()
    assert call(ChaliceWSGI(app, ignore_authorizers=True), "GET", "/secret").json() == {"secret": True}


# --- through the real server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(ChaliceWSGI(make_app(), max_body_bytes=1024), threads=4) as running:
        yield running


def raw_exchange(server: Server, request: bytes) -> bytes:
    """Send `request` (headers only for the 413 case) and read until the server closes."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_server_refuses_an_oversize_body_from_its_headers_alone(server: Server) -> None:
    # No body is ever sent: the answer can only come from the Content-Length header.
    reply = raw_exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n",
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in head
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_the_server_cuts_off_an_oversize_chunked_body(server: Server) -> None:
    chunk = b"400\r\n" + b"z" * 1024 + b"\r\n"
    reply = raw_exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n",
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_the_server_answers_malformed_requests_in_the_error_shape(server: Server) -> None:
    reply = raw_exchange(server, b"GET /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_serve_prints_its_port_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent("""
        import sys, time
        sys.path.insert(0, sys.argv[1])
        from scheduler_local.server import serve
        from chalicelib.threadlocal import ThreadSafeChalice
        app = ThreadSafeChalice("serve-test", configure_logs=False, env={})
        @app.route("/slow")
        def slow():
            print("in flight", flush=True)
            time.sleep(0.5)  # the work of a slow request
            return {"finished": True}
        serve(app, "127.0.0.1", 0, threads=4, on_stop=lambda: print("engine stopped", flush=True))
        print("serve returned", flush=True)
    """)
    )
    proc = subprocess.Popen([sys.executable, str(script), str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert proc.stdout.readline() == "in flight\n"
            proc.terminate()  # SIGTERM with a request in flight
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # new connections are refused at once...
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except ConnectionRefusedError:
                    break
                except ConnectionResetError:
                    pass  # was in the backlog as the listener closed: refused next time
                time.sleep(0.005)
            else:
                pytest.fail("still accepting connections after SIGTERM")
            reply = b""
            while b"finished" not in reply and (chunk := slow.recv(4096)):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 ")  # ...but the request in flight is answered
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == "engine stopped\nserve returned\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
