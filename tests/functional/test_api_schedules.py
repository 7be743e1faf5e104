"""`/schedules` over HTTP: create and read, validation 400s that store nothing, If-Match (428 / 409),
pause and resume, delete, the runs as messages (`GET /messages?scheduleId=`), limits on `GET /usage`."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.times import parse_instant
from chalicelib.services import schedules
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant, make_tenant
from tests.support.doubles import SettableClock, snapshot


def at(text: str) -> int:
    return parse_instant(text, field="t")


def make(api: Api, app_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/schedules", {"appId": app_id, "payload": {"report": "daily"}, **fields})
    assert response.status_code == 201, response.json_body
    assert response.headers["ETag"] == response.json_body["etag"]
    return dict(response.json_body)


def test_create_and_read(admin: Api, app_id: str, clock: SettableClock) -> None:
    clock.set(at("2026-12-04T06:00:00Z"))
    made = make(admin, app_id, cron="0 9 * * MON-FRI", timezone="America/New_York", missedRuns="once")
    assert made["nextRunAt"] == "2026-12-04T14:00:00.000Z"  # 09:00 EST
    assert (made["cron"], made["every"], made["state"], made["payload"]) == (
        "0 9 * * MON-FRI",
        None,
        "active",
        {"report": "daily"},
    )
    assert admin.get(f"/schedules/{made['id']}").json_body == made
    listed = admin.get("/schedules").json_body
    assert [s["id"] for s in listed["items"]] == [made["id"]] and "payload" not in listed["items"][0]
    every = make(admin, app_id, every="PT90M", startAt="2026-12-05T00:00:00Z")
    assert (every["every"], every["nextRunAt"], every["timezone"]) == ("1h30m", "2026-12-05T00:00:00.000Z", "UTC")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "every"),
        ({"cron": "0 9 * * *", "every": "1h"}, "cron"),
        ({"cron": "0 9 * *"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 0 31 2 *"}, "cron"),
        ({"cron": "@daily"}, "cron"),
        ({"every": "1w"}, "every"),
        ({"every": "0m"}, "every"),
        ({"every": 60}, "every"),
        ({"every": "1h", "timezone": "Europe/Atlantis"}, "timezone"),
        ({"every": "1h", "startAt": "2027-01-02T00:00:00Z", "endAt": "2027-01-01T00:00:00Z"}, "endAt"),
        ({"every": "1h", "startAt": "2027-01-02T00:00:00"}, "startAt"),
        ({"every": "1h", "missedRuns": "never"}, "missedRuns"),
        ({"every": "1h", "colour": "red"}, "colour"),
    ],
)
def test_invalid_schedules_are_400_and_store_nothing(
    admin: Api, app_id: str, ctx: Context, fields: dict[str, Any], field: str
) -> None:
    before = snapshot(ctx)
    response = admin.post("/schedules", {"appId": app_id, "payload": 1, **fields})
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["field"] == field
    assert snapshot(ctx) == before


def test_an_unknown_app_is_404(admin: Api) -> None:
    response = admin.post("/schedules", {"appId": "app_nope", "payload": 1, "every": "1h"})
    assert (response.status_code, response.json_body["error"]["field"]) == (404, "appId")


def test_plan_limits_are_400_plan_limit_and_shown_on_usage(api: Api, ctx: Context) -> None:
    free = make_tenant(ctx, api, "small", plan="free")
    admin = api.as_(free.admin)
    app_id = free.app()
    too_often = admin.post("/schedules", {"appId": app_id, "payload": 1, "every": "1m"})
    assert (too_often.status_code, too_often.json_body["error"]["code"]) == (400, "plan_limit")
    for _ in range(10):
        make(admin, app_id, cron="*/5 * * * *")
    over = admin.post("/schedules", {"appId": app_id, "payload": 1, "every": "1h"})
    assert (over.status_code, over.json_body["error"]["code"]) == (400, "plan_limit")
    usage = admin.get("/usage").json_body
    assert usage["schedules"] == 10
    assert (usage["plan"]["maxSchedules"], usage["plan"]["minIntervalSeconds"]) == (10, 300)


def test_patch_needs_if_match(admin: Api, app_id: str) -> None:
    made = make(admin, app_id, every="1h")
    path = f"/schedules/{made['id']}"
    missing = admin.patch(path, {"every": "2h"})
    assert (missing.status_code, missing.json_body["error"]["code"]) == (428, "precondition_required")
    changed = admin.patch(path, {"every": "2h", "payload": [2]}, headers={"If-Match": made["etag"]})
    assert changed.status_code == 200 and changed.json_body["every"] == "2h" and changed.json_body["payload"] == [2]
    assert changed.headers["ETag"] == changed.json_body["etag"] != made["etag"]
    stale = admin.patch(path, {"every": "3h"}, headers={"If-Match": made["etag"]})
    assert (stale.status_code, stale.json_body["error"]["code"]) == (409, "etag_mismatch")
    assert admin.get(path).json_body["every"] == "2h"
    bad = admin.patch(path, {"cron": "nope"}, headers={"If-Match": "*"})
    assert bad.status_code == 400 and admin.get(path).json_body == {**changed.json_body}
    empty = admin.patch(path, {}, headers={"If-Match": "*"})
    assert empty.status_code == 400


def test_pause_resume_and_delete(admin: Api, app_id: str, clock: SettableClock) -> None:
    clock.set(at("2026-12-04T09:30:00Z"))
    made = make(admin, app_id, cron="0 * * * *")
    paused = admin.post(f"/schedules/{made['id']}/pause").json_body
    assert (paused["state"], paused["nextRunAt"]) == ("paused", None)
    clock.set(at("2026-12-04T12:10:00Z"))
    resumed = admin.post(f"/schedules/{made['id']}/resume").json_body
    assert (resumed["state"], resumed["nextRunAt"]) == ("active", "2026-12-04T13:00:00.000Z")
    assert admin.delete(f"/schedules/{made['id']}").status_code == 200
    assert admin.get(f"/schedules/{made['id']}").status_code == 404
    assert admin.post(f"/schedules/{made['id']}/resume").status_code == 404


def test_runs_are_messages_listed_by_schedule(admin: Api, app_id: str, ctx: Context, clock: SettableClock) -> None:
    clock.set(at("2026-12-04T09:58:00Z"))
    made = make(admin, app_id, cron="* * * * *")
    make(admin, app_id, cron="* * * * *")
    clock.set(at("2026-12-04T09:58:55Z"))
    schedules.dispatch(ctx, clock.now_ms())
    runs = admin.get(f"/messages?scheduleId={made['id']}").json_body["items"]
    assert [(run["scheduleId"], run["sendAt"], run["status"]) for run in runs] == [
        (made["id"], "2026-12-04T09:59:00.000Z", "scheduled")
    ]
    one = admin.get(f"/messages/{runs[0]['id']}").json_body
    assert one["payload"] == {"report": "daily"} and one["scheduleId"] == made["id"]
    assert len(admin.get("/messages").json_body["items"]) == 2


def test_scopes_and_isolation(api: Api, tenant: Tenant, other: Tenant, app_id: str) -> None:
    made = make(api.as_(tenant.admin), app_id, every="1h")
    reader = api.as_(tenant.key("read"))
    assert reader.get(f"/schedules/{made['id']}").status_code == 200
    assert reader.post(f"/schedules/{made['id']}/pause").status_code == 403
    assert reader.post("/schedules", {"appId": app_id, "payload": 1, "every": "1h"}).status_code == 403
    intruder = api.as_(other.admin)
    assert intruder.get(f"/schedules/{made['id']}").status_code == 404
    assert intruder.delete(f"/schedules/{made['id']}").status_code == 404
    assert intruder.get("/schedules").json_body["items"] == []
    assert api.get("/schedules").status_code == 401
