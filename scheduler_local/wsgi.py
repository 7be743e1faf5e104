"""WSGI → Chalice adapter: serves a Chalice REST app from any WSGI server.

Each WSGI request becomes the API Gateway REST (v1) proxy event that ``Chalice.__call__``
handles. Chalice dispatches on ``requestContext.resourcePath`` (the route *template*, e.g.
``/messages/{id}``) and ``pathParameters``, so the adapter matches the path against
``app.routes`` itself: static routes by one dict lookup, templated ones by segment count,
most specific first (a literal segment beats ``{param}``), like API Gateway. The table is
compiled once, on first use (or by ``warm_up()``). Greedy ``{proxy+}`` parameters are not
supported: Chalice itself cannot pass them to a view (it names the argument ``proxy+``).

Why not ``chalice.local.LocalGateway``: measured in one process on the 2-core dev box
(``GET /r7/abc`` on a 9-route app, direct calls, best of 5 x 5,000; ``micro_us`` in
``bench/results/server.json``)::

    ChaliceWSGI.__call__ (WSGI environ in, bytes out)       ~45 µs per request
    LocalGateway.handle_request (headers dict in, dict out)  ~48-50 µs per request

Chalice's own ``app(event, context)`` is ~32 µs of either, so LocalGateway is not what makes
``chalice local`` crawl (~23 req/s on one keep-alive connection): its ``http.server`` front
end sends headers and body in two writes without TCP_NODELAY, and every response waits out
the client's 40 ms delayed ACK. LocalGateway is left out for behaviour, at no cost in speed:
it answers unknown paths with API Gateway's 403 "Missing Authentication Token" rather than
our 404 shape, has no body limit, builds a ``LambdaContext`` per request and runs Chalice
authorizers. This adapter refuses apps with route authorizers unless
``ignore_authorizers=True`` (locally the app checks API keys itself), so a route is never
served unauthenticated by accident.

Differences from API Gateway worth knowing: ``requestContext.path`` is the bare path (no
``/{stage}`` prefix, as in ``chalice local``); repeated request headers arrive joined with
``", "`` (the WSGI server does that); no CORS preflight is generated (an ``OPTIONS`` request
to a route without an ``OPTIONS`` view is a 405).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from chalice.app import Chalice

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ChaliceWSGI", "RouteTable", "UnsupportedRouteError"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024  # API Gateway's (and Lambda's) request payload limit
_READ_CHUNK = 64 * 1024
# Hop-by-hop headers are the server's business (PEP 3333); Content-Length: we set the real one.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers"}
_HOP_BY_HOP |= {"transfer-encoding", "upgrade", "content-length"}
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


class UnsupportedRouteError(RuntimeError):
    """The app declares something this adapter cannot honour (e.g. a route authorizer)."""


@dataclass(frozen=True)
class _Template:
    template: str
    literals: tuple[tuple[int, str], ...]  # (segment index, literal text)
    params: tuple[tuple[int, str], ...]  # (segment index, parameter name)


class RouteTable:
    """Compiled matcher for Chalice route templates."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._static: dict[str, str] = {}
        self._by_length: dict[int, list[_Template]] = {}
        for template in templates:
            self._add(template)
        for bucket in self._by_length.values():
            # Literal segments win over parameters, position by position (like API Gateway).
            bucket.sort(key=lambda t: tuple(0 if "{" not in s else 1 for s in t.template.split("/")))

    def _add(self, template: str) -> None:
        if "{" not in template:
            self._static[template] = template
            return
        segments = template.split("/")
        literals = tuple((i, s) for i, s in enumerate(segments) if not s.startswith("{"))
        params = tuple((i, s[1:-1]) for i, s in enumerate(segments) if s.startswith("{"))
        self._by_length.setdefault(len(segments), []).append(_Template(template, literals, params))

    def match(self, path: str) -> tuple[str, dict[str, str] | None] | None:
        """Return ``(template, path parameters or None)`` for ``path``, or ``None``."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]  # API Gateway ignores one trailing slash
        template = self._static.get(path)
        if template is not None:
            return template, None
        parts = path.split("/")
        for candidate in self._by_length.get(len(parts), ()):
            if all(parts[i] == text for i, text in candidate.literals):
                values = {name: parts[i] for i, name in candidate.params}
                if all(values.values()):
                    return candidate.template, values
        return None


@functools.lru_cache(maxsize=512)
def _header_name(environ_key: str) -> str:
    return environ_key[5:].replace("_", "-").lower()


@functools.lru_cache(maxsize=256)
def _is_binary(content_type: str, binary_types: tuple[str, ...]) -> bool:
    """Chalice's own rule (``chalice.app._matches_content_type``), cached."""
    content_type = content_type.lower()
    lowered = {t.lower() for t in binary_types}
    if "*/*" in content_type or "*/*" in lowered:
        return True
    return any(part.strip() in lowered for part in re.split("[,;]", content_type))


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    # Byte for byte the shape Chalice gives every other error body (compact separators).
    body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json")], body


class _TooLarge(Exception):
    pass


class ChaliceWSGI:
    """A WSGI application that dispatches to a Chalice REST app.

    ``max_body_bytes``: larger request bodies get a 413 without being read (by
    ``Content-Length``) or as soon as a streamed body passes the limit.
    ``context_factory``: builds the ``lambda_context`` for each call (default: ``None``).
    ``access_log``: called as ``(method, path, status, elapsed_ms)`` for each request the adapter
    answers itself (no route, 405, 413, bad length); the app logs the ones it answers.
    """

    def __init__(
        self,
        app: Chalice,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        stage: str = "api",
        ignore_authorizers: bool = False,
        context_factory: Callable[[], Any] | None = None,
        access_log: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.stage = stage
        self.ignore_authorizers = ignore_authorizers
        self._context_factory = context_factory
        self._access_log = access_log
        self._table: RouteTable | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> RouteTable:
        """Compile the route table now (otherwise done on the first request)."""
        table = self._table
        if table is None:
            with self._lock:
                table = self._table
                if table is None:
                    if not self.ignore_authorizers:
                        self._refuse_authorizers()
                    table = self._table = RouteTable(self.app.routes)
        return table

    def _refuse_authorizers(self) -> None:
        guarded = sorted(
            f"{method} {path}"
            for path, methods in self.app.routes.items()
            for method, entry in methods.items()
            if entry.authorizer is not None and not getattr(entry.authorizer, "enforced_in_app", False)
        )
        if guarded:
            raise UnsupportedRouteError(
                "routes with a Chalice authorizer would be served unauthenticated: "
                + ", ".join(guarded)
                + " (pass ignore_authorizers=True if the app checks auth itself)"
            )

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            status, headers, body = self.handle(environ)
        except Exception:
            log.exception("unhandled error in the WSGI adapter")
            status, headers, body = _error(500, "internal_error", "An internal error occurred.")
        headers.append(("Content-Length", str(len(body))))
        start_response(_STATUS_LINES.get(status) or f"{status} Unknown", headers)
        return [body]

    def handle(self, environ: Environ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Route, build the event, call the app; return ``(status, headers, body)``."""
        started = time.perf_counter()
        result, answered_here = self._dispatch(environ)
        if answered_here and self._access_log is not None:
            method = str(environ.get("REQUEST_METHOD", "")).upper()
            path = str(environ.get("PATH_INFO") or "/")
            self._access_log(method, path, result[0], (time.perf_counter() - started) * 1000)
        return result

    def _dispatch(self, environ: Environ) -> tuple[tuple[int, list[tuple[str, str]], bytes], bool]:
        """The response, and whether the adapter answered it itself (true) or the app did."""
        table = self._table or self.warm_up()
        path = environ.get("PATH_INFO") or "/"
        try:  # PEP 3333: PATH_INFO is the raw bytes as latin-1; our routes are UTF-8
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return _error(404, "not_found", "no route matches this path"), True
        found = table.match(path)
        if found is None:
            return _error(404, "not_found", "no route matches this path"), True
        template, params = found
        method = environ["REQUEST_METHOD"].upper()
        methods = self.app.routes[template]
        if method not in methods:
            allowed = ", ".join(sorted(methods))
            status, headers, body = _error(
                405, "method_not_allowed", f"this path does not allow that method; allowed: {allowed}"
            )
            headers.append(("Allow", allowed))
            return (status, headers, body), True
        try:
            raw = self._read_body(environ)
        except _TooLarge:
            return _error(
                413, "payload_too_large", f"the request body is larger than {self.max_body_bytes} bytes"
            ), True
        except ValueError:
            return _error(400, "bad_request", "the Content-Length header is not a number"), True
        event = self._event(environ, method=method, path=path, template=template, params=params, raw=raw)
        context = self._context_factory() if self._context_factory is not None else None
        return self._response(self.app(event, context)), False

    def _read_body(self, environ: Environ) -> bytes:
        limit = self.max_body_bytes
        length = environ.get("CONTENT_LENGTH")
        stream = environ.get("wsgi.input")
        if length:
            size = int(length)
            if size < 0:
                raise ValueError(length)
            if size > limit:
                raise _TooLarge  # before reading a byte of it
            return stream.read(size) if size and stream is not None else b""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if stream is None or not (chunked or environ.get("wsgi.input_terminated")):
            return b""  # PEP 3333: without a length, only an EOF-terminated input may be read
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = stream.read(min(_READ_CHUNK, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > limit:
                raise _TooLarge
            chunks.append(chunk)

    def _event(
        self, environ: Environ, *, method: str, path: str, template: str, params: dict[str, str] | None, raw: bytes
    ) -> dict[str, Any]:
        headers = {_header_name(k): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        query = environ.get("QUERY_STRING")
        multi_query = parse_qs(query, keep_blank_values=True) if query else None
        body: str | None = None
        is_b64 = False
        if raw:
            if _is_binary(headers.get("content-type", ""), tuple(self.app.api.binary_types)):
                body, is_b64 = base64.b64encode(raw).decode("ascii"), True
            else:
                try:
                    body = raw.decode("utf-8")
                except UnicodeDecodeError:
                    body, is_b64 = base64.b64encode(raw).decode("ascii"), True
        return {
            "resource": template,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": template,
                "httpMethod": method,
                "path": path,
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "identity": {"sourceIp": environ.get("REMOTE_ADDR", ""), "userAgent": headers.get("user-agent")},
            },
            "body": body,
            "isBase64Encoded": is_b64,
        }

    @staticmethod
    def _response(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(body)
        elif isinstance(body, bytes):
            data = body
        else:
            data = str(body).encode("utf-8")
        headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in _HOP_BY_HOP]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            if name.lower() not in _HOP_BY_HOP:
                headers.extend((name, str(v)) for v in values)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))  # API Gateway's default for proxy responses
        return int(result["statusCode"]), headers, data
