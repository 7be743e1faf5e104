"""Authentication, scopes, tenant isolation, the operator routes, and rate limiting."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.services.context import Context
from tests.conftest import OPERATOR_KEY, Api, Tenant
from tests.support.doubles import ScriptedLimiter, snapshot

MESSAGE = {"payload": {"a": 1}, "delaySeconds": 60}


def _routes(app_id: str, message_id: str, key_id: str) -> list[tuple[str, str, Any, str]]:
    """Every secured route: (method, path, body, scope it needs)."""
    return [
        ("POST", "/apps", {"name": "x", "url": "https://example.com/"}, "admin"),
        ("GET", "/apps", None, "read"),
        ("GET", f"/apps/{app_id}", None, "read"),
        ("PATCH", f"/apps/{app_id}", {"name": "y"}, "admin"),
        ("POST", f"/apps/{app_id}/rotate-secret", None, "admin"),
        ("POST", "/keys", {"name": "k", "scopes": ["read"]}, "admin"),
        ("GET", "/keys", None, "admin"),
        ("DELETE", f"/keys/{key_id}", None, "admin"),
        ("POST", "/messages", {"appId": app_id, **MESSAGE}, "send"),
        ("POST", "/messages/batch", {"messages": [{"appId": app_id, **MESSAGE}]}, "send"),
        ("GET", "/messages", None, "read"),
        ("GET", f"/messages/{message_id}", None, "read"),
        ("PATCH", f"/messages/{message_id}", {"payload": 2}, "send"),
        ("DELETE", f"/messages/{message_id}", None, "send"),
        ("POST", f"/messages/{message_id}/redrive", None, "send"),
        ("GET", f"/messages/{message_id}/attempts", None, "read"),
        ("GET", "/attempts", None, "read"),
        ("GET", "/usage", None, "read"),
        ("DELETE", f"/apps/{app_id}", None, "admin"),
    ]


@pytest.fixture
def setup(tenant: Tenant, admin: Api, app_id: str) -> dict[str, str]:
    message_id = admin.post("/messages", {"appId": app_id, **MESSAGE}).json_body["id"]
    key_id = admin.post("/keys", {"name": "victim", "scopes": ["read"]}).json_body["id"]
    return {"app_id": app_id, "message_id": message_id, "key_id": key_id}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic abc", "sk_unknown", "Bearer sk_unknown"])
def test_missing_or_unknown_token_is_401_everywhere(
    api: Api, setup: dict[str, str], ctx: Context, header: str | None
) -> None:
    before = snapshot(ctx)
    for method, path, body, _scope in _routes(**setup):
        headers = {} if header is None else {"Authorization": header}
        response = api.request(method, path, body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json_body["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert snapshot(ctx) == before


def test_revoked_key_is_401_at_once(tenant: Tenant, admin: Api, api: Api) -> None:
    token = tenant.key("read")
    assert api.as_(token).get("/apps").status_code == 200
    key_id = next(k["id"] for k in admin.get("/keys").json_body["items"] if k["scopes"] == ["read"])
    assert admin.delete(f"/keys/{key_id}").status_code == 200
    assert api.as_(token).get("/apps").status_code == 401


def test_bearer_scheme_is_case_insensitive(tenant: Tenant, api: Api) -> None:
    response = api.get("/apps", headers={"Authorization": f"bearer {tenant.admin}"})
    assert response.status_code == 200


@pytest.mark.parametrize("scopes", [("read",), ("send",), ("send", "read")])
def test_each_route_needs_its_scope(
    tenant: Tenant, api: Api, setup: dict[str, str], ctx: Context, scopes: tuple[str, ...]
) -> None:
    caller = api.as_(tenant.key(*scopes))
    for method, path, body, scope in _routes(**setup):
        if scope in scopes:
            continue
        before = snapshot(ctx)
        response = caller.request(method, path, body)
        assert response.status_code == 403, (scopes, method, path, response.json_body)
        assert response.json_body["error"]["code"] == "forbidden"
        assert snapshot(ctx) == before, (method, path)


def test_scoped_keys_can_use_their_routes(tenant: Tenant, api: Api, setup: dict[str, str]) -> None:
    reader = api.as_(tenant.key("read"))
    sender = api.as_(tenant.key("send"))
    assert reader.get(f"/messages/{setup['message_id']}").status_code == 200
    assert reader.get("/usage").status_code == 200
    assert sender.post("/messages", {"appId": setup["app_id"], **MESSAGE}).status_code == 201
    assert sender.delete(f"/messages/{setup['message_id']}").status_code == 200


def test_admin_can_use_every_route(admin: Api, setup: dict[str, str]) -> None:
    for method, path, body, _scope in _routes(**setup):
        response = admin.request(method, path, body, headers={"If-Match": "*"})
        assert response.status_code in (200, 201), (method, path, response.json_body)


def test_another_tenants_resources_are_404(other: Tenant, api: Api, setup: dict[str, str], ctx: Context) -> None:
    stranger = api.as_(other.admin)
    before = snapshot(ctx)
    for method, path, body, _scope in _routes(**setup):
        if "{" in path or not any(value in path for value in setup.values()):
            continue
        response = stranger.request(method, path, body)
        assert response.status_code == 404, (method, path)
        assert response.json_body["error"]["code"] == "not_found"
    response = stranger.post("/messages", {"appId": setup["app_id"], **MESSAGE})
    assert response.status_code == 404
    assert response.json_body["error"]["field"] == "appId"
    assert snapshot(ctx) == before


def test_lists_never_show_another_tenants_resources(other: Tenant, api: Api, setup: dict[str, str]) -> None:
    stranger = api.as_(other.admin)
    assert stranger.get("/apps").json_body["items"] == []
    assert stranger.get("/messages").json_body["items"] == []
    assert [k["name"] for k in stranger.get("/keys").json_body["items"]] == ["admin"]


def test_unknown_ids_look_like_other_tenants_ids(admin: Api) -> None:
    assert admin.get("/apps/app_nope").json_body["error"]["code"] == "not_found"
    assert admin.get("/messages/msg_nope").status_code == 404
    assert admin.delete("/keys/key_nope").status_code == 404


# ---- operator ----


def test_operator_creates_and_lists_tenants(api: Api) -> None:
    operator = api.as_(OPERATOR_KEY)
    created = operator.post("/tenants", {"name": "acme", "plan": "pro"})
    assert created.status_code == 201
    body = created.json_body
    assert body["name"] == "acme" and body["plan"] == "pro" and body["id"].startswith("ten_")
    assert body["adminKey"].startswith("sk_")
    assert api.as_(body["adminKey"]).get("/apps").status_code == 200
    listed = operator.get("/tenants").json_body
    assert body["id"] in [t["id"] for t in listed["items"]]
    assert all("adminKey" not in t for t in listed["items"])


def test_operator_default_plan_and_bad_plan(api: Api, ctx: Context) -> None:
    operator = api.as_(OPERATOR_KEY)
    assert operator.post("/tenants", {"name": "x"}).json_body["plan"] == ctx.settings.default_plan
    before = snapshot(ctx)
    response = operator.post("/tenants", {"name": "x", "plan": "platinum"})
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == "plan"
    assert operator.post("/tenants", {"name": "x", "extra": 1}).status_code == 400
    assert snapshot(ctx) == before


def test_operator_routes_need_the_operator_key(api: Api, tenant: Tenant) -> None:
    for token in (None, "wrong", tenant.admin):
        assert api.as_(token).get("/tenants").status_code == 401
        assert api.as_(token).post("/tenants", {"name": "x"}).status_code == 401


def test_operator_routes_are_404_when_no_operator_key_is_set(api: Api, ctx: Context) -> None:
    bootstrap.install(dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, operator_key=None)))
    for token in (None, OPERATOR_KEY):
        assert api.as_(token).get("/tenants").status_code == 404
        assert api.as_(token).post("/tenants", {"name": "x"}).json_body["error"]["code"] == "not_found"


# ---- rate limit and quota ----


def test_every_authenticated_request_takes_from_the_rate_limit(
    ctx: Context, admin: Api, tenant: Tenant, app_id: str
) -> None:
    limiter = ctx.limiter
    assert isinstance(limiter, ScriptedLimiter)
    limiter.calls.clear()
    admin.get("/apps")
    admin.get("/usage")
    admin.post("/messages", {"appId": app_id, **MESSAGE})
    admin.post("/messages/batch", {"messages": [{"appId": app_id, **MESSAGE}] * 3})
    assert limiter.calls == [(tenant.id, "unlimited")] * 4  # one request each, whatever it schedules


@pytest.mark.parametrize("quota", [False, True])
def test_throttled_requests_are_429_with_retry_after(ctx: Context, admin: Api, app_id: str, quota: bool) -> None:
    limiter = ctx.limiter
    assert isinstance(limiter, ScriptedLimiter)
    limiter.throttle(retry_after_s=7, quota=quota)
    before = snapshot(ctx)
    for method, path, body in [
        ("GET", "/apps", None),
        ("POST", "/messages", {"appId": app_id, **MESSAGE}),
        ("POST", "/messages/batch", {"messages": [{"appId": app_id, **MESSAGE}]}),
    ]:
        response = admin.request(method, path, body)
        assert response.status_code == 429, (method, path)
        assert response.json_body["error"]["code"] == ("quota_exceeded" if quota else "rate_limited")
        assert int(response.headers["Retry-After"]) >= 1
    assert snapshot(ctx) == before
