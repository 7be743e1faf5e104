"""Times on the command line: `--in 1h30m` durations and `--since 2h` (or an RFC 3339 time)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """Seconds of `90s`, `5m`, `2h`, `1d`, `1h30m` (units d, h, m, s in that order)."""
    value = text.strip().lower()
    match = _DURATION.match(value)
    if not value or not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 90s, 5m, 2h, 1d or 1h30m")
    return sum(int(amount) * _UNITS[unit] for amount, unit in zip(match.groups(), "dhms", strict=True) if amount)


def since(text: str, *, now: datetime | None = None) -> str:
    """An RFC 3339 time: a duration means that long ago; anything else passes through (the server validates)."""
    try:
        seconds = parse_duration(text)
    except argparse.ArgumentTypeError:
        return text
    moment = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    return format_utc(moment)


def format_utc(moment: datetime) -> str:
    """`2026-12-01T10:00:00.000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
