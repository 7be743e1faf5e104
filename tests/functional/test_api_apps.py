"""Apps: create, read, list, change, delete, rotate the secret, and their validation."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.model import FailureReason, Status
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant
from tests.support.doubles import RecordingTimer, snapshot

DEFAULT_RETRY = {
    "maxAttempts": 8,
    "scheduleSeconds": [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0],
    "jitter": 0.2,
    "maxRetryAfterSeconds": 86400.0,
}


def test_create_shows_the_secret_once_and_masks_headers(admin: Api, ctx: Context, tenant: Tenant) -> None:
    body = {
        "name": "billing",
        "url": "https://example.com/hook",
        "headers": {"X-Token": "s3cret"},
        "retry": {"maxAttempts": 3},
    }
    response = admin.post("/apps", body)
    assert response.status_code == 201
    created = response.json_body
    assert created["id"].startswith("app_")
    assert created["signingSecret"].startswith("whsec_")
    assert created["headers"] == {"X-Token": "***"}
    assert created["retry"] == DEFAULT_RETRY | {"maxAttempts": 3}
    assert created["createdAt"].endswith("Z")
    stored = ctx.apps.get_app(tenant.id, created["id"])
    assert stored is not None and stored.headers == {"X-Token": "s3cret"}
    fetched = admin.get(f"/apps/{created['id']}").json_body
    assert "signingSecret" not in fetched
    assert fetched["headers"] == {"X-Token": "***"}
    assert b"s3cret" not in admin.get("/apps").body


def test_retry_defaults_to_eight(admin: Api) -> None:
    assert admin.post("/apps", {"name": "a", "url": "http://localhost:9/x"}).json_body["retry"] == DEFAULT_RETRY


def test_list_walks_every_page(admin: Api, tenant: Tenant) -> None:
    made = {tenant.app() for _ in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = admin.get("/apps?limit=3" + (f"&cursor={cursor}" if cursor else "")).json_body
        seen += [app["id"] for app in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(made)


def test_patch_changes_fields_and_replaces_headers(admin: Api, app_id: str, ctx: Context, tenant: Tenant) -> None:
    admin.patch(f"/apps/{app_id}", {"headers": {"A": "1", "B": "2"}})
    response = admin.patch(
        f"/apps/{app_id}",
        {"name": "renamed", "url": "https://example.org/", "headers": {"C": "3"}, "retry": {"maxAttempts": 2}},
    )
    assert response.status_code == 200
    changed = response.json_body
    assert (changed["name"], changed["url"], changed["headers"], changed["retry"]) == (
        "renamed",
        "https://example.org/",
        {"C": "***"},
        DEFAULT_RETRY | {"maxAttempts": 2},
    )
    assert "signingSecret" not in changed
    stored = ctx.apps.get_app(tenant.id, app_id)
    assert stored is not None and dict(stored.headers) == {"C": "3"}


def test_patch_with_nothing_to_change_is_400(admin: Api, app_id: str) -> None:
    assert admin.patch(f"/apps/{app_id}", {}).status_code == 400


def test_rotate_gives_a_new_secret_and_keeps_the_old_one_signing(admin: Api, tenant: Tenant, ctx: Context) -> None:
    created = admin.post("/apps", {"name": "a", "url": "https://example.com/"}).json_body
    rotated = admin.post(f"/apps/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json_body["signingSecret"].startswith("whsec_")
    assert rotated.json_body["signingSecret"] != created["signingSecret"]
    stored = ctx.apps.get_app(tenant.id, created["id"])
    assert stored is not None
    assert stored.signing_secrets(ctx.clock.now_ms()) == (rotated.json_body["signingSecret"], created["signingSecret"])


def test_delete_cancels_pending_messages_and_stops_in_flight(
    admin: Api, app_id: str, ctx: Context, tenant: Tenant
) -> None:
    ids = [
        admin.post("/messages", {"appId": app_id, "payload": n, "delaySeconds": 60}).json_body["id"] for n in range(3)
    ]
    response = admin.delete(f"/apps/{app_id}")
    assert response.status_code == 200
    assert response.json_body == {}
    assert admin.get(f"/apps/{app_id}").status_code == 404
    for message_id in ids:
        message = admin.get(f"/messages/{message_id}").json_body
        assert message["status"] == Status.CANCELLED
        assert message["failureReason"] == FailureReason.APP_DELETED
    timer = ctx.timer
    assert isinstance(timer, RecordingTimer)
    assert timer.deleted_apps == [(tenant.id, app_id)]
    assert admin.delete(f"/apps/{app_id}").status_code == 404


def test_redrive_of_a_message_whose_app_is_gone_is_a_conflict(admin: Api, app_id: str) -> None:
    message_id = admin.post("/messages", {"appId": app_id, "payload": 1, "delaySeconds": 60}).json_body["id"]
    admin.delete(f"/apps/{app_id}")
    response = admin.post(f"/messages/{message_id}/redrive")
    assert response.status_code == 409
    assert response.json_body["error"]["code"] == "wrong_state"


BAD_APPS: list[tuple[str, Any, str | None]] = [
    ("ftp url", {"name": "a", "url": "ftp://example.com/"}, "url"),
    ("relative url", {"name": "a", "url": "/hook"}, "url"),
    ("javascript url", {"name": "a", "url": "javascript:alert(1)"}, "url"),
    ("url with spaces", {"name": "a", "url": "https://exa mple.com/"}, "url"),
    ("missing name", {"url": "https://example.com/"}, "name"),
    ("empty name", {"name": "", "url": "https://example.com/"}, "name"),
    ("unknown field", {"name": "a", "url": "https://example.com/", "colour": "red"}, "colour"),
    ("host header", {"name": "a", "url": "https://example.com/", "headers": {"Host": "evil"}}, "headers"),
    ("content-length", {"name": "a", "url": "https://example.com/", "headers": {"content-length": "1"}}, "headers"),
    ("webhook-*", {"name": "a", "url": "https://example.com/", "headers": {"Webhook-Signature": "v1,x"}}, "headers"),
    ("scheduler-*", {"name": "a", "url": "https://example.com/", "headers": {"scheduler-attempt": "9"}}, "headers"),
    (
        "transfer-encoding",
        {"name": "a", "url": "https://example.com/", "headers": {"Transfer-Encoding": "chunked"}},
        "headers",
    ),
    ("connection", {"name": "a", "url": "https://example.com/", "headers": {"Connection": "close"}}, "headers"),
    ("bad header name", {"name": "a", "url": "https://example.com/", "headers": {"a b": "1"}}, "headers"),
    ("header value newline", {"name": "a", "url": "https://example.com/", "headers": {"X": "1\r\nY: 2"}}, "headers"),
    ("header value not text", {"name": "a", "url": "https://example.com/", "headers": {"X": 1}}, "headers.X"),
    ("maxAttempts 0", {"name": "a", "url": "https://example.com/", "retry": {"maxAttempts": 0}}, "retry.maxAttempts"),
    (
        "maxAttempts text",
        {"name": "a", "url": "https://example.com/", "retry": {"maxAttempts": "3"}},
        "retry.maxAttempts",
    ),
    ("not an object", ["a"], None),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_APPS, ids=[case for case, _, _ in BAD_APPS])
def test_bad_apps_are_400_and_store_nothing(admin: Api, ctx: Context, case: str, body: Any, field: str | None) -> None:
    before = snapshot(ctx)
    response = admin.post("/apps", body)
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["code"] == "validation_error"
    assert response.json_body["error"].get("field") == field
    assert snapshot(ctx) == before


@pytest.mark.parametrize(
    "name", ["Content-Type", "Content-Encoding", "Expect", "User-Agent", "Keep-Alive", "Proxy-Authorization", "TE"]
)
def test_reserved_header_is_400_naming_it_on_create_and_patch(admin: Api, app_id: str, ctx: Context, name: str) -> None:
    before = snapshot(ctx)
    for response in (
        admin.post("/apps", {"name": "a", "url": "https://example.com/", "headers": {name: "x"}}),
        admin.patch(f"/apps/{app_id}", {"headers": {"X-Ok": "1", name: "x"}}),
    ):
        assert response.status_code == 400
        error = response.json_body["error"]
        assert (error["code"], error["field"]) == ("validation_error", "headers")
        assert f"'{name}' is reserved" in error["message"]
    assert snapshot(ctx) == before


@pytest.mark.parametrize("value", ["a\x00b", "tab\tok\x07bell", "x\x1b[31m"])
def test_header_value_with_control_character_is_400(admin: Api, app_id: str, value: str) -> None:
    response = admin.patch(f"/apps/{app_id}", {"headers": {"X-Token": value}})
    assert response.status_code == 400
    assert "control character" in response.json_body["error"]["message"]


def test_url_with_userinfo_is_400_pointing_to_headers(admin: Api, app_id: str, ctx: Context) -> None:
    before = snapshot(ctx)
    for response in (
        admin.post("/apps", {"name": "a", "url": "http://user:hunter2@example.com/x?token=1"}),
        admin.patch(f"/apps/{app_id}", {"url": "https://user@example.com/"}),
    ):
        assert response.status_code == 400
        error = response.json_body["error"]
        assert error["field"] == "url" and "put credentials in a header" in error["message"]
        assert "hunter2" not in error["message"]
    assert snapshot(ctx) == before


def test_url_query_values_are_write_only_for_every_key(admin: Api, api: Api, ctx: Context, tenant: Tenant) -> None:
    url = "https://example.com/hook?token=s3cret&region=eu"
    created = admin.post("/apps", {"name": "q", "url": url}).json_body
    shown = "https://example.com/hook?token=***&region=***"
    reader = api.as_(tenant.key("read"))
    listed = reader.get("/apps").json_body["items"]
    answers = [created, admin.get(f"/apps/{created['id']}").json_body, reader.get(f"/apps/{created['id']}").json_body]
    assert [a["url"] for a in answers] + [a["url"] for a in listed if a["id"] == created["id"]] == [shown] * 4
    stored = ctx.apps.get_app(tenant.id, created["id"])
    assert stored is not None and stored.url == url  # deliveries go to the real URL


def test_patch_with_the_masked_url_keeps_the_stored_one(admin: Api, ctx: Context, tenant: Tenant) -> None:
    url = "https://example.com/hook?token=s3cret"
    app_id = admin.post("/apps", {"name": "q", "url": url}).json_body["id"]
    shown = admin.get(f"/apps/{app_id}").json_body["url"]
    changed = admin.patch(f"/apps/{app_id}", {"name": "renamed", "url": shown})  # what an edit form sends back
    assert changed.status_code == 200 and changed.json_body["name"] == "renamed"
    stored = ctx.apps.get_app(tenant.id, app_id)
    assert stored is not None and stored.url == url
    moved = admin.patch(f"/apps/{app_id}", {"url": "https://example.com/hook?token=new"})
    assert moved.json_body["url"] == shown
    stored = ctx.apps.get_app(tenant.id, app_id)
    assert stored is not None and stored.url == "https://example.com/hook?token=new"


def test_bad_patch_is_400_and_changes_nothing(admin: Api, app_id: str, ctx: Context) -> None:
    before = snapshot(ctx)
    for body in ({"url": "gopher://x"}, {"headers": {"Host": "x"}}, {"nope": 1}):
        assert admin.patch(f"/apps/{app_id}", body).status_code == 400
    assert snapshot(ctx) == before


def test_an_apps_retry_policy_is_settable_and_a_patch_changes_only_what_it_names(admin: Api, ctx: Context) -> None:
    retry = {"maxAttempts": 3, "scheduleSeconds": [1, 2.5], "jitter": 0, "maxRetryAfterSeconds": 60}
    created = admin.post("/apps", {"name": "a", "url": "https://example.com/", "retry": retry}).json_body
    assert created["retry"] == {
        "maxAttempts": 3,
        "scheduleSeconds": [1.0, 2.5],
        "jitter": 0.0,
        "maxRetryAfterSeconds": 60.0,
    }
    changed = admin.patch(f"/apps/{created['id']}", {"retry": {"jitter": 0.1}}).json_body
    assert changed["retry"] == created["retry"] | {"jitter": 0.1}
    assert admin.get(f"/apps/{created['id']}").json_body["retry"] == changed["retry"]


@pytest.mark.parametrize(
    ("retry", "field"),
    [
        ({"scheduleSeconds": []}, "retry.scheduleSeconds"),
        ({"scheduleSeconds": [0.5]}, "retry.scheduleSeconds.0"),
        ({"scheduleSeconds": [86_401]}, "retry.scheduleSeconds.0"),
        ({"scheduleSeconds": [1] * 21}, "retry.scheduleSeconds"),
        ({"jitter": 0.6}, "retry.jitter"),
        ({"maxRetryAfterSeconds": -1}, "retry.maxRetryAfterSeconds"),
        ({"backoff": "fast"}, "retry.backoff"),
    ],
)
def test_a_bad_retry_policy_is_a_400_and_stores_nothing(admin: Api, ctx: Context, retry: dict, field: str) -> None:
    before = snapshot(ctx)
    response = admin.post("/apps", {"name": "a", "url": "https://example.com/", "retry": retry})
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == field
    assert snapshot(ctx) == before
