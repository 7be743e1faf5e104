"""`scheduler tail`: follow delivery attempts live, on `GET /attempts?after=`.

By default only attempts recorded from now on are shown (`--from-start` shows the retained history
first). `--count N` stops after N attempts, `--until-idle S` after S seconds without one. Each attempt
that did not deliver says what happened next (`retry at T`, `gave up after 3 attempts`, ...). A server
restart does not end it: it reconnects with backoff and says so on stderr (`cli.reconnect`).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from scheduler_cli import outcome, output
from scheduler_cli.runtime import Session, UsageError, command, common_options

if TYPE_CHECKING:
    from scheduler_cli.reconnect import Reconnect
    from scheduler_client import Attempt, Message, SchedulerClient


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


def describe(attempt: Attempt, message: Message | None = None) -> str:
    """One line per attempt: when, which message, which try, HTTP status, duration, and what happens next."""
    status = "---" if attempt.statusCode is None else str(attempt.statusCode)
    verdict = outcome.after_attempt(attempt, message)
    return f"{attempt.startedAt}  {attempt.messageId}  #{attempt.n}  {status}  {attempt.durationMs}ms  {verdict}"


@command
def tail(args: argparse.Namespace, session: Session) -> int:
    """Print attempts as they are recorded until interrupted or a bound is reached; survives a server restart."""
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.interval <= 0:
        raise UsageError("--interval must be positive")
    from scheduler_cli.reconnect import Reconnect
    from scheduler_client.feed import Follower

    client = session.client()
    reconnect = Reconnect("tail")
    after = args.after
    if after is None and not args.from_start:
        after = reconnect.call(lambda: client.attempts_end_cursor(app_id=args.app_id))
    follower = Follower(after, args.app_id, args.interval, args.until_idle)
    shown = 0
    while True:
        page = reconnect.call(lambda: client.run(follower.call()))
        for attempt in page.items:
            _print(session, client, reconnect, attempt)
            shown += 1
            if args.count is not None and shown >= args.count:
                return 0
        wait = follower.advance(page)
        if wait is None:
            return 0
        if wait:
            time.sleep(wait)


def _print(session: Session, client: SchedulerClient, reconnect: Reconnect, attempt: Attempt) -> None:
    if session.json:
        output.print_json(attempt, indent=None)
        return
    message = None if outcome.delivered(attempt) else _message(client, reconnect, attempt.messageId)
    print(describe(attempt, message), flush=True)


def _message(client: SchedulerClient, reconnect: Reconnect, message_id: str) -> Message | None:
    from scheduler_client import SchedulerAPIError

    try:
        return reconnect.call(lambda: client.get_message(message_id))
    except SchedulerAPIError:
        return None  # gone meanwhile (retention): the attempt line still stands
