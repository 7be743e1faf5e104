"""Typed results of the client: the API's response models, plus pages, the attempt feed and batch items.

The entity models are the ones the server documents in `/openapi.json` (`domain.schemas`), under
shorter names. Fields keep the API's camelCase spelling, so `message.sendAt` reads like the JSON.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from chalicelib.domain.schemas import AppOut, AttemptOut, ErrorBody, KeyOut, MessageOut, TenantOut, UsageOut

__all__ = [
    "ApiKey",
    "App",
    "Attempt",
    "AttemptFeed",
    "BatchItem",
    "ErrorBody",
    "Message",
    "Page",
    "Tenant",
    "UsageDay",
    "parse_batch_item",
]

T = TypeVar("T")

Message = MessageOut
App = AppOut
ApiKey = KeyOut
Tenant = TenantOut
Attempt = AttemptOut
UsageDay = UsageOut
BatchItem = MessageOut | ErrorBody


class Page(BaseModel, Generic[T]):
    """One page of a list: follow `nextCursor` until it is null (a page may be short, even empty)."""

    items: list[T]
    nextCursor: str | None = None


class AttemptFeed(Page[AttemptOut]):
    """A page of `GET /attempts`; once `nextCursor` is null, poll again from `resumeCursor`."""

    resumeCursor: str


def parse_batch_item(item: Any) -> BatchItem:
    """One item of a batch answer: the scheduled message, or the `ErrorBody` of that item."""
    if isinstance(item, dict) and "error" in item:
        return ErrorBody.model_validate(item["error"])
    return MessageOut.model_validate(item)
