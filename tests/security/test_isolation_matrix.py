"""Tenant isolation and scopes on the real server, for every route of `/openapi.json`.

- every route given another tenant's ids answers 404 (a batch item: its own 404; a list filtered
  by another tenant's app: empty), and the owner's resources are unchanged afterwards;
- every route and key scope: 403 where the scope does not allow it (nothing changes), never 401 or
  403 where it does; operator routes refuse every tenant key; tenant routes refuse the operator key;
- no key, a malformed header, an unknown key or a revoked key: 401 everywhere.
The route list comes from `chalicelib.api.openapi.OPERATIONS`: a new route fails these tests until
it is given a request here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chalicelib.api.openapi import OPERATIONS, Operation
from tests.reliability.harness import OPERATOR_KEY, Cluster, create_app, create_key

pytestmark = pytest.mark.e2e

SECURED = [op for op in OPERATIONS if op.auth in ("admin", "send", "read")]
OPERATOR = [op for op in OPERATIONS if op.auth == "operator"]
MESSAGE = {"payload": {"n": 1}, "delaySeconds": 3600}
SCHEDULE = {"payload": {"n": 1}, "cron": "0 9 * * *", "timezone": "Europe/Berlin"}
SCOPE_SETS = [("read",), ("send",), ("read", "send"), ("admin",)]


@dataclass(frozen=True)
class Ids:
    """One tenant's resources that a request can name."""

    app: str
    message: str
    key: str
    schedule: str


BODIES: dict[str, Callable[[Ids], Any]] = {
    "POST /tenants": lambda ids: {"name": "t"},
    "POST /apps": lambda ids: {"name": "x", "url": "http://127.0.0.1:9/"},
    "PATCH /apps/{appId}": lambda ids: {"name": "renamed"},
    "POST /keys": lambda ids: {"name": "k", "scopes": ["read"]},
    "POST /messages": lambda ids: {"appId": ids.app, **MESSAGE},
    "POST /messages/batch": lambda ids: {"messages": [{"appId": ids.app, **MESSAGE}]},
    "PATCH /messages/{id}": lambda ids: {"payload": 2},
    "POST /schedules": lambda ids: {"appId": ids.app, **SCHEDULE},
    "PATCH /schedules/{id}": lambda ids: {"payload": 2},
}
QUERIES: dict[str, Callable[[Ids], dict[str, str]]] = {
    "GET /messages": lambda ids: {"appId": ids.app},
    "GET /attempts": lambda ids: {"appId": ids.app},
}


def call(client: httpx.Client, op: Operation, ids: Ids) -> httpx.Response:
    """`op` with `ids` in its path, body and filters."""
    route = f"{op.method} {op.path}"
    named = ids.schedule if op.path.startswith("/schedules/") else ids.message
    path = op.path.format(appId=ids.app, id=named, keyId=ids.key)
    body = BODIES[route](ids) if route in BODIES else None
    params = QUERIES[route](ids) if route in QUERIES else None
    return client.request(op.method, path, json=body, params=params, headers={"If-Match": "*"})


def fresh_ids(client: httpx.Client) -> Ids:
    """A new app, message, key and recurring schedule of the client's tenant."""
    app = create_app(client, "http://127.0.0.1:9/")["id"]
    message = client.post("/messages", json={"appId": app, **MESSAGE})
    assert message.status_code == 201, message.text
    schedule = client.post("/schedules", json={"appId": app, **SCHEDULE})
    assert schedule.status_code == 201, schedule.text
    return Ids(app, message.json()["id"], create_key(client, "read")["id"], schedule.json()["id"])


def view_of(client: httpx.Client, ids: Ids) -> tuple[Any, ...]:
    """What the owner sees of its resources (to check that nothing changed)."""
    app = client.get(f"/apps/{ids.app}").json()
    message = client.get(f"/messages/{ids.message}").json()
    keys = sorted(key["id"] for key in client.get("/keys").json()["items"])
    return app, message, keys, client.get(f"/schedules/{ids.schedule}").json()


@pytest.fixture(scope="module")
def victim(cluster: Cluster) -> httpx.Client:
    return cluster.client(cluster.tenant("victim"))


@pytest.fixture(scope="module")
def intruder(cluster: Cluster) -> httpx.Client:
    return cluster.client(cluster.tenant("intruder"))


def test_every_route_is_in_the_matrix() -> None:
    routes = {f"{op.method} {op.path}" for op in OPERATIONS}
    with_ids = {f"{op.method} {op.path}" for op in SECURED if "{" in op.path}
    named = with_ids | set(BODIES) | set(QUERIES)
    unnamed = {"GET /health", "GET /openapi.json", "GET /tenants", "GET /apps", "GET /keys", "GET /usage", "GET /me"}
    unnamed |= {"GET /schedules"}
    assert routes <= named | unnamed, routes - named - unnamed


NOWHERE = Ids(
    "app_01M8ZZZZZZZZZZZZZZZZZZZZZZ",
    "msg_01M8ZZZZZZZZZZZZZZZZZZZZZZ",
    "key_01M8ZZZZZZZZZZZZZZZZZZZZZZ",
    "sch_01M8ZZZZZZZZZZZZZZZZZZZZZZ",
)


def without_ids(text: str, ids: Ids) -> str:
    for value in (ids.app, ids.message, ids.key, ids.schedule):
        text = text.replace(value, "<id>")
    return text


def test_another_tenants_ids_are_404_like_unknown_ids_and_change_nothing(
    victim: httpx.Client, intruder: httpx.Client
) -> None:
    ids = fresh_ids(victim)
    before = view_of(victim, ids)
    for op in SECURED:
        response = call(intruder, op, ids)
        route = f"{op.method} {op.path}"
        assert response.status_code < 500, (route, response.text)
        if "{" in op.path or route in ("POST /messages", "POST /schedules"):
            assert response.status_code == 404, (route, response.status_code, response.text)
            assert response.json()["error"]["code"] == "not_found"
            unknown = call(intruder, op, NOWHERE)
            assert without_ids(response.text, ids) == without_ids(unknown.text, NOWHERE), "must not reveal existence"
        elif route == "POST /messages/batch":
            assert [item["error"]["code"] for item in response.json()["items"]] == ["not_found"]
        elif route in QUERIES:
            assert response.json()["items"] == [], route
    assert view_of(victim, ids) == before


def allowed(op: Operation, scopes: tuple[str, ...]) -> bool:
    return "admin" in scopes or op.auth in scopes


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids="+".join)
def test_every_route_needs_its_scope(victim: httpx.Client, cluster: Cluster, scopes: tuple[str, ...]) -> None:
    with cluster.client(create_key(victim, *scopes)["key"]) as caller:
        for op in SECURED:
            ids = fresh_ids(victim)
            if op.path.endswith("/redrive"):
                assert victim.delete(f"/messages/{ids.message}").status_code == 200  # redrive needs a cancelled one
            before = view_of(victim, ids)
            response = call(caller, op, ids)
            route = f"{op.method} {op.path}"
            if allowed(op, scopes):
                assert response.status_code in (200, 201), (scopes, route, response.text)
            else:
                assert response.status_code == 403, (scopes, route, response.status_code, response.text)
                assert response.json()["error"]["code"] == "forbidden"
                assert view_of(victim, ids) == before, (scopes, route)
        for op in OPERATOR:
            assert call(caller, op, fresh_ids(victim)).status_code == 401, (scopes, op.path)


def test_the_operator_key_is_not_an_api_key(cluster: Cluster, victim: httpx.Client) -> None:
    ids = fresh_ids(victim)
    with cluster.client(OPERATOR_KEY) as operator:
        for op in SECURED:
            response = call(operator, op, ids)
            assert response.status_code == 401, (op.method, op.path, response.text)


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer sk_unknown", "sk_unknown", "revoked"])
def test_no_unknown_or_revoked_keys_are_401_everywhere(
    cluster: Cluster, victim: httpx.Client, header: str | None
) -> None:
    ids = fresh_ids(victim)
    if header == "revoked":
        revoked = create_key(victim, "admin")
        assert victim.delete(f"/keys/{revoked['id']}").status_code == 200
        header = f"Bearer {revoked['key']}"
    before = view_of(victim, ids)
    with httpx.Client(base_url=cluster.server.url, trust_env=False, timeout=30) as anonymous:
        if header is not None:
            anonymous.headers["authorization"] = header
        for op in SECURED + OPERATOR:
            response = call(anonymous, op, ids)
            assert response.status_code == 401, (header, op.method, op.path, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert view_of(victim, ids) == before
