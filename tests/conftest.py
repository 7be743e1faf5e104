"""Shared fixtures: the one `ctx` (real adapters on a temporary directory, on a settable clock, installed
into `bootstrap`), the Chalice test client, and helpers that create tenants, keys and apps. `Api` also
checks every response against the contract."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client, HTTPResponse
from pydantic import ValidationError

from chalicelib import bootstrap
from chalicelib.api import openapi
from chalicelib.domain import schemas
from chalicelib.domain.schemas import TenantCreate
from chalicelib.services import accounts
from chalicelib.services.context import Context
from chalicelib.settings import Settings
from tests.support.backends import ADAPTER_SETS
from tests.support.doubles import SettableClock, observed

OPERATOR_KEY = "op_" + "x" * 40
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_MODEL_TIMESTAMPS = ("createdAt", "sendAt", "nextAttemptAt", "deliveredAt", "notAfter", "startedAt")
_MODEL_TIMESTAMPS += ("startAt", "endAt", "nextRunAt", "lastRunAt", "updatedAt")  # recurring schedules


@pytest.fixture
def clock() -> SettableClock:
    """The one clock of the tests: the context's."""
    return SettableClock()


@pytest.fixture
def backend() -> str:
    """The adapter set `ctx` is built on (the conformance suite runs every one)."""
    return "local"


@pytest.fixture
def ctx(backend: str, tmp_path: Path, clock: SettableClock) -> Iterator[Context]:
    """Real adapters with spies on the timer and limiter, installed as the app's context (operator key set)."""
    with ADAPTER_SETS[backend](tmp_path, clock, Settings(operator_key=OPERATOR_KEY)) as built:
        context = observed(built)
        bootstrap.install(context)
        try:
            yield context
        finally:
            bootstrap.install(None)


@pytest.fixture
def client(ctx: Context) -> Iterator[Client]:
    """The Chalice test client on the real app, wired to `ctx`."""
    from app import app

    with Client(app) as test_client:
        yield test_client


@dataclass
class Api:
    """Thin JSON helper over the test client; checks each answer's shape against the contract."""

    client: Client
    token: str | None = None
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    def as_(self, token: str | None) -> Api:
        """The same client with another bearer token."""
        return Api(self.client, token, self.seen)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        """Send `body` as JSON (or `raw` bytes) and check the response shape."""
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.client.http.request(method, path, headers=sent, body=data)
        self.seen.append((method, path, response.status_code))
        check_contract(method, path, response)
        return response

    def get(self, path: str, **kwargs: Any) -> HTTPResponse:
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> HTTPResponse:
        """POST."""
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> HTTPResponse:
        """PATCH."""
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HTTPResponse:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


def find_operation(method: str, path: str) -> openapi.Operation | None:
    """The documented operation serving `method path` (static segments before `{params}`)."""
    parts = path.split("?", 1)[0].rstrip("/").split("/")
    candidates = [op for op in openapi.OPERATIONS if op.method == method and len(op.path.split("/")) == len(parts)]
    candidates.sort(key=lambda op: op.path.count("{"))
    for op in candidates:
        if all(t.startswith("{") or t == p for t, p in zip(op.path.split("/"), parts, strict=True)):
            return op
    return None


def check_contract(method: str, path: str, response: HTTPResponse) -> None:
    """Every error is `{"error": {code, message, field?}}`; every success matches the documented model."""
    body = response.json_body
    if response.status_code >= 400:
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "field"}, body
        assert re.fullmatch(r"[a-z][a-z0-9_]*", body["error"]["code"]), body
        check_model(schemas.ErrorResponse, body)
        return
    op = find_operation(method, path)
    if op is None or op.shape in ("health", "empty"):
        return
    assert op.result is not None
    if op.shape == "one":
        check_model(op.result, body)
    elif op.shape == "batch":
        assert set(body) == {"items"}
        for item in body["items"]:
            if "error" in item:
                check_model(schemas.ErrorResponse, item)
            else:
                check_model(op.result, item)
    else:
        expected = {
            "days": {"items", "from", "to", "plan", "schedules"},
            "feed": {"items", "nextCursor", "resumeCursor"},
        }.get(op.shape, {"items", "nextCursor"})
        assert set(body) == expected, body
        if op.shape == "days":
            check_model(schemas.PlanOut, body["plan"])
        for item in body["items"]:
            check_model(op.result, item)


def check_model(model: type[Any], item: dict[str, Any]) -> None:
    """`item` validates against `model`, has no undocumented field, and its times are `...000Z`."""
    assert set(item) <= set(model.model_fields), set(item) - set(model.model_fields)
    try:
        model.model_validate(item)
    except ValidationError as exc:
        raise AssertionError(f"{model.__name__}: {exc}") from exc
    for name in _MODEL_TIMESTAMPS:
        if item.get(name) is not None:
            assert TIMESTAMP.match(item[name]), (name, item[name])


@dataclass
class Tenant:
    """A tenant made for a test, with an admin key and helpers to make more."""

    id: str
    admin: str
    api: Api

    def key(self, *scopes: str) -> str:
        """A new key of this tenant with `scopes`."""
        response = self.api.as_(self.admin).post("/keys", {"name": "k", "scopes": list(scopes)})
        assert response.status_code == 201, response.json_body
        return str(response.json_body["key"])

    def app(self, url: str = "https://example.com/hook", **fields: Any) -> str:
        """A new app of this tenant; returns its id."""
        response = self.api.as_(self.admin).post("/apps", {"name": "a", "url": url, **fields})
        assert response.status_code == 201, response.json_body
        return str(response.json_body["id"])


@pytest.fixture
def api(client: Client) -> Api:
    """JSON helper without a token."""
    return Api(client)


def make_tenant(ctx: Context, api: Api, name: str, plan: str = "unlimited") -> Tenant:
    """A tenant created through the service, with its admin key."""
    tenant, token = accounts.create_tenant(ctx, TenantCreate(name=name, plan=plan))
    return Tenant(tenant.id, token, api)


@pytest.fixture
def tenant(ctx: Context, api: Api) -> Tenant:
    """Tenant A."""
    return make_tenant(ctx, api, "tenant-a")


@pytest.fixture
def other(ctx: Context, api: Api) -> Tenant:
    """Tenant B, to check isolation."""
    return make_tenant(ctx, api, "tenant-b")


@pytest.fixture
def admin(api: Api, tenant: Tenant) -> Api:
    """Tenant A's admin."""
    return api.as_(tenant.admin)


@pytest.fixture
def sender(api: Api, tenant: Tenant) -> Api:
    """A `send`-only key of tenant A."""
    return api.as_(tenant.key("send"))


@pytest.fixture
def reader(api: Api, tenant: Tenant) -> Api:
    """A `read`-only key of tenant A."""
    return api.as_(tenant.key("read"))


@pytest.fixture
def app_id(tenant: Tenant) -> str:
    """An app of tenant A."""
    return tenant.app()


def deliver(ctx: Context, tenant_id: str, message_id: str, status_code: int | None, duration_ms: int = 12) -> None:
    """One attempt of a due message as the delivery runner makes it (claim, outcome, complete)."""
    from chalicelib.domain.delivery import AttemptOutcome
    from chalicelib.ports import Lease, TimerRef
    from chalicelib.services.runner import DeliveryRunner

    clock = ctx.clock
    assert isinstance(clock, SettableClock)
    message = ctx.messages.get_message(tenant_id, message_id)
    assert message is not None
    clock.set(max(clock.now_ms(), message.due_at))
    runner = DeliveryRunner(ctx.deliveries, clock, lease_ms=60_000, jitter=ctx.jitter)
    lease = runner.claim(TimerRef(tenant_id, message_id, message.gen))
    assert isinstance(lease, Lease), lease
    ok = status_code is not None and 200 <= status_code < 300
    outcome = AttemptOutcome(
        started_at_ms=clock.now_ms(),
        duration_ms=duration_ms,
        status_code=status_code,
        error=None if ok else ("timeout" if status_code is None else f"http_status: {status_code}"),
        response_snippet="ok" if ok else "nope",
        retry_after_s=None,
    )
    clock.advance(duration_ms)
    assert not runner.complete([runner.finish(lease, outcome)]).stale


def create_message(api: Api, app_id: str, **fields: Any) -> dict[str, Any]:
    """Schedule one message (60 s ahead unless a time is given); asserts the 201 and returns the message."""
    body = {"appId": app_id, "payload": {"n": 1}, **fields}
    if "sendAt" not in fields and "delaySeconds" not in fields:
        body["delaySeconds"] = 60
    response = api.post("/messages", body)
    assert response.status_code == 201, response.json_body
    return dict(response.json_body)
