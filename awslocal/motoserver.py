"""moto in server mode, with a counter of the AWS calls at its HTTP boundary.

`python -m awslocal.motoserver --host 127.0.0.1 --port N` serves moto's own WSGI application (what
`moto_server` runs) behind a middleware that counts each request by caller, service and action:
the caller is `harness` when the User-Agent carries `HARNESS_AGENT` (the drivers standing in for AWS
itself: Scheduler, the event source mapping, API Gateway's key lookups) and `lambda:<function>`
otherwise (what the functions call, i.e. what a deployment pays for; boto3 puts the function's
`AWS_SDK_UA_APP_ID` in the User-Agent). `GET /_awslocal/calls` returns the counts,
`POST /_awslocal/calls/reset` clears them.

One change to moto's behaviour: a long poll (`ReceiveMessage` with `WaitTimeSeconds`) rechecks the
queue every `RECHECK_S` instead of once a second, because a delayed message becoming visible wakes no
waiter in moto; SQS itself answers a long poll as soon as a message is available.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

HARNESS_AGENT = "awslocal-harness"
CALLS_PATH = "/_awslocal/calls"
RECHECK_S = 0.05
_APP_ID = re.compile(r"\bapp/(\S+)")
_SERVICE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


class CallCounter:
    """WSGI middleware: counts requests, answers `CALLS_PATH`, passes everything else to `app`."""

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self._app = app
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CALLS_PATH):
            return self._answer(environ, start_response, reset=path.endswith("/reset"))
        key = " ".join(describe(environ))
        with self._lock:
            self._counts[key] += 1
        return self._app(environ, start_response)

    def _answer(self, environ: Environ, start_response: StartResponse, *, reset: bool) -> Iterable[bytes]:
        with self._lock:
            body = json.dumps(dict(self._counts)).encode()
            if reset and environ.get("REQUEST_METHOD") == "POST":
                self._counts.clear()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def describe(environ: Environ) -> tuple[str, str, str]:
    """(caller, service, action) of one request; a function's caller is `lambda:<function>`."""
    agent = environ.get("HTTP_USER_AGENT", "")
    app = _APP_ID.search(agent)
    caller = "harness" if HARNESS_AGENT in agent else f"lambda:{app.group(1)}" if app else "lambda"
    match = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else "?"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return caller, service, target.rsplit(".", 1)[-1]
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return caller, service, query["Action"][0]
    segments = [s for s in environ.get("PATH_INFO", "").split("/") if s]
    return caller, service, f"{environ.get('REQUEST_METHOD', '?')} /{segments[0] if segments else ''}"


def _recheck_long_polls_often() -> None:
    from moto.sqs.models import Queue

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            self._messages_lock.wait_for(lambda: self.messages, timeout=min(timeout, RECHECK_S))

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def main() -> None:
    """Serve moto on HOST:PORT until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    _recheck_long_polls_often()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access line per AWS call
    class Handler(MotoRequestHandler):
        disable_nagle_algorithm = True  # werkzeug writes headers and body apart: no delayed-ACK stalls

    app = CallCounter(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    print(f"moto listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
