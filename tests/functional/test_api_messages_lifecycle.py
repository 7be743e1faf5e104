"""Messages after they exist: list and paginate, change with If-Match, cancel, redrive, attempts."""

from __future__ import annotations

import pytest

from chalicelib.domain.times import format_ms, parse_instant
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant, create_message, deliver
from tests.support.doubles import RecordingTimer, SettableClock, snapshot

# ---- list ----


def test_list_filters_and_walks_every_page(admin: Api, tenant: Tenant, clock: SettableClock) -> None:
    first_app, second_app = tenant.app(), tenant.app()
    made = [create_message(admin, first_app if n % 2 else second_app, delaySeconds=n * 10) for n in range(11)]
    admin.delete(f"/messages/{made[3]['id']}")

    def walk(query: str) -> list[str]:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            url = f"/messages?limit=4&{query}" + (f"&cursor={cursor}" if cursor else "")
            page = admin.get(url).json_body
            assert len(page["items"]) <= 4
            seen += [m["id"] for m in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                return seen

    assert walk("") == [m["id"] for m in made]
    assert walk(f"appId={first_app}") == [m["id"] for m in made[1::2]]
    assert walk("status=cancelled") == [made[3]["id"]]
    assert walk("status=scheduled") == [m["id"] for i, m in enumerate(made) if i != 3]
    after, before = format_ms(clock.now + 20_000), format_ms(clock.now + 50_000)
    assert walk(f"sendAfter={after}&sendBefore={before}") == [m["id"] for m in made[2:6]]
    plus = "2000-01-01T02:00:00%2B02:00"
    assert walk(f"sendAfter={plus}") == [m["id"] for m in made]
    assert walk("sendAfter=2000-01-01T02:00:00+02:00") == [m["id"] for m in made]  # '+' decoded as a space


def test_list_orders_by_send_at_then_id(admin: Api, app_id: str) -> None:
    late = create_message(admin, app_id, delaySeconds=100)
    early = [create_message(admin, app_id, delaySeconds=5) for _ in range(3)]
    ids = [m["id"] for m in admin.get("/messages").json_body["items"]]
    assert ids == [*sorted(m["id"] for m in early), late["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=abc",
        "limit=-1",
        "limit=1.5",
        "status=done",
        "sendAfter=2027-01-01",
        "sendBefore=yesterday",
        "cursor=%%%",
        "cursor=bm9wZQ",
    ],
)
def test_bad_list_queries_are_400(admin: Api, query: str) -> None:
    response = admin.get(f"/messages?{query}")
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["field"] == query.split("=", maxsplit=1)[0]


def test_limit_bounds_are_inclusive(admin: Api) -> None:
    assert admin.get("/messages?limit=1").status_code == 200
    assert admin.get("/messages?limit=500").status_code == 200


# ---- change ----


def test_patch_needs_the_current_etag(admin: Api, app_id: str, ctx: Context, clock: SettableClock) -> None:
    created = create_message(admin, app_id)
    path = f"/messages/{created['id']}"
    before = snapshot(ctx)
    missing = admin.patch(path, {"payload": 2})
    assert missing.status_code == 428 and missing.json_body["error"]["code"] == "precondition_required"
    assert missing.json_body["error"]["field"] == "If-Match"
    assert admin.patch(path, {"payload": 2}, headers={"If-Match": '"99"'}).json_body["error"]["code"] == "etag_mismatch"
    assert admin.patch(path, {"payload": 2}, headers={"If-Match": '"99"'}).status_code == 409
    assert snapshot(ctx) == before
    new_time = format_ms(clock.now + 3_600_000)
    changed = admin.patch(path, {"payload": 2, "sendAt": new_time}, headers={"If-Match": created["etag"]})
    assert changed.status_code == 200
    assert changed.json_body["sendAt"] == new_time == changed.json_body["nextAttemptAt"]
    assert changed.json_body["etag"] != created["etag"]
    assert changed.headers["ETag"] == changed.json_body["etag"]
    assert admin.get(path).json_body["payload"] == 2
    stale = admin.patch(path, {"payload": 3}, headers={"If-Match": created["etag"]})
    assert stale.status_code == 409
    assert admin.patch(path, {"payload": 4}, headers={"If-Match": "*"}).status_code == 200
    weak = admin.get(path).json_body["etag"]
    assert admin.patch(path, {"payload": 5}, headers={"If-Match": f'"0", W/{weak}'}).status_code == 200
    timer = ctx.timer
    assert isinstance(timer, RecordingTimer)
    assert [m.gen for m in timer.armed if m.id == created["id"]] == [1, 2, 3, 4]


def test_patch_validation(admin: Api, app_id: str, ctx: Context) -> None:
    created = create_message(admin, app_id)
    path = f"/messages/{created['id']}"
    before = snapshot(ctx)
    bad = (
        {},
        {"sendAt": "2027-01-01T00:00:00"},
        {"sendAt": "2099-01-01T00:00:00Z"},
        {"sendAt": "2001-01-01T00:00:00Z"},
        {"delaySeconds": -1},
        {"delaySeconds": 5, "sendAt": "2027-01-01T00:00:00Z"},
        {"delaySeconds": "5"},
    )
    for body in bad:
        response = admin.patch(path, body, headers={"If-Match": "*"})
        assert response.status_code == 400, body
    assert admin.patch(path, raw=b"", headers={"If-Match": "*"}).status_code == 400
    big = {"payload": "x" * (256 * 1024)}
    assert admin.patch(path, big, headers={"If-Match": "*"}).status_code == 413
    assert snapshot(ctx) == before


def test_patch_by_delay_seconds(admin: Api, app_id: str, ctx: Context, clock: SettableClock) -> None:
    created = create_message(admin, app_id)
    path = f"/messages/{created['id']}"
    later = admin.patch(path, {"delaySeconds": 90.5}, headers={"If-Match": created["etag"]})
    assert later.status_code == 200
    assert later.json_body["sendAt"] == format_ms(clock.now + 90_500) == later.json_body["nextAttemptAt"]
    now = admin.patch(path, {"delaySeconds": 0}, headers={"If-Match": later.json_body["etag"]})
    assert now.json_body["sendAt"] == format_ms(clock.now)
    assert admin.get(path).json_body["payload"] == {"n": 1}  # a time change keeps the payload


def test_patch_of_a_cancelled_message_is_409(admin: Api, app_id: str) -> None:
    created = create_message(admin, app_id)
    admin.delete(f"/messages/{created['id']}")
    response = admin.patch(f"/messages/{created['id']}", {"payload": 1}, headers={"If-Match": "*"})
    assert response.status_code == 409
    assert response.json_body["error"]["code"] == "wrong_state"


# ---- cancel, redrive, attempts ----


def test_cancel_then_cancel_again_is_409(admin: Api, app_id: str, ctx: Context) -> None:
    created = create_message(admin, app_id)
    response = admin.delete(f"/messages/{created['id']}")
    assert response.status_code == 200
    assert response.json_body["status"] == "cancelled"
    assert response.json_body["nextAttemptAt"] is None
    before = snapshot(ctx)
    again = admin.delete(f"/messages/{created['id']}")
    assert again.status_code == 409
    assert again.json_body["error"]["code"] == "wrong_state"
    assert snapshot(ctx) == before


def test_redrive_a_cancelled_message(admin: Api, app_id: str, clock: SettableClock) -> None:
    created = create_message(admin, app_id)
    path = f"/messages/{created['id']}/redrive"
    assert admin.post(path).status_code == 409  # still scheduled
    admin.delete(f"/messages/{created['id']}")
    clock.advance(1_000)
    now = admin.post(path)
    assert now.status_code == 200
    assert (now.json_body["status"], now.json_body["sendAt"]) == ("scheduled", format_ms(clock.now))
    admin.delete(f"/messages/{created['id']}")
    later = admin.post(path, {"sendAt": "2027-03-01T00:00:00Z"})
    assert later.json_body["sendAt"] == "2027-03-01T00:00:00.000Z"
    admin.delete(f"/messages/{created['id']}")
    soon = admin.post(path, {"delaySeconds": 30})
    assert soon.json_body["sendAt"] == format_ms(clock.now + 30_000)
    admin.delete(f"/messages/{created['id']}")
    assert admin.post(path, {"sendAt": "2001-01-01T00:00:00Z"}).status_code == 400
    assert admin.post(path, {"sendAt": "2027-03-01T00:00:00Z", "delaySeconds": 1}).status_code == 400
    assert admin.post(path, []).status_code == 400
    assert admin.post(path, raw=b"{").status_code == 400


def test_attempts_failure_and_redrive(admin: Api, app_id: str, ctx: Context, tenant: Tenant, reader: Api) -> None:
    created = create_message(admin, app_id, maxAttempts=2)
    deliver(ctx, tenant.id, created["id"], 500)
    retrying = reader.get(f"/messages/{created['id']}").json_body
    assert (retrying["status"], retrying["attempts"], retrying["lateMs"]) == ("scheduled", 1, 0)
    assert parse_instant(retrying["nextAttemptAt"], field="x") > parse_instant(retrying["sendAt"], field="x")
    deliver(ctx, tenant.id, created["id"], None)
    failed = reader.get(f"/messages/{created['id']}").json_body
    assert (failed["status"], failed["failureReason"], failed["nextAttemptAt"]) == ("failed", "exhausted", None)
    attempts = reader.get(f"/messages/{created['id']}/attempts").json_body
    assert [(a["n"], a["statusCode"], a["error"]) for a in attempts["items"]] == [
        (1, 500, "http_status: 500"),
        (2, None, "timeout"),
    ]
    assert attempts["nextCursor"] is None
    redriven = admin.post(f"/messages/{created['id']}/redrive").json_body
    assert (redriven["status"], redriven["attempts"], redriven["failureReason"]) == ("scheduled", 2, None)
    deliver(ctx, tenant.id, created["id"], 204)
    done = reader.get(f"/messages/{created['id']}").json_body
    assert (done["status"], done["attempts"]) == ("delivered", 3)
    assert done["deliveredAt"] is not None and done["lateMs"] == 0
    assert admin.delete(f"/messages/{created['id']}").status_code == 409
    assert admin.post(f"/messages/{created['id']}/redrive").status_code == 409


def test_late_ms_is_first_attempt_minus_send_at(
    admin: Api, app_id: str, ctx: Context, tenant: Tenant, clock: SettableClock
) -> None:
    created = create_message(admin, app_id, delaySeconds=10)
    clock.advance(10_250)
    deliver(ctx, tenant.id, created["id"], 200)
    assert admin.get(f"/messages/{created['id']}").json_body["lateMs"] == 250
