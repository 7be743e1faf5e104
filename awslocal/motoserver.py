"""moto in server mode, with a counter of the AWS calls at its HTTP boundary.

`python -m awslocal.motoserver --host 127.0.0.1 --port N` serves moto's own WSGI application (what
`moto_server` runs) behind a middleware that counts each request by caller, service and action:
the caller is `harness` when the User-Agent carries `HARNESS_AGENT` (the drivers standing in for AWS
itself: Scheduler, the event source mapping, API Gateway's key lookups) and `lambda:<function>`
otherwise (what the functions call, i.e. what a deployment pays for; boto3 puts the function's
`AWS_SDK_UA_APP_ID` in the User-Agent). `GET /_awslocal/calls` returns the counts,
`POST /_awslocal/calls/reset` clears them.

Three changes to how moto runs, none to what it answers:
- DynamoDB requests are served one at a time: moto's table model is not thread-safe (concurrent
  transactions fail with `dictionary changed size during iteration`), while DynamoDB is.
- `TransactWriteItems` backs up only the items it touches instead of deep-copying every table it
  names (O(table size) per transaction), restoring them when the transaction is cancelled.
- A long poll (`ReceiveMessage` with `WaitTimeSeconds`) rechecks the queue every `RECHECK_S` instead of
  once a second: a delayed message becoming visible wakes no waiter in moto, while SQS answers a long
  poll as soon as a message is available.
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
        self._dynamodb = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CALLS_PATH):
            return self._answer(environ, start_response, reset=path.endswith("/reset"))
        caller, service, action = describe(environ)
        with self._lock:
            self._counts[f"{caller} {service} {action}"] += 1
        if service == "dynamodb":
            with self._dynamodb:
                return list(self._app(environ, start_response))
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


def _back_up_only_touched_items() -> None:
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    class _NoTableCopies:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = _NoTableCopies  # type: ignore[assignment]
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        before = [entry for entry in (_touched(self, item) for item in transact_items) if entry is not None]
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(before):
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _touched(backend: Any, entry: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
    """(table, key, the item's attributes before) of one transaction entry."""
    import copy

    _, op = next(iter(entry.items()))
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    key = op.get("Key")
    if key is None and "Item" in op:
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        key = {name: op["Item"][name] for name in names if name in op["Item"]}
    try:
        item = backend.get_item(op["TableName"], key)
    except Exception:  # an invalid key: moto's own validation answers it
        return None
    return op["TableName"], key, None if item is None else copy.deepcopy(item.to_json()["Attributes"])


def main() -> None:
    """Serve moto on HOST:PORT until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    _recheck_long_polls_often()
    _back_up_only_touched_items()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access line per AWS call

    class Handler(MotoRequestHandler):
        disable_nagle_algorithm = True  # werkzeug writes headers and body apart: no delayed-ACK stalls

    app = CallCounter(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    print(f"moto listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
