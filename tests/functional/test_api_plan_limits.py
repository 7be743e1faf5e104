"""Per-plan caps on what a tenant stores (apps, headers per app, header bytes, live API keys) and
`GET /usage` showing them (issue 13: 40 apps x 20 headers x 4 KiB on a free plan were accepted, and
keys had no cap at all)."""

from __future__ import annotations

from chalicelib.services.context import Context
from chalicelib.settings import DEFAULT_PLANS
from tests.conftest import Api, make_tenant
from tests.support.doubles import snapshot

FREE = DEFAULT_PLANS["free"]


def free_admin(ctx: Context, api: Api) -> Api:
    return api.as_(make_tenant(ctx, api, "small", plan="free").admin)


def test_apps_beyond_the_plan_are_400_plan_limit_and_a_delete_makes_room(ctx: Context, api: Api) -> None:
    admin = free_admin(ctx, api)
    assert FREE.max_apps is not None
    made = [admin.post("/apps", {"name": f"a{n}", "url": "https://example.com/"}) for n in range(FREE.max_apps)]
    assert all(response.status_code == 201 for response in made)
    before = snapshot(ctx)
    refused = admin.post("/apps", {"name": "one too many", "url": "https://example.com/"})
    assert refused.status_code == 400
    error = refused.json_body["error"]
    assert error["code"] == "plan_limit" and f"at most {FREE.max_apps} apps" in error["message"]
    assert snapshot(ctx) == before
    assert admin.delete(f"/apps/{made[0].json_body['id']}").status_code == 200
    assert admin.post("/apps", {"name": "fits again", "url": "https://example.com/"}).status_code == 201


def test_keys_beyond_the_plan_are_400_plan_limit_and_a_revoke_makes_room(ctx: Context, api: Api) -> None:
    admin = free_admin(ctx, api)  # the tenant's admin key is its first live key
    assert FREE.max_api_keys is not None
    made = [admin.post("/keys", {"name": f"k{n}", "scopes": ["read"]}) for n in range(FREE.max_api_keys - 1)]
    assert all(response.status_code == 201 for response in made)
    before = snapshot(ctx)
    refused = admin.post("/keys", {"name": "one too many", "scopes": ["read"]})
    assert refused.status_code == 400
    error = refused.json_body["error"]
    assert error["code"] == "plan_limit" and f"at most {FREE.max_api_keys} live API keys" in error["message"]
    assert snapshot(ctx) == before
    assert len(admin.get("/keys").json_body["items"]) == FREE.max_api_keys
    assert admin.delete(f"/keys/{made[0].json_body['id']}").status_code == 200
    assert admin.post("/keys", {"name": "fits again", "scopes": ["read"]}).status_code == 201
    assert admin.post("/keys", {"name": "revoked ones stay out", "scopes": ["read"]}).status_code == 400


def test_headers_beyond_the_plan_are_400_on_create_and_patch(ctx: Context, api: Api) -> None:
    admin = free_admin(ctx, api)
    assert FREE.max_headers is not None and FREE.max_header_bytes is not None
    app_id = admin.post("/apps", {"name": "a", "url": "https://example.com/"}).json_body["id"]
    too_many = {f"X-H{n}": "v" for n in range(FREE.max_headers + 1)}
    too_big = {"X-A": "a" * 3000, "X-B": "b" * (FREE.max_header_bytes - 3000)}  # + names: over by 6 bytes
    before = snapshot(ctx)
    for headers, words in ((too_many, "headers per app"), (too_big, "bytes of headers per app")):
        for response in (
            admin.post("/apps", {"name": "b", "url": "https://example.com/", "headers": headers}),
            admin.patch(f"/apps/{app_id}", {"headers": headers}),
        ):
            assert response.status_code == 400
            error = response.json_body["error"]
            assert (error["code"], error["field"]) == ("plan_limit", "headers") and words in error["message"]
    assert snapshot(ctx) == before
    at_cap = {f"X-H{n}": "v" for n in range(FREE.max_headers)}
    assert admin.patch(f"/apps/{app_id}", {"headers": at_cap}).status_code == 200


def test_usage_shows_the_plan_limits(ctx: Context, api: Api) -> None:
    plan = free_admin(ctx, api).get("/usage").json_body["plan"]
    assert plan == {
        "name": "free",
        "ratePerSecond": FREE.rate_per_s,
        "burst": FREE.burst,
        "dailyQuota": FREE.daily_quota,
        "maxApps": FREE.max_apps,
        "maxHeadersPerApp": FREE.max_headers,
        "maxHeaderBytesPerApp": FREE.max_header_bytes,
        "maxSchedules": FREE.max_schedules,
        "minIntervalSeconds": FREE.min_interval_s,
        "maxApiKeys": FREE.max_api_keys,
    }
