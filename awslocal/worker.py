"""One Lambda function in its own process: the handler Terraform names, in the environment it gives.

`python -m awslocal.worker --handler app.app --name scheduler-dev-api --timeout 29 --memory 512`
imports the handler the way the Lambda runtime does (`module.attribute`), then serves invocations on
loopback in the Runtime Interface Emulator's shape: `POST /2015-03-31/functions/function/invocations`
with the event as the body; the answer is the handler's JSON result, or with `X-Amz-Function-Error:
Unhandled` the error as `{errorType, errorMessage}`. Invocations run concurrently on threads (each
stands for a warm container of the function). It prints `lambda ready on http://HOST:PORT`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


class LambdaContext:
    """The context object the Lambda runtime passes (what Powertools and Chalice read)."""

    def __init__(self, name: str, arn: str, memory_mb: int, timeout_s: int, request_id: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"local/{request_id[:8]}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: str) -> Any:
    """`module.attribute` as the Lambda runtime resolves a handler string."""
    module_name, _, attribute = spec.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def serve(handler: Any, args: argparse.Namespace) -> None:
    """Serve invocations until killed."""

    class Invocations(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = self.headers.get("X-Amz-Request-Id") or str(uuid.uuid4())
            context = LambdaContext(args.name, args.arn, args.memory, args.timeout, request_id)
            error = False
            try:
                result = handler(json.loads(body or b"null"), context)
                payload = json.dumps(result).encode()
            except Exception as exc:
                error = True
                payload = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
                print(f"[ERROR] {request_id} Invoke Error {payload.decode()}", flush=True)
                if str(exc) != "Unauthorized":  # an authorizer's answer, not a fault
                    traceback.print_exc()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if error:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *values: Any) -> None:
            """No access log: the function's own log lines are what matter."""

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Invocations)
    server.daemon_threads = True
    print(f"lambda ready on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


def main() -> None:
    """Import the handler (a cold start), then serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--arn", required=True)
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--timeout", type=int, default=3)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, ".")
    serve(load_handler(args.handler), args)


if __name__ == "__main__":
    main()
