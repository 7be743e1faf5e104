"""`scheduler send|ls|show|reschedule|cancel|redrive|attempts|usage`: messages, their attempts and metering."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler_cli import outcome, output
from scheduler_cli.runtime import Session, UsageError, command, common_options
from scheduler_cli.timeparse import format_utc, parse_duration, since

if TYPE_CHECKING:
    from scheduler_client import Attempt, Message

STATUSES = ("scheduled", "delivering", "delivered", "failed", "cancelled")
MESSAGE_COLUMNS = ["ID", "APP", "STATUS", "SEND_AT", "ATTEMPTS", "LATE_MS", "REASON"]


def add_parsers(commands: Any) -> None:
    """Register the message commands."""
    common = common_options()
    _add_send(commands, common)
    listing = commands.add_parser("ls", parents=[common], help="list messages (by sendAt)")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--app", dest="app_id", metavar="APP_ID")
    listing.add_argument("--schedule", dest="schedule_id", metavar="SCHEDULE_ID", help="only the runs of a schedule")
    listing.add_argument("--since", help="sendAt at or after: RFC 3339 time, or a duration ago (2h)")
    listing.add_argument("--until", help="sendAt at or before: RFC 3339 time")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--all", action="store_true", help="every matching message")
    listing.set_defaults(handler=ls)
    for name, handler, text in (
        ("show", show, "show a message with its payload"),
        ("cancel", cancel, "cancel a scheduled message"),
        ("attempts", attempts, "a message's delivery attempts"),
    ):
        parser = commands.add_parser(name, parents=[common], help=text)
        parser.add_argument("message_id", metavar="MESSAGE_ID")
        parser.set_defaults(handler=handler)
    moving = commands.add_parser(
        "reschedule",
        parents=[common],
        help="move a scheduled message to another time (and/or give it a new payload)",
        description="Move a scheduled message (also one waiting for a retry): --in from now or --at a time; "
        "--data replaces its payload. --if-match ETAG refuses the change if the message changed meanwhile.",
    )
    moving.add_argument("message_id", metavar="MESSAGE_ID")
    _add_when(moving, required=False)
    moving.add_argument("--data", help="new payload: JSON text, @file, or - for stdin")
    moving.add_argument("--if-match", default="*", metavar="ETAG", help="the etag it must still have (default: any)")
    moving.set_defaults(handler=reschedule)
    redrive_parser = commands.add_parser("redrive", parents=[common], help="schedule a failed/cancelled message again")
    redrive_parser.add_argument("message_id", metavar="MESSAGE_ID")
    _add_when(redrive_parser, required=False)
    redrive_parser.set_defaults(handler=redrive)
    usage_parser = commands.add_parser("usage", parents=[common], help="metering per UTC day")
    usage_parser.add_argument("--from", dest="from_date", metavar="YYYY-MM-DD")
    usage_parser.add_argument("--to", dest="to_date", metavar="YYYY-MM-DD")
    usage_parser.set_defaults(handler=usage)


def _add_when(parser: argparse.ArgumentParser, *, required: bool) -> None:
    when = parser.add_mutually_exclusive_group(required=required)
    when.add_argument("--at", help="RFC 3339 time with offset, e.g. 2030-01-01T09:00:00+01:00")
    when.add_argument("--in", dest="delay", type=parse_duration, metavar="DURATION", help="90s, 5m, 2h, 1d, 1h30m")


def _add_send(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "send",
        parents=[common],
        help="schedule a message, or many from a JSONL file",
        description="Schedule one message (--app with --at or --in), or every line of --file (JSONL of "
        "message bodies; --app/--at/--in/--max-attempts fill what a line leaves out).",
    )
    parser.add_argument("--app", dest="app_id", metavar="APP_ID")
    _add_when(parser, required=False)
    parser.add_argument("--data", help="payload: JSON text, @file, or - for stdin (default {})")
    parser.add_argument("--idempotency-key", help="repeat-safe key (one is made when absent)")
    parser.add_argument("--max-attempts", type=int)
    parser.add_argument("--not-after", help="fail as expired if not delivered by this RFC 3339 time")
    parser.add_argument("--file", help="JSONL of message bodies (- for stdin), sent in batches of 100")
    parser.set_defaults(handler=send)


def read_data(spec: str | None) -> Any:
    """The payload of `--data`: JSON text, `@file` or `-` (stdin)."""
    if spec is None:
        return {}
    if spec == "-":
        text, source = sys.stdin.read(), "stdin"
    elif spec.startswith("@"):
        source = spec[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --data file {source}: {exc.strerror or exc}") from exc
    else:
        text, source = spec, "--data"
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from exc


@command
def send(args: argparse.Namespace, session: Session) -> int:
    """`send --app ID (--at T | --in D) [--data ...]`, or `send --file messages.jsonl`."""
    if args.file is not None:
        from scheduler_cli.bulk import send_file

        return send_file(args, session)
    if not args.app_id or (args.at is None and args.delay is None):
        raise UsageError("send needs --app and one of --at or --in (or --file)")
    message = session.client().send_message(
        args.app_id,
        read_data(args.data),
        send_at=args.at,
        delay_seconds=args.delay,
        idempotency_key=args.idempotency_key,
        max_attempts=args.max_attempts,
        not_after=args.not_after,
    )
    if session.json:
        session.emit(message)
    elif session.quiet:
        print(message.id)
    else:
        print(f"{message.id} {message.status} for {message.sendAt}")
    return 0


@command
def ls(args: argparse.Namespace, session: Session) -> int:
    """`ls [--status S] [--app ID] [--schedule ID] [--since T] [--until T] [--limit N | --all]`."""
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    found = session.client().iter_messages(
        app_id=args.app_id,
        status=args.status,
        send_after=None if args.since is None else since(args.since),
        send_before=args.until,
        page_size=500 if args.all else min(args.limit + 1, 500),
        schedule_id=args.schedule_id,
    )
    messages: list[Message] = []
    for message in found:
        if not args.all and len(messages) == args.limit:
            print(f"(more than {args.limit}; use --limit or --all)", file=sys.stderr)
            break
        messages.append(message)
    if session.json:
        session.emit(messages)
        return 0
    output.print_table(MESSAGE_COLUMNS, [_row(m) for m in messages])
    return 0


def _row(message: Message) -> list[Any]:
    return [
        message.id,
        message.appId,
        message.status,
        message.sendAt,
        outcome.attempts_text(message),
        message.lateMs,
        message.failureReason,
    ]


@command
def show(args: argparse.Namespace, session: Session) -> int:
    """`show MESSAGE_ID`."""
    message = session.client().get_message(args.message_id)
    if session.json:
        session.emit(message)
        return 0
    output.print_details(
        [
            ("id", message.id),
            ("app", message.appId),
            ("status", message.status),
            ("send at", message.sendAt),
            ("created", message.createdAt),
            ("attempts", outcome.attempts_text(message)),
            ("next", outcome.next_step(message)),
            ("delivered", message.deliveredAt),
            ("late ms", message.lateMs),
            ("failure", message.failureReason),
            ("not after", message.notAfter),
            ("etag", message.etag),
        ]
    )
    print("payload:")
    print(json.dumps(message.payload, indent=2, ensure_ascii=False))
    return 0


@command
def cancel(args: argparse.Namespace, session: Session) -> int:
    """`cancel MESSAGE_ID`."""
    return _changed(session, session.client().cancel_message(args.message_id))


@command
def reschedule(args: argparse.Namespace, session: Session) -> int:
    """`reschedule MESSAGE_ID (--in D | --at T) [--data ...] [--if-match ETAG]`."""
    if args.at is None and args.delay is None and args.data is None:
        raise UsageError("reschedule needs --in or --at (and/or --data)")
    changes: dict[str, Any] = {"send_at": args.at, "delay_seconds": args.delay, "if_match": args.if_match}
    if args.data is not None:
        changes["payload"] = read_data(args.data)
    return _changed(session, session.client().update_message(args.message_id, **changes))


@command
def redrive(args: argparse.Namespace, session: Session) -> int:
    """`redrive MESSAGE_ID [--at T | --in D]`."""
    send_at = args.at if args.delay is None else format_utc(datetime.now(UTC) + timedelta(seconds=args.delay))
    return _changed(session, session.client().redrive_message(args.message_id, send_at=send_at))


def _changed(session: Session, message: Message) -> int:
    if session.json:
        session.emit(message)
    elif session.quiet:
        print(message.id)
    elif message.status == "scheduled":
        print(f"{message.id} scheduled for {message.sendAt}")
    else:
        print(f"{message.id} {message.status}")
    return 0


@command
def attempts(args: argparse.Namespace, session: Session) -> int:
    """`attempts MESSAGE_ID`."""
    found = session.client().list_attempts(args.message_id)
    if session.json:
        session.emit(found)
        return 0
    output.print_table(["N", "STARTED", "STATUS", "DURATION_MS", "ERROR"], [_attempt_row(a) for a in found])
    return 0


def _attempt_row(attempt: Attempt) -> list[Any]:
    return [attempt.n, attempt.startedAt, attempt.statusCode, attempt.durationMs, attempt.error]


@command
def usage(args: argparse.Namespace, session: Session) -> int:
    """`usage [--from DATE] [--to DATE]`."""
    report = session.client().usage_report(from_date=args.from_date, to_date=args.to_date)
    if session.json:
        session.emit(report.items)
        return 0
    if report.items:
        rows = [[d.date, d.scheduled, d.delivered, d.failed, d.attempts] for d in report.items]
        output.print_table(["DATE", "SCHEDULED", "DELIVERED", "FAILED", "ATTEMPTS"], rows)
    else:
        print(f"no activity from {report.from_} to {report.to}")
    if report.plan is not None:
        print(outcome.plan_text(report.plan), file=sys.stderr)
    return 0
