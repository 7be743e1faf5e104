"""Turning pydantic's validation errors into the domain's `InvalidInput`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], raw: Mapping[str, Any] | Any) -> M:
    """`model` validated from `raw`, or `InvalidInput` naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("the body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid_input(exc) from exc


def invalid_input(exc: ValidationError) -> InvalidInput:
    """The first error of a pydantic `ValidationError`, in words for people."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"unknown field {field}"
    elif kind == "missing":
        message = f"{field} is required"
    else:
        text = first["msg"].removeprefix("Value error, ")
        message = f"{field}: {text}" if field else text
    return InvalidInput(message, field=field)
