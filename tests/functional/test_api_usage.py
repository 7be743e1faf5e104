"""`GET /usage` (dense days of counters) and `GET /attempts` (the feed `tail` follows)."""

from __future__ import annotations

import pytest

from chalicelib.domain.times import day_of
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant, deliver, make_tenant
from tests.support.doubles import SettableClock

DAY_MS = 86_400_000


def test_usage_counts_per_day(
    admin: Api, reader: Api, app_id: str, ctx: Context, tenant: Tenant, clock: SettableClock
) -> None:
    first_day = day_of(clock.now)
    ids = [
        admin.post("/messages", {"appId": app_id, "payload": n, "delaySeconds": 1}).json_body["id"] for n in range(3)
    ]
    admin.post("/messages/batch", {"messages": [{"appId": app_id, "payload": 1, "delaySeconds": 1}] * 4})
    clock.advance(DAY_MS)
    deliver(ctx, tenant.id, ids[0], 200)
    deliver(ctx, tenant.id, ids[1], 410)
    deliver(ctx, tenant.id, ids[2], 503)
    second_day = day_of(clock.now)
    response = reader.get("/usage")
    assert response.status_code == 200
    body = response.json_body
    assert body["items"] == [  # by default only the days with activity: no wall of zeros on day one
        {"date": first_day, "scheduled": 7, "delivered": 0, "failed": 0, "attempts": 0},
        {"date": second_day, "scheduled": 0, "delivered": 1, "failed": 1, "attempts": 3},
    ]
    assert (body["from"], body["to"]) == (day_of(clock.now - 29 * DAY_MS), second_day)
    none = {"maxApps": None, "maxHeadersPerApp": None, "maxHeaderBytesPerApp": None}
    none |= {"maxApiKeys": None, "maxSchedules": None, "minIntervalSeconds": None}
    assert body["plan"] == {"name": "unlimited", "ratePerSecond": None, "burst": None, "dailyQuota": None, **none}
    dense = reader.get(f"/usage?from={body['from']}&to={body['to']}").json_body["items"]
    assert len(dense) == 30 and dense[-2:] == body["items"]  # an explicit range lists every day


def test_usage_names_the_limits_of_the_callers_plan(ctx: Context, api: Api) -> None:
    free = make_tenant(ctx, api, "small", plan="free")
    body = api.as_(free.admin).get("/usage").json_body
    assert body["items"] == []
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


def test_usage_range_and_isolation(admin: Api, app_id: str, other: Tenant, api: Api, clock: SettableClock) -> None:
    admin.post("/messages", {"appId": app_id, "payload": 1, "delaySeconds": 1})
    today = day_of(clock.now)
    one = admin.get(f"/usage?from={today}&to={today}").json_body["items"]
    assert one == [{"date": today, "scheduled": 1, "delivered": 0, "failed": 0, "attempts": 0}]
    theirs = api.as_(other.admin).get(f"/usage?from={today}&to={today}").json_body["items"]
    assert theirs[0]["scheduled"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-05-10&to=2026-05-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "from"),
        ("from=2026-05-01T00:00:00Z", "from"),
    ],
)
def test_bad_usage_ranges_are_400(admin: Api, query: str, field: str) -> None:
    response = admin.get(f"/usage?{query}")
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == field


def test_attempt_feed_follows_every_app(admin: Api, tenant: Tenant, ctx: Context) -> None:
    first_app, second_app = tenant.app(), tenant.app()
    ids = [
        admin.post("/messages", {"appId": app, "payload": 1, "delaySeconds": 1}).json_body["id"]
        for app in (first_app, second_app, first_app)
    ]
    for message_id in ids:
        deliver(ctx, tenant.id, message_id, 500)
    feed = admin.get("/attempts").json_body
    assert [a["messageId"] for a in feed["items"]] == ids
    only_first = admin.get(f"/attempts?appId={first_app}").json_body["items"]
    assert [a["messageId"] for a in only_first] == [ids[0], ids[2]]
    page = admin.get("/attempts?limit=2").json_body
    assert len(page["items"]) == 2 and page["nextCursor"]
    rest = admin.get(f"/attempts?limit=2&after={page['nextCursor']}").json_body
    assert [a["messageId"] for a in rest["items"]] == [ids[2]]
    assert rest["nextCursor"] is None and rest["resumeCursor"]
    assert admin.get(f"/attempts?after={rest['resumeCursor']}").json_body["items"] == []
    late = admin.post("/messages", {"appId": first_app, "payload": 1, "delaySeconds": 1}).json_body["id"]
    deliver(ctx, tenant.id, late, 200)
    polled = admin.get(f"/attempts?after={rest['resumeCursor']}").json_body["items"]
    assert [a["messageId"] for a in polled] == [late]
    assert admin.get("/attempts?after=garbage").status_code == 400
    assert admin.get("/attempts?limit=0").status_code == 400
