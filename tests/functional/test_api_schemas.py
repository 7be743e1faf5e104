"""Every route's happy-path JSON validates against the response models of `domain.schemas`.

`tests.conftest.Api` checks each response it sees (`check_contract`); this test drives every
documented operation once and makes sure none was skipped.
"""

from __future__ import annotations

import pytest
from chalice.test import HTTPResponse

from chalicelib.api import openapi
from chalicelib.services.context import Context
from tests.conftest import OPERATOR_KEY, Api, Tenant, check_contract, deliver, find_operation


def test_every_operation_answers_in_its_documented_shape(api: Api, ctx: Context, tenant: Tenant) -> None:
    operator = api.as_(OPERATOR_KEY)
    admin = api.as_(tenant.admin)
    api.get("/health")
    api.get("/openapi.json")
    operator.post("/tenants", {"name": "t"})
    operator.get("/tenants")
    app_id = admin.post("/apps", {"name": "a", "url": "https://example.com/", "headers": {"X-A": "1"}}).json_body["id"]
    admin.get("/apps")
    admin.get(f"/apps/{app_id}")
    admin.patch(f"/apps/{app_id}", {"name": "b"})
    admin.post(f"/apps/{app_id}/rotate-secret")
    key_id = admin.post("/keys", {"name": "k", "scopes": ["read"]}).json_body["id"]
    admin.get("/keys")
    admin.delete(f"/keys/{key_id}")
    admin.get("/me")
    message = admin.post(
        "/messages", {"appId": app_id, "payload": {"a": 1}, "delaySeconds": 1, "notAfter": "2099-01-01T00:00:00Z"}
    ).json_body
    admin.post(
        "/messages/batch",
        {
            "messages": [
                {"appId": app_id, "payload": 1, "delaySeconds": 1},
                {"appId": "app_x", "payload": 1, "delaySeconds": 1},
            ]
        },
    )
    admin.get("/messages")
    admin.get(f"/messages/{message['id']}")
    admin.patch(f"/messages/{message['id']}", {"payload": 2}, headers={"If-Match": message["etag"]})
    deliver(ctx, tenant.id, message["id"], 500)
    admin.get(f"/messages/{message['id']}/attempts")
    admin.get("/attempts")
    admin.delete(f"/messages/{message['id']}")
    admin.post(f"/messages/{message['id']}/redrive")
    admin.get("/usage")
    schedule = admin.post("/schedules", {"appId": app_id, "payload": 1, "cron": "0 9 * * *"}).json_body
    admin.get("/schedules")
    admin.get(f"/schedules/{schedule['id']}")
    admin.patch(f"/schedules/{schedule['id']}", {"every": "1h"}, headers={"If-Match": schedule["etag"]})
    admin.post(f"/schedules/{schedule['id']}/pause")
    admin.post(f"/schedules/{schedule['id']}/resume")
    admin.delete(f"/schedules/{schedule['id']}")
    admin.delete(f"/apps/{app_id}")

    answered = {(method, path) for method, path, status in api.seen if 200 <= status < 300}
    served = set()
    for method, path in answered:
        op = find_operation(method, path)
        assert op is not None, (method, path)
        served.add((op.method, op.path))
    assert served == {(op.method, op.path) for op in openapi.OPERATIONS}


def _response(body: bytes, status: int = 200) -> HTTPResponse:
    return HTTPResponse(body=body, headers={}, status_code=status)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        (
            "GET",
            "/apps/app_1",
            b'{"id":"app_1","name":"a","url":"u","headers":{},"retry":{"maxAttempts":1},'
            b'"createdAt":"2026-01-01T00:00:00.000Z","secret":"leak"}',
            200,
        ),
        (
            "GET",
            "/apps/app_1",
            b'{"id":"app_1","name":"a","url":"u","headers":{"A":"plain"},'
            b'"retry":{"maxAttempts":1},"createdAt":"2026-01-01T00:00:00.000Z"}',
            200,
        ),
        (
            "GET",
            "/apps/app_1",
            b'{"id":"app_1","name":"a","url":"u","headers":{},"retry":{"maxAttempts":1},'
            b'"createdAt":"2026-01-01T00:00:00Z"}',
            200,
        ),
        ("GET", "/apps", b'{"items":[]}', 200),
        ("GET", "/apps", b'{"Code":"NotFoundError","Message":"x"}', 404),
    ],
)
def test_the_contract_check_catches_drift(method: str, path: str, body: bytes, status: int) -> None:
    with pytest.raises(AssertionError):
        check_contract(method, path, _response(body, status))
