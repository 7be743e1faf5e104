"""Turning pydantic's validation errors into the domain's `InvalidInput`.

An unknown field is reported before anything else (a typo such as `appID` would otherwise read
"appId is required"), and with the known field it most likely meant.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
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
        raise invalid_input(exc, model) from exc


def invalid_input(exc: ValidationError, model: type[BaseModel] | None = None) -> InvalidInput:
    """The most telling error of a pydantic `ValidationError` (unknown fields first), in words for people."""
    errors = exc.errors(include_url=False)
    first = next((error for error in errors if error["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    field = ".".join(str(part) for part in loc) or None
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"unknown field {field}"
        known = _known_fields(model, loc[:-1]) if model is not None else ()
        suggestion = suggest(str(loc[-1]), known)
        if suggestion:
            message += f"; did you mean {_join(loc[:-1], suggestion)}?"
    elif kind == "missing":
        message = f"{field} is required"
    else:
        text = first["msg"].removeprefix("Value error, ")
        message = f"{field}: {text}" if field else text
    return InvalidInput(message, field=field)


def suggest(name: str, known: Sequence[str]) -> str | None:
    """The known field `name` most likely meant: same letters in another case, else the closest spelling."""
    for candidate in known:
        if candidate.lower() == name.lower():
            return candidate
    lowered = {candidate.lower(): candidate for candidate in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[close[0]] if close else None


def _known_fields(model: type[BaseModel], path: tuple[Any, ...]) -> tuple[str, ...]:
    """The field names of the (nested) model found at `path` inside `model`, if any."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None or isinstance(part, int):
            continue  # a list index: the item model is the one found for the list's field
        info = current.model_fields.get(str(part))
        current = _model_in(info.annotation) if info is not None else None
    return tuple(current.model_fields) if current is not None else ()


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside an annotation such as `Model`, `Model | None` or `list[Model]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType or origin in (list, tuple):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _join(parent: tuple[Any, ...], name: str) -> str:
    return ".".join([*(str(part) for part in parent), name])
