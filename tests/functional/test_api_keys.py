"""API keys: create (shown once), list (never the key), revoke."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import ids
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant, make_tenant
from tests.support.doubles import snapshot


def test_create_shows_the_key_once_and_it_works(admin: Api, api: Api, ctx: Context) -> None:
    response = admin.post("/keys", {"name": "ci", "scopes": ["send", "read"]})
    assert response.status_code == 201
    created = response.json_body
    assert created["key"].startswith("sk_") and created["id"].startswith("key_")
    assert created["scopes"] == ["read", "send"]
    stored = ctx.keys.find_key(ids.hash_token(created["key"]))
    assert stored is not None and stored.id == created["id"]
    listed = admin.get("/keys").json_body
    assert listed["nextCursor"] is None
    assert [k["name"] for k in listed["items"]] == ["admin", "ci"]
    assert all("key" not in k for k in listed["items"])
    assert created["key"].encode() not in admin.get("/keys").body
    assert api.as_(created["key"]).get("/messages").status_code == 200


def test_revoke_removes_it_from_the_list(admin: Api, tenant: Tenant) -> None:
    tenant.key("read")
    key_id = admin.get("/keys").json_body["items"][1]["id"]
    response = admin.delete(f"/keys/{key_id}")
    assert response.status_code == 200
    assert response.json_body == {}
    assert [k["id"] for k in admin.get("/keys").json_body["items"] if k["id"] == key_id] == []


def test_another_tenants_key_cannot_be_revoked(admin: Api, other: Tenant, api: Api, ctx: Context) -> None:
    other_key = api.as_(other.admin).get("/keys").json_body["items"][0]["id"]
    before = snapshot(ctx)
    assert admin.delete(f"/keys/{other_key}").status_code == 404
    assert snapshot(ctx) == before
    assert api.as_(other.admin).get("/keys").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "scopes": ["root"]},
        {"name": "k", "scopes": []},
        {"name": "k"},
        {"scopes": ["read"]},
        {"name": "k", "scopes": ["read"], "key": "sk_mine"},
        {"name": "k", "scopes": "read"},
    ],
)
def test_bad_keys_are_400_and_store_nothing(admin: Api, ctx: Context, body: dict[str, Any]) -> None:
    before = snapshot(ctx)
    response = admin.post("/keys", body)
    assert response.status_code == 400
    assert snapshot(ctx) == before


def test_me_tells_the_tenant_scopes_and_plan_limits(api: Api, ctx: Context) -> None:
    free = make_tenant(ctx, api, "free-tenant", plan="free")
    me = api.as_(free.admin).get("/me")
    assert me.status_code == 200
    body = me.json_body
    assert body["tenantId"] == free.id and body["scopes"] == ["admin"] and body["keyId"].startswith("key_")
    assert body["plan"] == {
        "name": "free",
        "ratePerSecond": 10,
        "burst": 20,
        "dailyQuota": 1000,
        "maxApps": 10,
        "maxHeadersPerApp": 10,
        "maxHeaderBytesPerApp": 4096,
        "maxSchedules": 10,
        "minIntervalSeconds": 300,
        "maxApiKeys": 10,
    }
    reader = api.as_(free.key("read", "send")).get("/me").json_body
    assert reader["scopes"] == ["read", "send"] and reader["keyId"] != body["keyId"]


def test_me_needs_a_key_with_read(api: Api, tenant: Tenant) -> None:
    assert api.get("/me").status_code == 401
    assert api.as_(tenant.key("send")).get("/me").status_code == 403
