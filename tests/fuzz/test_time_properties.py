"""Properties of the time rules: RFC 3339 parsing round-trips, never raises anything but a 400, never fires early."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.times import delay_to_ms, format_ms, parse_instant
from tests.fuzz.profile import examples

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
OUTPUT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

instants = st.integers(min_value=0, max_value=MAX_MS)
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)
fractions = st.text(alphabet="0123456789", min_size=0, max_size=9)


def local_time(ms: int, offset_min: int) -> datetime | None:
    """The wall-clock time at `offset_min` of the whole second of `ms`; None past year 9999."""
    try:
        return EPOCH + timedelta(milliseconds=ms - ms % 1000) + timedelta(minutes=offset_min)
    except OverflowError:
        return None


def rfc3339(local: datetime, offset_min: int, fraction: str, *, sep: str = "T", zulu: str = "Z") -> str:
    """`local` (at `offset_min`) as RFC 3339 text, with `fraction` as the fraction digits."""
    if offset_min == 0 and zulu:
        suffix = zulu
    else:
        sign = "+" if offset_min >= 0 else "-"
        suffix = f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    dot = f".{fraction}" if fraction else ""
    return local.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + dot + suffix


@examples(300)
@given(instants)
def test_format_then_parse_is_the_identity(ms: int) -> None:
    text = format_ms(ms)
    assert OUTPUT.match(text)
    assert parse_instant(text, field="t") == ms
    assert format_ms(parse_instant(text, field="t")) == text


@examples(300)
@given(instants, offsets, fractions, st.sampled_from(["T", "t", " "]), st.sampled_from(["Z", "z", ""]))
def test_any_offset_and_fraction_parse_to_the_same_instant(
    ms: int, offset_min: int, fraction: str, sep: str, zulu: str
) -> None:
    local = local_time(ms, offset_min)
    if local is None:
        return  # not writable with a four-digit year
    text = rfc3339(local, offset_min, fraction, sep=sep, zulu=zulu)
    whole_ms = ms - ms % 1000 + int((fraction + "000")[:3])
    assert parse_instant(text, field="t") == whole_ms


@examples(300)
@given(instants, offsets)
def test_a_time_without_an_offset_is_refused(ms: int, offset_min: int) -> None:
    local = local_time(ms, offset_min)
    if local is None:
        return
    naive = local.strftime("%Y-%m-%dT%H:%M:%S.123")
    try:
        parse_instant(naive, field="sendAt")
    except InvalidInput as exc:
        assert exc.field == "sendAt"
    else:
        raise AssertionError(f"{naive} has no offset but was accepted")


@examples(300)
@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(1969, 12, 31)), offsets)
def test_a_time_before_1970_is_refused(moment: datetime, offset_min: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    if aware.astimezone(UTC) >= EPOCH:
        return
    try:
        parse_instant(aware.isoformat(), field="sendAt")
    except InvalidInput:
        return
    raise AssertionError(f"{aware.isoformat()} is before 1970 but was accepted")


@examples(300)
@given(
    st.one_of(st.text(max_size=40), st.from_regex(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)"))
)
def test_any_text_is_a_time_or_a_400(text: str) -> None:
    try:
        ms = parse_instant(text, field="t")
    except InvalidInput:
        return
    assert 0 <= ms <= MAX_MS
    assert OUTPUT.match(format_ms(ms))


@examples(300)
@given(st.floats(min_value=0, max_value=10 * 365 * 86_400, allow_nan=False, allow_infinity=False))
def test_a_delay_never_fires_early_and_is_at_most_1_ms_late(seconds: float) -> None:
    ms = delay_to_ms(seconds)
    assert 0 <= ms - seconds * 1000 <= 1


@examples(300)
@given(st.one_of(st.floats(max_value=-1e-9), st.just(math.nan), st.just(math.inf), st.booleans(), st.text()))
def test_a_bad_delay_is_a_400(value: object) -> None:
    try:
        delay_to_ms(value)  # type: ignore[arg-type]
    except InvalidInput as exc:
        assert exc.field == "delaySeconds"
    else:
        raise AssertionError(f"{value!r} was accepted as a delay")
