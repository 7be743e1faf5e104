"""Scheduling messages: one or a batch, idempotency, reading one back, and every 400/413 on the way."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.domain.times import format_ms
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant, create_message
from tests.support.doubles import RecordingTimer, SettableClock, snapshot

DAY_MS = 86_400_000


def test_create_with_a_delay(admin: Api, app_id: str, clock: SettableClock, ctx: Context) -> None:
    response = admin.post("/messages", {"appId": app_id, "payload": {"hello": "world"}, "delaySeconds": 1.5})
    assert response.status_code == 201
    message = response.json_body
    assert message["id"].startswith("msg_")
    assert message == {
        "id": message["id"],
        "appId": app_id,
        "status": "scheduled",
        "sendAt": format_ms(clock.now + 1500),
        "createdAt": format_ms(clock.now),
        "attempts": 0,
        "roundAttempts": 0,
        "maxAttempts": 8,
        "nextAttemptAt": format_ms(clock.now + 1500),
        "deliveredAt": None,
        "lateMs": None,
        "failureReason": None,
        "notAfter": None,
        "etag": '"1"',
    }
    assert response.headers["ETag"] == '"1"'
    timer = ctx.timer
    assert isinstance(timer, RecordingTimer)
    assert [m.id for m in timer.armed] == [message["id"]]


def test_create_at_a_time_with_an_offset(admin: Api, app_id: str) -> None:
    message = create_message(
        admin, app_id, sendAt="2027-01-01T12:00:00.1234+02:00", maxAttempts=3, notAfter="2027-01-02T00:00:00Z"
    )
    assert message["sendAt"] == "2027-01-01T10:00:00.123Z"
    assert message["maxAttempts"] == 3
    assert message["notAfter"] == "2027-01-02T00:00:00.000Z"


def test_a_time_just_past_means_now(admin: Api, app_id: str, clock: SettableClock) -> None:
    just_past = format_ms(clock.now - 300_000)  # the default tolerance, SCHEDULER_PAST_TOLERANCE_S=300
    assert create_message(admin, app_id, sendAt=just_past)["sendAt"] == format_ms(clock.now)
    assert create_message(admin, app_id, delaySeconds=0)["sendAt"] == format_ms(clock.now)


def test_a_time_further_past_is_a_400_naming_it(admin: Api, app_id: str, ctx: Context, clock: SettableClock) -> None:
    before = snapshot(ctx)
    for body in ({"appId": app_id, "payload": 1, "sendAt": "2016-12-01T10:00:00Z"},):
        response = admin.post("/messages", body)
        assert response.status_code == 400
        error = response.json_body["error"]
        assert error["field"] == "sendAt"
        assert "2016-12-01T10:00:00.000Z" in error["message"] and "in the past" in error["message"]
    over = format_ms(clock.now - 300_001)
    batch = admin.post("/messages/batch", {"messages": [{"appId": app_id, "payload": 1, "sendAt": over}]})
    assert batch.json_body["items"][0]["error"]["field"] == "sendAt"
    assert snapshot(ctx) == before


def test_get_has_the_payload_and_an_etag(admin: Api, app_id: str, reader: Api) -> None:
    created = create_message(admin, app_id, payload=[1, "two", {"3": None}])
    response = reader.get(f"/messages/{created['id']}")
    assert response.status_code == 200
    assert response.json_body == {**created, "payload": [1, "two", {"3": None}]}
    assert response.headers["ETag"] == created["etag"]


def test_payload_can_be_any_json_value(admin: Api, app_id: str) -> None:
    payloads: list[Any] = [None, 0, "text", [], {"deep": [{"x": 1.5}]}, "café ☕ 😀"]
    for payload in payloads:
        created = create_message(admin, app_id, payload=payload)
        assert admin.get(f"/messages/{created['id']}").json_body["payload"] == payload


BAD_MESSAGES: list[tuple[str, bytes, str]] = [
    ("invalid json", b'{"appId": ', "invalid_json"),
    ("empty body", b"", "invalid_json"),
    ("whitespace body", b"  \n", "invalid_json"),
    ("not utf-8", b'{"appId": "\xff"}', "invalid_json"),
    ("NaN payload", b'{"appId": "APP", "payload": NaN, "delaySeconds": 1}', "invalid_json"),
    ("Infinity delay", b'{"appId": "APP", "payload": 1, "delaySeconds": Infinity}', "invalid_json"),
    ("-Infinity nested", b'{"appId": "APP", "payload": {"a": [-Infinity]}, "delaySeconds": 1}', "invalid_json"),
    ("overflowing number", b'{"appId": "APP", "payload": 1e999, "delaySeconds": 1}', "invalid_json"),
    ("huge integer", b'{"appId": "APP", "payload": 1' + b"0" * 5000 + b', "delaySeconds": 1}', "invalid_json"),
    ("lone surrogate", b'{"appId": "APP", "payload": "\\ud800", "delaySeconds": 1}', "invalid_json"),
    ("array body", b'[{"appId": "APP", "payload": 1, "delaySeconds": 1}]', "validation_error"),
    ("unknown field", b'{"appId": "APP", "payload": 1, "delaySeconds": 1, "priority": 9}', "validation_error"),
    ("missing payload", b'{"appId": "APP", "delaySeconds": 1}', "validation_error"),
    ("missing appId", b'{"payload": 1, "delaySeconds": 1}', "validation_error"),
    ("no offset", b'{"appId": "APP", "payload": 1, "sendAt": "2027-01-01T10:00:00"}', "validation_error"),
    ("date only", b'{"appId": "APP", "payload": 1, "sendAt": "2027-01-01"}', "validation_error"),
    ("epoch number", b'{"appId": "APP", "payload": 1, "sendAt": 1800000000}', "validation_error"),
    ("year 1969", b'{"appId": "APP", "payload": 1, "sendAt": "1969-12-31T23:59:59Z"}', "validation_error"),
    ("month 13", b'{"appId": "APP", "payload": 1, "sendAt": "2027-13-01T00:00:00Z"}', "validation_error"),
    (
        "both times",
        b'{"appId": "APP", "payload": 1, "sendAt": "2027-01-01T00:00:00Z", "delaySeconds": 1}',
        "validation_error",
    ),
    ("neither time", b'{"appId": "APP", "payload": 1}', "validation_error"),
    ("negative delay", b'{"appId": "APP", "payload": 1, "delaySeconds": -1}', "validation_error"),
    ("huge delay", b'{"appId": "APP", "payload": 1, "delaySeconds": 1e300}', "validation_error"),
    ("beyond horizon (delay)", b'{"appId": "APP", "payload": 1, "delaySeconds": 315446400}', "validation_error"),
    ("beyond horizon (time)", b'{"appId": "APP", "payload": 1, "sendAt": "2040-01-01T00:00:00Z"}', "validation_error"),
    ("maxAttempts 0", b'{"appId": "APP", "payload": 1, "delaySeconds": 1, "maxAttempts": 0}', "validation_error"),
    ("maxAttempts 51", b'{"appId": "APP", "payload": 1, "delaySeconds": 1, "maxAttempts": 51}', "validation_error"),
    (
        "empty idempotencyKey",
        b'{"appId": "APP", "payload": 1, "delaySeconds": 1, "idempotencyKey": ""}',
        "validation_error",
    ),
    ("bad notAfter", b'{"appId": "APP", "payload": 1, "delaySeconds": 1, "notAfter": "tomorrow"}', "validation_error"),
]


@pytest.mark.parametrize(("case", "raw", "code"), BAD_MESSAGES, ids=[case for case, _, _ in BAD_MESSAGES])
def test_bad_messages_are_400_and_store_nothing(
    admin: Api, app_id: str, ctx: Context, case: str, raw: bytes, code: str
) -> None:
    before = snapshot(ctx)
    response = admin.post("/messages", raw=raw.replace(b"APP", app_id.encode()))
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["code"] == code
    assert snapshot(ctx) == before
    timer = ctx.timer
    assert isinstance(timer, RecordingTimer) and timer.armed == []


def test_horizon_edge_is_accepted(admin: Api, app_id: str) -> None:
    assert admin.post("/messages", {"appId": app_id, "payload": 1, "delaySeconds": 3650 * 86400}).status_code == 201


def test_payload_over_256_kib_is_413_and_stores_nothing(admin: Api, app_id: str, ctx: Context) -> None:
    before = snapshot(ctx)
    limit = 256 * 1024
    fits = "x" * (limit - 2)  # the serialized string carries two quotes
    assert admin.post("/messages", {"appId": app_id, "payload": fits, "delaySeconds": 1}).status_code == 201
    before = snapshot(ctx)
    response = admin.post("/messages", {"appId": app_id, "payload": fits + "x", "delaySeconds": 1})
    assert response.status_code == 413
    assert response.json_body["error"] == {
        "code": "payload_too_large",
        "message": response.json_body["error"]["message"],
        "field": "payload",
    }
    multibyte = "é" * (limit // 2)  # 256 KiB of characters would fit; their UTF-8 bytes do not
    assert admin.post("/messages", {"appId": app_id, "payload": multibyte, "delaySeconds": 1}).status_code == 413
    assert snapshot(ctx) == before


def test_body_over_the_request_limit_is_413(admin: Api, app_id: str, ctx: Context) -> None:
    bootstrap.install(dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, max_body_bytes=1000)))
    response = admin.post("/messages", {"appId": app_id, "payload": "x" * 2000, "delaySeconds": 1})
    assert response.status_code == 413
    assert response.json_body["error"]["code"] == "payload_too_large"


# ---- idempotency ----


def test_same_key_same_body_replays_with_200(admin: Api, app_id: str, ctx: Context, clock: SettableClock) -> None:
    body = {"appId": app_id, "payload": {"order": 7}, "delaySeconds": 30, "idempotencyKey": "order-7"}
    first = admin.post("/messages", body)
    assert first.status_code == 201
    clock.advance(5_000)  # delaySeconds compares as sent, not as the time it became
    again = admin.post("/messages", body)
    assert again.status_code == 200
    assert again.json_body == first.json_body
    assert len(snapshot(ctx)["messages"]) == 1
    assert admin.get("/usage").json_body["items"][-1]["scheduled"] == 1


def test_same_key_other_body_is_409(admin: Api, app_id: str, ctx: Context) -> None:
    admin.post("/messages", {"appId": app_id, "payload": 1, "delaySeconds": 30, "idempotencyKey": "k"})
    before = snapshot(ctx)
    response = admin.post("/messages", {"appId": app_id, "payload": 2, "delaySeconds": 30, "idempotencyKey": "k"})
    assert response.status_code == 409
    assert response.json_body["error"]["code"] == "idempotency_conflict"
    assert snapshot(ctx) == before


def test_idempotency_key_header(admin: Api, app_id: str, ctx: Context) -> None:
    body = {"appId": app_id, "payload": 1, "delaySeconds": 30}
    first = admin.post("/messages", body, headers={"Idempotency-Key": "h-1"})
    assert first.status_code == 201
    again = admin.post("/messages", body, headers={"Idempotency-Key": "h-1"})
    assert (again.status_code, again.json_body["id"]) == (200, first.json_body["id"])
    other = admin.post("/messages", {**body, "payload": 2}, headers={"Idempotency-Key": "h-1"})
    assert other.status_code == 409
    same = admin.post("/messages", {**body, "idempotencyKey": "h-2"}, headers={"Idempotency-Key": "h-2"})
    assert same.status_code == 201
    before = snapshot(ctx)
    differ = admin.post("/messages", {**body, "idempotencyKey": "h-3"}, headers={"Idempotency-Key": "h-4"})
    assert differ.status_code == 400
    assert differ.json_body["error"]["field"] == "idempotencyKey"
    too_long = admin.post("/messages", body, headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 400
    assert snapshot(ctx) == before


def test_idempotency_keys_expire_after_24_hours(admin: Api, app_id: str, clock: SettableClock) -> None:
    body = {"appId": app_id, "payload": 1, "delaySeconds": 30, "idempotencyKey": "daily"}
    first = admin.post("/messages", body).json_body["id"]
    clock.advance(DAY_MS - 1)
    assert admin.post("/messages", body).json_body["id"] == first
    clock.advance(1)
    fresh = admin.post("/messages", body)
    assert fresh.status_code == 201 and fresh.json_body["id"] != first


def test_idempotency_keys_are_per_tenant(admin: Api, app_id: str, other: Tenant, api: Api) -> None:
    body = {"payload": 1, "delaySeconds": 30, "idempotencyKey": "shared"}
    mine = admin.post("/messages", {"appId": app_id, **body})
    theirs = api.as_(other.admin).post("/messages", {"appId": other.app(), **body})
    assert (mine.status_code, theirs.status_code) == (201, 201)


# ---- batch ----


def test_batch_answers_each_item_in_order(admin: Api, app_id: str, ctx: Context) -> None:
    items = [
        {"appId": app_id, "payload": 1, "delaySeconds": 10},
        {"appId": "app_unknown", "payload": 2, "delaySeconds": 10},
        {"appId": app_id, "payload": 3, "sendAt": "2027-01-01T00:00:00"},
        {"appId": app_id, "payload": "x" * (256 * 1024), "delaySeconds": 10},
        {"appId": app_id, "payload": 5, "delaySeconds": 10, "idempotencyKey": "b"},
        {"appId": app_id, "payload": 5, "delaySeconds": 10, "idempotencyKey": "b"},
    ]
    response = admin.post("/messages/batch", {"messages": items})
    assert response.status_code == 200
    out = response.json_body["items"]
    assert [item.get("error", {}).get("code") for item in out] == [
        None,
        "not_found",
        "validation_error",
        "payload_too_large",
        None,
        None,
    ]
    assert out[4]["id"] == out[5]["id"]
    assert len(snapshot(ctx)["messages"]) == 2
    assert admin.get(f"/messages/{out[0]['id']}").json_body["payload"] == 1


@pytest.mark.parametrize("count", [0, 101])
def test_batch_size_is_1_to_100(admin: Api, app_id: str, ctx: Context, count: int) -> None:
    before = snapshot(ctx)
    response = admin.post("/messages/batch", {"messages": [{"appId": app_id, "payload": 1, "delaySeconds": 1}] * count})
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == "messages"
    assert snapshot(ctx) == before


def test_batch_of_100_is_fine(admin: Api, app_id: str, ctx: Context) -> None:
    response = admin.post("/messages/batch", {"messages": [{"appId": app_id, "payload": 1, "delaySeconds": 1}] * 100})
    assert response.status_code == 200
    assert len(response.json_body["items"]) == 100
    assert len(snapshot(ctx)["messages"]) == 100


def test_batch_over_5_mb_is_413(admin: Api, app_id: str, ctx: Context) -> None:
    item = {"appId": app_id, "payload": "x" * 200_000, "delaySeconds": 1}
    before = snapshot(ctx)
    response = admin.post("/messages/batch", {"messages": [item] * 27})
    assert response.status_code == 413
    assert snapshot(ctx) == before


def test_batch_shape_errors_are_400(admin: Api, app_id: str, ctx: Context) -> None:
    before = snapshot(ctx)
    bodies: list[Any] = [{"messages": "no"}, {"items": []}, [], {"messages": [], "x": 1}]
    for body in bodies:
        assert admin.post("/messages/batch", body).status_code == 400, body
    assert admin.post("/messages/batch", raw=b'{"messages": [NaN]}').json_body["error"]["code"] == "invalid_json"
    assert snapshot(ctx) == before


def test_a_batch_item_that_is_not_an_object_fails_alone(admin: Api, app_id: str) -> None:
    good = {"appId": app_id, "payload": 1, "delaySeconds": 60}
    response = admin.post("/messages/batch", {"messages": [1, good]})
    assert response.status_code == 200
    first, second = response.json_body["items"]
    assert first["error"]["code"] == "validation_error"
    assert second["status"] == "scheduled"
