"""Reading the API's answers: typed results of a 2xx, `SchedulerAPIError` for anything else."""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import ValidationError

from scheduler_client.calls import Call
from scheduler_client.errors import SchedulerAPIError
from scheduler_client.retry import parse_retry_after

T = TypeVar("T")
_SNIPPET = 200


def read_response(call: Call[T], response: httpx.Response) -> T:
    """The typed result of a 2xx answer; any other answer is a `SchedulerAPIError`."""
    if response.status_code >= 400:
        raise error_from(response)
    if not response.content:
        return call.read(None)
    try:
        data = response.json()
    except ValueError as exc:
        raise _invalid(response, "the answer is not JSON") from exc
    try:
        return call.read(data)
    except ValidationError as exc:
        raise _invalid(response, f"the answer does not have the documented shape: {exc}") from exc


def error_from(response: httpx.Response) -> SchedulerAPIError:
    """The `SchedulerAPIError` of an error answer (also when it is not in the API's error shape)."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        error = response.json()["error"]
        return SchedulerAPIError(
            response.status_code,
            str(error["code"]),
            str(error["message"]),
            error.get("field"),
            retry_after_s=retry_after,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text.strip()[:_SNIPPET] or response.reason_phrase
        return SchedulerAPIError(response.status_code, f"http_{response.status_code}", text, retry_after_s=retry_after)


def _invalid(response: httpx.Response, reason: str) -> SchedulerAPIError:
    return SchedulerAPIError(response.status_code, "invalid_response", f"{reason}: {response.text[:_SNIPPET]!r}")
