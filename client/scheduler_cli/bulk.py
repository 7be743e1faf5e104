"""`scheduler send --file messages.jsonl`: many messages through `POST /messages/batch`.

Each line is a message create body (`{"appId", "payload", "sendAt" | "delaySeconds", ...}`); `--app`,
`--at`/`--in` and `--max-attempts` fill what a line leaves out. The whole file is checked before
anything is sent. Batches hold at most 100 messages and stay well under the 5 MB body limit; every
message carries an idempotency key, so a retried batch never schedules twice: that is also what lets
a batch wait out a server restart (`cli.reconnect`) and be sent again.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scheduler_cli import output
from scheduler_cli.runtime import Session, UsageError

MAX_BATCH = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Line:
    """One message of the file and its line number."""

    number: int
    body: dict[str, Any]
    size: int


@dataclass
class Outcome:
    """What happened to the lines sent so far."""

    results: list[dict[str, Any]] = field(default_factory=list)
    scheduled: int = 0
    failed: int = 0


def read_lines(source: str) -> list[str]:
    """The lines of `source` (a path, or `-` for stdin)."""
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from exc


def parse_lines(texts: list[str], defaults: dict[str, Any]) -> list[Line]:
    """Every non-blank line as a message body, with the defaults filled in; a bad line is a usage error."""
    lines = []
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            continue
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"line {number} is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise UsageError(f"line {number} must be a JSON object (a message body)")
        lines.append(Line(number, _with_defaults(body, defaults), len(text.encode())))
    if not lines:
        raise UsageError("the file holds no messages")
    return lines


def _with_defaults(body: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    merged = dict(body)
    for name in ("appId", "maxAttempts"):
        if name in defaults and name not in merged:
            merged[name] = defaults[name]
    if "sendAt" not in merged and "delaySeconds" not in merged:
        merged.update({k: v for k, v in defaults.items() if k in ("sendAt", "delaySeconds")})
    return merged


def defaults_of(args: argparse.Namespace) -> dict[str, Any]:
    """The values of `--app`, `--at`, `--in` and `--max-attempts` to fill lines with."""
    if args.data is not None or args.idempotency_key is not None or args.not_after is not None:
        raise UsageError("--data, --idempotency-key and --not-after go with a single message, not --file")
    values = {"appId": args.app_id, "sendAt": args.at, "delaySeconds": args.delay, "maxAttempts": args.max_attempts}
    return {name: value for name, value in values.items() if value is not None}


def batches(lines: list[Line]) -> Iterator[list[Line]]:
    """Groups of at most 100 lines and about 4 MiB."""
    batch: list[Line] = []
    size = 0
    for line in lines:
        if batch and (len(batch) == MAX_BATCH or size + line.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += line.size
    if batch:
        yield batch


def send_file(args: argparse.Namespace, session: Session) -> int:
    """Send every line; print failures (or, with `--json`, every result); exit 1 if any failed."""
    from scheduler_cli.reconnect import Reconnect
    from scheduler_client import calls

    lines = parse_lines(read_lines(args.file), defaults_of(args))
    client = session.client()
    progress = output.Progress(len(lines), enabled=not session.json)
    outcome = Outcome()
    reconnect = Reconnect("send")
    try:
        for batch in batches(lines):
            call = calls.send_batch([line.body for line in batch])  # keys fixed once: resending is safe
            items = reconnect.call(functools.partial(client.run, call))
            _record(outcome, batch, items)
            progress.update(outcome.scheduled + outcome.failed, outcome.failed)
    finally:  # also when a batch is refused as a whole: say what was sent before the error
        progress.finish()
        print(_summary(outcome, len(lines)), file=sys.stderr)
        _report(session, outcome)
    return 1 if outcome.failed else 0


def _record(outcome: Outcome, batch: list[Line], items: list[Any]) -> None:
    from scheduler_client import ErrorBody

    for line, item in zip(batch, items, strict=True):
        if isinstance(item, ErrorBody):
            outcome.failed += 1
            outcome.results.append({"line": line.number, "error": output.jsonable(item)})
        else:
            outcome.scheduled += 1
            outcome.results.append({"line": line.number, "message": output.jsonable(item)})


def _summary(outcome: Outcome, total: int) -> str:
    sent = outcome.scheduled + outcome.failed
    text = f"{outcome.scheduled} of {total} messages scheduled, {outcome.failed} failed"
    return text if sent == total else f"{text}, {total - sent} not sent"


def _report(session: Session, outcome: Outcome) -> None:
    if session.json and outcome.results:
        session.emit(outcome.results)
        return
    failures = [r for r in outcome.results if "error" in r]
    if failures:
        rows = [[r["line"], r["error"]["code"], r["error"]["message"]] for r in failures]
        output.print_table(["LINE", "CODE", "MESSAGE"], rows)
