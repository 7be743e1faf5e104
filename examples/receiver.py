"""A tiny webhook receiver for trying the scheduler: prints each delivery and checks its signature.

    python examples/receiver.py [--port 9100] [--secret whsec_...]     # port default: $RECEIVER_PORT or 9100

With `--secret` (the app's `signingSecret`), each delivery is verified with the Standard Webhooks
library; a bad signature is answered 401 and printed as such.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def make_handler(secret: str | None) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `secret`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            verdict = "signature not checked (no --secret)"
            status = 200
            if secret:
                try:
                    Webhook(secret).verify(body, headers)
                    verdict = "signature ok"
                except WebhookVerificationError:
                    verdict, status = "BAD SIGNATURE", 401
            late = time.time() * 1000 - _ms(headers.get("scheduler-scheduled-at", ""))
            print(
                f"{headers.get('webhook-id')} attempt {headers.get('scheduler-attempt')} "
                f"{late:.0f} ms after sendAt, {verdict}: {body.decode(errors='replace')[:200]}",
                flush=True,
            )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet: the line above says what matters."""

    return Handler


def _ms(rfc3339: str) -> float:
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return float("nan")


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default of 5 drops connections (1 s SYN retry) under a burst


def main() -> None:
    """Serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_port = int(os.environ.get("RECEIVER_PORT") or 9100)
    parser.add_argument("--port", type=int, default=default_port, help="default: $RECEIVER_PORT, else 9100")
    parser.add_argument("--secret", help="the app's signingSecret, to verify deliveries")
    args = parser.parse_args()
    if str(args.port) == os.environ.get("PORT", "8000"):
        parser.error(f"port {args.port} is the scheduler's (PORT): pick another, e.g. RECEIVER_PORT=9100")
    server = _Server(("127.0.0.1", args.port), make_handler(args.secret))
    print(f"receiving on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
