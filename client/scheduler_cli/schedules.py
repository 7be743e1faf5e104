"""`scheduler schedules create|list|get|update|delete|pause|resume`: recurring schedules.

Each run of a schedule is an ordinary message: `scheduler ls --schedule SCHEDULE_ID` lists them.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from scheduler_cli import output
from scheduler_cli.messages import read_data
from scheduler_cli.runtime import Session, UsageError, command, common_options

if TYPE_CHECKING:
    from scheduler_client import Schedule

MISSED_RUNS = ("skip", "once", "all")
COLUMNS = ["ID", "APP", "WHEN", "TIMEZONE", "STATE", "NEXT_RUN", "LAST_RUN"]


def add_parsers(commands: Any) -> None:
    """Register `schedules` and its subcommands."""
    common = common_options()
    help_text = "recurring schedules (cron or every, in a time zone); each run is a message"
    parser = commands.add_parser("schedules", help=help_text, description=help_text)
    sub = parser.add_subparsers(dest="schedules_command", required=True, metavar="COMMAND")
    create = sub.add_parser(
        "create",
        parents=[common],
        help="create a recurring schedule",
        description="Create a schedule that runs on --cron (5 fields, on the wall clock of --timezone) or "
        "--every (30s, 15m, 1h30m, 1d). A local time skipped by daylight saving runs at the end of the gap; "
        "a repeated one runs once.",
    )
    create.add_argument("--app", dest="app_id", required=True, metavar="APP_ID")
    _add_fields(create)
    create.set_defaults(handler=create_schedule)
    listing = sub.add_parser("list", aliases=["ls"], parents=[common], help="list schedules")
    listing.set_defaults(handler=list_schedules)
    update = sub.add_parser("update", parents=[common], help="change a schedule (only what is given)")
    update.add_argument("schedule_id", metavar="SCHEDULE_ID")
    update.add_argument("--app", dest="app_id", metavar="APP_ID")
    _add_fields(update)
    update.add_argument("--if-match", default="*", metavar="ETAG", help="the etag it must still have (default: any)")
    update.set_defaults(handler=update_schedule)
    for name, handler, text in (
        ("get", get_schedule, "show a schedule with its payload"),
        ("delete", delete_schedule, "delete a schedule (runs not yet due are cancelled)"),
        ("pause", pause_schedule, "no runs until resumed (runs not yet due are cancelled)"),
        ("resume", resume_schedule, "run again from the next run time after now"),
    ):
        one = sub.add_parser(name, parents=[common], help=text)
        one.add_argument("schedule_id", metavar="SCHEDULE_ID")
        one.set_defaults(handler=handler)


def _add_fields(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--cron", help="5-field cron, e.g. '0 9 * * MON-FRI'")
    when.add_argument("--every", help="an interval: 30s, 15m, 1h30m, 1d")
    parser.add_argument("--timezone", help="IANA zone the cron is read in, e.g. Europe/Berlin (default UTC)")
    parser.add_argument("--start", dest="start_at", metavar="TIME", help="no run before this RFC 3339 time")
    parser.add_argument("--end", dest="end_at", metavar="TIME", help="no run after this RFC 3339 time")
    parser.add_argument("--missed", dest="missed_runs", choices=MISSED_RUNS, help="runs missed in downtime")
    parser.add_argument("--data", help="payload of every run: JSON text, @file, or - for stdin")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    names = ("app_id", "cron", "every", "timezone", "start_at", "end_at", "missed_runs")
    fields = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if args.data is not None:
        fields["payload"] = read_data(args.data)
    return fields


@command
def create_schedule(args: argparse.Namespace, session: Session) -> int:
    """`schedules create --app ID (--cron C | --every D) [--timezone Z] ...`."""
    if args.cron is None and args.every is None:
        raise UsageError("schedules create needs --cron or --every")
    fields = _fields(args)
    fields.setdefault("payload", {})
    schedule = session.client().create_schedule(fields.pop("app_id"), fields.pop("payload"), **fields)
    return _show(session, schedule)


@command
def list_schedules(args: argparse.Namespace, session: Session) -> int:
    """`schedules list`."""
    found = list(session.client().iter_schedules(page_size=500))
    if session.json:
        session.emit(found)
        return 0
    output.print_table(COLUMNS, [_row(s) for s in found])
    return 0


@command
def get_schedule(args: argparse.Namespace, session: Session) -> int:
    """`schedules get SCHEDULE_ID`."""
    return _show(session, session.client().get_schedule(args.schedule_id), with_payload=True)


@command
def update_schedule(args: argparse.Namespace, session: Session) -> int:
    """`schedules update SCHEDULE_ID [--cron C | --every D] [--timezone Z] ... [--if-match ETAG]`."""
    fields = _fields(args)
    if not fields:
        raise UsageError("schedules update needs something to change (--cron, --every, --timezone, --data, ...)")
    return _show(session, session.client().update_schedule(args.schedule_id, if_match=args.if_match, **fields))


@command
def delete_schedule(args: argparse.Namespace, session: Session) -> int:
    """`schedules delete SCHEDULE_ID`."""
    session.client().delete_schedule(args.schedule_id)
    if session.json:
        session.emit({"id": args.schedule_id, "status": "deleted"})
    else:
        print(f"deleted {args.schedule_id}")
    return 0


@command
def pause_schedule(args: argparse.Namespace, session: Session) -> int:
    """`schedules pause SCHEDULE_ID`."""
    return _show(session, session.client().pause_schedule(args.schedule_id))


@command
def resume_schedule(args: argparse.Namespace, session: Session) -> int:
    """`schedules resume SCHEDULE_ID`."""
    return _show(session, session.client().resume_schedule(args.schedule_id))


def _when(schedule: Schedule) -> str:
    return f"cron {schedule.cron}" if schedule.cron is not None else f"every {schedule.every}"


def _row(schedule: Schedule) -> list[Any]:
    return [
        schedule.id,
        schedule.appId,
        _when(schedule),
        schedule.timezone,
        schedule.state,
        schedule.nextRunAt,
        schedule.lastRunAt,
    ]


def _show(session: Session, schedule: Schedule, *, with_payload: bool = False) -> int:
    if session.json:
        session.emit(schedule)
        return 0
    if session.quiet:
        print(schedule.id)
        return 0
    output.print_details(
        [
            ("id", schedule.id),
            ("app", schedule.appId),
            ("when", _when(schedule)),
            ("timezone", schedule.timezone),
            ("window", f"{schedule.startAt or '-'} .. {schedule.endAt or '-'}"),
            ("missed runs", schedule.missedRuns),
            ("state", schedule.state),
            ("next run", schedule.nextRunAt or ("none (paused)" if schedule.state == "paused" else "none left")),
            ("last run", schedule.lastRunAt),
            ("skipped", schedule.skippedCount),
            ("etag", schedule.etag),
        ]
    )
    if with_payload:
        print("payload:")
        print(json.dumps(schedule.payload, indent=2, ensure_ascii=False))
    return 0
