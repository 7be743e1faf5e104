"""`scheduler tail`: follow delivery attempts live, on `GET /attempts?after=`.

By default only attempts recorded from now on are shown (`--from-start` shows the retained history
first). `--count N` stops after N attempts, `--until-idle S` after S seconds without one.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from scheduler_cli import output
from scheduler_cli.runtime import Session, UsageError, command, common_options

if TYPE_CHECKING:
    from scheduler_client import Attempt


def add_parser(commands: Any) -> None:
    """Register `tail`."""
    parser = commands.add_parser("tail", parents=[common_options()], help="follow deliveries and failures live")
    parser.add_argument("--app", dest="app_id", metavar="APP_ID", help="only this app's attempts")
    parser.add_argument("--after", metavar="CURSOR", help="start after this feed cursor")
    parser.add_argument("--from-start", action="store_true", help="show the retained history first")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N attempts")
    parser.add_argument("--until-idle", type=float, metavar="SECONDS", help="stop after this long without attempts")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="poll interval (default 1)")
    parser.set_defaults(handler=tail)


def describe(attempt: Attempt) -> str:
    """One line per attempt: when, which message, which try, HTTP status, duration, verdict."""
    status = "---" if attempt.statusCode is None else str(attempt.statusCode)
    ok = attempt.statusCode is not None and 200 <= attempt.statusCode < 300
    verdict = "delivered" if ok else f"failed: {attempt.error or 'error'}"
    return f"{attempt.startedAt}  {attempt.messageId}  #{attempt.n}  {status}  {attempt.durationMs}ms  {verdict}"


@command
def tail(args: argparse.Namespace, session: Session) -> int:
    """Print attempts as they are recorded until interrupted or a bound is reached."""
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.interval <= 0:
        raise UsageError("--interval must be positive")
    feed = session.client().follow_attempts(
        after=args.after,
        app_id=args.app_id,
        from_start=args.from_start,
        poll_interval_s=args.interval,
        idle_timeout_s=args.until_idle,
    )
    for shown, attempt in enumerate(feed, start=1):
        if session.json:
            output.print_json(attempt, indent=None)
        else:
            print(describe(attempt), flush=True)
        if args.count is not None and shown >= args.count:
            break
    return 0
