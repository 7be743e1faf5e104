"""Reading requests: the JSON body (strictly) and the query parameters of the list routes.

The body is parsed here rather than with Chalice's `json_body`, so that `NaN`, `Infinity`, a
number that overflows to infinity and a lone UTF-16 surrogate are all a 400 `invalid_json`
instead of values that break later (Chalice also accepts them).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from chalice.app import Request

from chalicelib.domain.errors import InvalidInput, InvalidJson, PayloadTooLarge
from chalicelib.domain.model import Status
from chalicelib.domain.times import parse_instant

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NO_PARAMS: Mapping[str, str] = {}


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not valid JSON; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidJson(f"the number {text[:40]} is too large")
    return value


def json_body(request: Request, *, max_bytes: int, required: bool = True) -> Any:
    """The parsed JSON body; `None` when the body is empty and `required` is false."""
    raw = request.raw_body
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    if not raw or raw.isspace():
        if required:
            raise InvalidJson("this request needs a JSON body")
        return None
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except InvalidJson:
        raise
    except RecursionError as exc:
        raise InvalidJson("the body is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int() digit limit
        raise InvalidJson(f"the body is not valid JSON: {_reason(exc)}") from exc
    if _SURROGATE_ESCAPE.search(raw if isinstance(raw, bytes) else raw.encode()):
        _check_encodable(value)
    return value


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8"
    return "a number is too long"


def _check_encodable(value: Any) -> None:
    """Only for bodies with a `\\uD8xx`-style escape: a lone surrogate cannot be stored or sent."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidJson("the body holds an unpaired UTF-16 surrogate escape") from exc


def params(request: Request) -> Mapping[str, str]:
    """The query parameters (the last value of a repeated one), or an empty mapping."""
    return request.query_params or _NO_PARAMS


def limit_param(query: Mapping[str, str]) -> int:
    """`limit`: a whole number 1-500, default 50."""
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(raw)


def text_param(query: Mapping[str, str], name: str) -> str | None:
    """An optional text parameter (a cursor or an id); empty means absent."""
    value = query.get(name)
    if not value:
        return None
    if len(value) > 2048:
        raise InvalidInput(f"{name} is too long", field=name)
    return value


def instant_param(query: Mapping[str, str], name: str) -> int | None:
    """An optional RFC 3339 time, as Unix ms."""
    value = query.get(name)
    if not value:
        return None
    if len(value) > 6 and value[-6] == " " and value[-5:-3].isdigit():
        value = f"{value[:-6]}+{value[-5:]}"  # an unencoded "+hh:mm" arrives as " hh:mm"
    return parse_instant(value, field=name)


def status_param(query: Mapping[str, str]) -> Status | None:
    """An optional message status."""
    value = query.get("status")
    if not value:
        return None
    try:
        return Status(value)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in Status)
        raise InvalidInput(f"status must be one of {allowed}", field="status") from exc


def header(request: Request, name: str) -> str | None:
    """A request header (case-insensitive), or None."""
    value: str | None = request.headers.get(name)
    return value
