"""Secrets stay secret: API keys only as hashes, signing secrets and header values never read back or logged.

`test_a_full_run_logs_and_returns_no_secret` runs a real server at `LOG_LEVEL=DEBUG` through a full
life (operator, tenants, keys, apps with secret headers, rotation, deliveries that succeed, fail and
retry, revocation, refused tokens, SIGTERM) and then looks for every secret in: the whole process
output, every GET response (bodies and headers), what the receiver got, and the SQLite files
(where tokens may appear only as their SHA-256).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from chalicelib.api import auth
from chalicelib.services.context import Context
from tests.conftest import OPERATOR_KEY as FUNCTIONAL_OPERATOR_KEY
from tests.conftest import Api, Tenant
from tests.reliability.harness import OPERATOR_KEY, Cluster, SwitchReceiver, create_app, create_key, list_all, poll
from tests.support.server import ADMIN_KEY

pytestmark = pytest.mark.e2e

HEADER_SECRETS = {"x-api-token": "hdr-secret-value-0123456789", "authorization": "Bearer hdr-bearer-9876543210"}


class Secrets:
    """Every secret the run produced, and the forms they could leak in."""

    def __init__(self) -> None:
        self.tokens: list[str] = [ADMIN_KEY, OPERATOR_KEY]
        self.others: list[str] = list(HEADER_SECRETS.values())

    def add_signing(self, secret: str) -> None:
        self.others += [secret, secret.removeprefix("whsec_")]

    def all(self) -> list[str]:
        return self.tokens + self.others

    def found_in(self, text: str) -> list[str]:
        return [secret for secret in self.all() if secret in text]


def life(cluster: Cluster, receiver: SwitchReceiver, failing: SwitchReceiver, secrets: Secrets) -> dict[str, Any]:
    """Drive the server through everything that touches a secret; returns ids for the read-back."""
    tenant_key = cluster.tenant("secretive")
    secrets.tokens.append(tenant_key)
    with cluster.client(tenant_key) as client:
        keys = [create_key(client, *scopes) for scopes in (("read",), ("send",), ("admin",))]
        secrets.tokens += [key["key"] for key in keys]
        good = create_app(client, receiver.url("/ok"), headers=HEADER_SECRETS)
        bad = create_app(client, failing.url("/ok"), headers=HEADER_SECRETS, retry={"maxAttempts": 2})
        moved = create_app(client, receiver.url("/redirect"), headers=HEADER_SECRETS, retry={"maxAttempts": 1})
        for app in (good, bad, moved):
            secrets.add_signing(app["signingSecret"])
        rotated = client.post(f"/apps/{good['id']}/rotate-secret").json()
        secrets.add_signing(rotated["signingSecret"])
        patched = client.patch(f"/apps/{bad['id']}", json={"headers": HEADER_SECRETS})
        assert patched.status_code == 200 and secrets.found_in(patched.text) == []
        ids = [_send(client, app["id"]) for app in (good, bad, moved)]
        poll(lambda: all(_finished(client, message_id) for message_id in ids), 30, what="deliveries finished")
        assert client.delete(f"/keys/{keys[2]['id']}").status_code == 200
        for token in (keys[2]["key"], tenant_key + "x", "sk_" + "0" * 43):
            assert (
                httpx.get(f"{cluster.server.url}/apps", headers={"authorization": f"Bearer {token}"}).status_code == 401
            )
        assert cluster.client("not-the-operator").get("/tenants").status_code == 401
    return {"tenant_key": tenant_key, "apps": [good["id"], bad["id"], moved["id"]], "messages": ids}


def _send(client: httpx.Client, app_id: str) -> str:
    response = client.post("/messages", json={"appId": app_id, "payload": {"ok": True}, "delaySeconds": 0})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _finished(client: httpx.Client, message_id: str) -> bool:
    return client.get(f"/messages/{message_id}").json()["status"] in ("delivered", "failed")


def read_back(cluster: Cluster, ids: dict[str, Any]) -> list[httpx.Response]:
    """Every GET route, as the tenant and as the operator."""
    responses: list[httpx.Response] = []
    with cluster.client(ids["tenant_key"]) as client:
        paths = ["/apps", "/keys", "/messages", "/attempts", "/usage", "/health", "/openapi.json"]
        paths += [f"/apps/{app_id}" for app_id in ids["apps"]]
        paths += [f"/messages/{m}" for m in ids["messages"]] + [f"/messages/{m}/attempts" for m in ids["messages"]]
        responses += [client.get(path) for path in paths]
        assert list_all(client, "/messages")
    with cluster.client(OPERATOR_KEY) as operator:
        responses.append(operator.get("/tenants"))
    assert all(response.status_code == 200 for response in responses)
    return responses


def test_a_full_run_logs_and_returns_no_secret(tmp_path: Path) -> None:
    secrets = Secrets()
    with SwitchReceiver(keep_headers=True) as receiver, SwitchReceiver() as failing:
        failing.down("0")
        cluster = Cluster(tmp_path / "data", LOG_LEVEL="DEBUG").start()
        try:
            ids = life(cluster, receiver, failing, secrets)
            responses = read_back(cluster, ids)
        finally:
            exit_code = cluster.server.stop()
    assert exit_code == 0
    output = "".join(cluster.server.output)
    assert "DEBUG" in output, "the run must have logged at DEBUG level"
    assert secrets.found_in(output) == [], "a secret is in the server's output"
    for response in responses:
        seen = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert secrets.found_in(seen) == [], response.request.url
    for hit in receiver.hits:
        signing = [s for s in secrets.others if s.startswith("whsec_")]
        assert [s for s in signing if s in str(hit.headers)] == [], "a signing secret went to the receiver"
    stored = b"".join(path.read_bytes() for path in (tmp_path / "data").glob("scheduler.db*"))
    for token in secrets.tokens:
        assert token.encode() not in stored, "an API key is stored in clear"
        if token != OPERATOR_KEY:
            assert hashlib.sha256(token.encode()).hexdigest().encode() in stored, "keys are stored as SHA-256"


# ---- how keys are compared (the app in process, with the functional fixtures) ------------------


def test_the_operator_key_is_compared_in_constant_time(api: Api, ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert api.as_("op_wrong").get("/tenants").status_code == 401
    assert api.as_(FUNCTIONAL_OPERATOR_KEY).get("/tenants").status_code == 200
    expected = FUNCTIONAL_OPERATOR_KEY.encode()
    assert compared == [(b"op_wrong", expected), (expected, expected)]


def test_api_keys_are_looked_up_by_their_hash_only(
    api: Api, ctx: Context, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = ctx.keys.find_key

    def spy(token_hash: str) -> Any:
        asked.append(token_hash)
        return real(token_hash)

    monkeypatch.setattr(ctx.keys, "find_key", spy)
    assert api.as_(tenant.admin).get("/apps").status_code == 200
    assert api.as_(tenant.admin + "x").get("/apps").status_code == 401
    assert asked == [hashlib.sha256(t.encode()).hexdigest() for t in (tenant.admin, tenant.admin + "x")]
    stored = [key.token_hash for key in ctx.keys.list_keys(tenant.id)]
    assert hashlib.sha256(tenant.admin.encode()).hexdigest() in stored
    assert all(tenant.admin not in repr(key) for key in ctx.keys.list_keys(tenant.id))
