"""Time rules: RFC 3339 in, milliseconds out, horizon and past-means-now."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.times import (
    MS_PER_DAY,
    day_of,
    delay_to_ms,
    format_ms,
    parse_day,
    parse_instant,
    resolve_send_at,
)

NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00.000Z"),
        ("2026-12-01T10:00:00.5+02:00", "2026-12-01T08:00:00.500Z"),
        ("2026-12-01t10:00:00.123456789z", "2026-12-01T10:00:00.123Z"),
        ("2026-12-01 10:00:00-05:30", "2026-12-01T15:30:00.000Z"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
    ],
)
def test_offsets_are_applied_and_output_is_utc_millis(text: str, expected: str) -> None:
    assert format_ms(parse_instant(text, field="sendAt")) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "2026-12-01T10:00:00",  # no offset
        "2026-12-01",
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",  # would overflow going to UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "2026-13-01T10:00:00Z",
        "2026-02-30T10:00:00Z",
        1_800_000_000,
        None,
        "NaN",
    ],
)
def test_invalid_times_are_400s_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_instant(bad, field="notAfter")
    assert caught.value.field == "notAfter"


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1, -0.001, 1e300, True, "5"])
def test_delays_must_be_finite_non_negative_numbers(bad: object) -> None:
    with pytest.raises(InvalidInput):
        delay_to_ms(bad)  # type: ignore[arg-type]


def test_delay_rounds_up_so_nothing_fires_early() -> None:
    assert delay_to_ms(0.0001) == 1
    assert delay_to_ms(2) == 2000


def test_a_little_past_means_now_and_the_horizon_is_enforced() -> None:
    assert (
        resolve_send_at(send_at_ms=NOW - 5_000, delay_ms=None, now_ms=NOW, horizon_days=1, past_tolerance_ms=5_000)
        == NOW
    )
    assert (
        resolve_send_at(send_at_ms=None, delay_ms=MS_PER_DAY, now_ms=NOW, horizon_days=1, past_tolerance_ms=0)
        == NOW + MS_PER_DAY
    )
    with pytest.raises(InvalidInput, match="more than 1 days"):
        resolve_send_at(send_at_ms=None, delay_ms=MS_PER_DAY + 1, now_ms=NOW, horizon_days=1, past_tolerance_ms=0)


@pytest.mark.parametrize(
    ("ago_ms", "span"),
    [(5_001, "5 s"), (6 * 60_000, "6 min"), (3 * 3_600_000, "3 h"), (10 * 365 * MS_PER_DAY, "10 years")],
)
def test_further_in_the_past_than_the_tolerance_is_a_400_naming_the_time(ago_ms: int, span: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_send_at(send_at_ms=NOW - ago_ms, delay_ms=None, now_ms=NOW, horizon_days=1, past_tolerance_ms=5_000)
    assert caught.value.field == "sendAt"
    assert format_ms(NOW - ago_ms) in caught.value.message
    assert f"{span} in the past" in caught.value.message
    assert "delaySeconds: 0" in caught.value.message


def test_delay_zero_is_the_explicit_now() -> None:
    assert resolve_send_at(send_at_ms=None, delay_ms=0, now_ms=NOW, horizon_days=1, past_tolerance_ms=0) == NOW


@pytest.mark.parametrize(("send_at", "delay"), [(None, None), (NOW, 0)])
def test_exactly_one_of_send_at_or_delay(send_at: int | None, delay: int | None) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        resolve_send_at(send_at_ms=send_at, delay_ms=delay, now_ms=NOW, horizon_days=10, past_tolerance_ms=0)


def test_days() -> None:
    assert day_of(parse_instant("2026-12-01T23:59:59.999Z", field="x")) == "2026-12-01"
    assert parse_day("2026-12-01", field="from").isoformat() == "2026-12-01"
    for bad in ("2026-12-1", "yesterday", "2026-02-30"):
        with pytest.raises(InvalidInput):
            parse_day(bad, field="from")
