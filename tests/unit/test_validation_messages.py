"""Validation errors for people: an unknown field is named first, with the field it most likely meant."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from chalicelib.api.openapi import _REQUEST_MODELS
from chalicelib.domain.errors import InvalidInput
from chalicelib.services.validation import suggest, validate


def _fields(model: type[BaseModel]) -> list[tuple[type[BaseModel], str]]:
    return [(model, name) for name in model.model_fields]


CASES = [case for model in _REQUEST_MODELS for case in _fields(model)]


def test_every_request_model_is_covered() -> None:
    assert {model.__name__ for model, _ in CASES} == {model.__name__ for model in _REQUEST_MODELS}
    assert len(_REQUEST_MODELS) >= 8


@pytest.mark.parametrize(("model", "name"), CASES, ids=[f"{m.__name__}.{n}" for m, n in CASES])
def test_a_field_in_the_wrong_case_is_unknown_and_the_right_one_suggested(model: type[BaseModel], name: str) -> None:
    typo = name.swapcase() if name.lower() != name else name.upper()
    with pytest.raises(InvalidInput) as caught:
        validate(model, {typo: 1})  # every required field missing too: the unknown one is still named
    assert caught.value.message == f"unknown field {typo}; did you mean {name}?"
    assert caught.value.field == typo


@pytest.mark.parametrize(
    ("model_name", "body", "message"),
    [
        (
            "MessageCreate",
            {"appID": "app_1", "payload": 1, "delaySeconds": 1},
            "unknown field appID; did you mean appId?",
        ),
        ("MessageCreate", {"appId": "a", "payload": 1, "delaySecond": 1}, "did you mean delaySeconds?"),
        ("AppCreate", {"name": "a", "url": "https://x.example/", "retry": {"maxAttemps": 3}}, "retry.maxAttempts?"),
        ("MessagePatch", {"sendat": "2030-01-01T00:00:00Z"}, "unknown field sendat; did you mean sendAt?"),
        ("KeyCreate", {"name": "k", "scopes": ["read"], "colour": "red"}, "unknown field colour"),
    ],
)
def test_typos_name_the_field(model_name: str, body: dict[str, Any], message: str) -> None:
    model = next(m for m in _REQUEST_MODELS if m.__name__ == model_name)
    with pytest.raises(InvalidInput) as caught:
        validate(model, body)
    assert message in caught.value.message
    if model_name == "KeyCreate":
        assert "did you mean" not in caught.value.message  # nothing close: no guess


def test_suggest_prefers_a_case_match_and_refuses_far_guesses() -> None:
    assert suggest("APPID", ["appId", "payload"]) == "appId"
    assert suggest("paylod", ["appId", "payload"]) == "payload"
    assert suggest("zzz", ["appId", "payload"]) is None
