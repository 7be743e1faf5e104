"""End to end: the real server process, HTTP clients and a loopback receiver."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import OPERATOR_KEY
from tests.support.receiver import Receiver
from tests.support.server import ADMIN_KEY, ROOT, SERVE_AWS, ServerProcess, wait_until

pytestmark = pytest.mark.e2e


def create_app(client: httpx.Client, url: str, **fields: object) -> dict:
    response = client.post("/apps", json={"name": "hooks", "url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def schedule(client: httpx.Client, app_id: str, **fields: object) -> httpx.Response:
    return client.post("/messages", json={"appId": app_id, "payload": {"hi": 1}, "delaySeconds": 0, **fields})


def status_of(client: httpx.Client, message_id: str) -> str:
    return client.get(f"/messages/{message_id}").json()["status"]


def wait_status(client: httpx.Client, message_id: str, status: str, timeout_s: float = 20) -> dict:
    wait_until(lambda: status_of(client, message_id) == status, timeout_s)
    return client.get(f"/messages/{message_id}").json()


def new_tenant(server: ServerProcess, name: str) -> httpx.Client:
    with server.client(OPERATOR_KEY) as operator:
        response = operator.post("/tenants", json={"name": name, "plan": "unlimited"})
    assert response.status_code == 201, response.text
    return server.client(response.json()["adminKey"])


def test_delivery_is_signed_and_verifiable(server: ServerProcess, receiver: Receiver) -> None:
    with server.client() as client:
        app = create_app(client, receiver.url("/ok"), headers={"x-token": "s3cret"})
        message = schedule(client, app["id"], payload={"order": 42}).json()
        [record] = receiver.wait_for(1)
        Webhook(app["signingSecret"]).verify(record.body, record.headers)
        assert json.loads(record.body) == {"order": 42}
        assert record.headers["webhook-id"] == message["id"]
        assert record.headers["x-token"] == "s3cret"
        done = wait_status(client, message["id"], "delivered")
        assert done["lateMs"] >= 0 and done["deliveredAt"] is not None
        assert client.get(f"/apps/{app['id']}").json()["headers"] == {"x-token": "***"}


def test_rotated_secret_signs_with_both(server: ServerProcess, receiver: Receiver) -> None:
    with server.client() as client:
        app = create_app(client, receiver.url("/ok"))
        rotated = client.post(f"/apps/{app['id']}/rotate-secret").json()
        schedule(client, app["id"])
        [record] = receiver.wait_for(1)
        for secret in (app["signingSecret"], rotated["signingSecret"]):
            Webhook(secret).verify(record.body, record.headers)
        assert len(record.headers["webhook-signature"].split(" ")) == 2


def test_cancel_then_redrive(server: ServerProcess, receiver: Receiver) -> None:
    with server.client() as client:
        app = create_app(client, receiver.url("/ok"))
        message = schedule(client, app["id"], delaySeconds=3600).json()
        cancelled = client.delete(f"/messages/{message['id']}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert client.delete(f"/messages/{message['id']}").status_code == 409
        redriven = client.post(f"/messages/{message['id']}/redrive")
        assert redriven.status_code == 200 and redriven.json()["status"] == "scheduled"
        wait_status(client, message["id"], "delivered")
        assert len(receiver.records) == 1


def test_retry_then_delivered_and_gone_fails(server: ServerProcess, receiver: Receiver) -> None:
    with server.client() as client:
        flaky = create_app(client, receiver.url("/flaky/1"))
        gone = create_app(client, receiver.url("/status/410"))
        retried = schedule(client, flaky["id"]).json()
        stopped = schedule(client, gone["id"]).json()
        wait_status(client, retried["id"], "delivered")
        attempts = client.get(f"/messages/{retried['id']}/attempts").json()["items"]
        assert [a["statusCode"] for a in attempts] == [500, 200]
        failed = wait_status(client, stopped["id"], "failed")
        assert (failed["failureReason"], failed["attempts"]) == ("gone", 1)


def test_idempotency_same_body_200_different_body_409(server: ServerProcess, receiver: Receiver) -> None:
    with server.client() as client:
        app = create_app(client, receiver.url("/ok"))
        body = {"appId": app["id"], "payload": 1, "delaySeconds": 60}
        first = client.post("/messages", json=body, headers={"Idempotency-Key": "order-7"})
        again = client.post("/messages", json=body, headers={"Idempotency-Key": "order-7"})
        other = client.post("/messages", json={**body, "payload": 2}, headers={"Idempotency-Key": "order-7"})
        assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
        assert again.json()["id"] == first.json()["id"]
        assert other.json()["error"]["code"] == "idempotency_conflict"


def test_tenants_are_isolated_and_scopes_enforced(server: ServerProcess, receiver: Receiver) -> None:
    alice, bob = new_tenant(server, "alice"), new_tenant(server, "bob")
    with alice, bob:
        app = create_app(alice, receiver.url("/ok"))
        message = schedule(alice, app["id"], delaySeconds=3600).json()
        assert bob.get(f"/apps/{app['id']}").status_code == 404
        assert bob.get(f"/messages/{message['id']}").status_code == 404
        assert bob.delete(f"/messages/{message['id']}").status_code == 404
        assert schedule(bob, app["id"]).status_code == 404
        reader = alice.post("/keys", json={"name": "ro", "scopes": ["read"]}).json()["key"]
        with server.client(reader) as read_only:
            assert read_only.get(f"/messages/{message['id']}").status_code == 200
            denied = schedule(read_only, app["id"])
            assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
        assert httpx.get(f"{server.url}/apps", headers={"authorization": "Bearer nope"}).status_code == 401


def test_two_tenants_hammering_concurrently_never_see_each_other(server: ServerProcess, receiver: Receiver) -> None:
    # Every request of run-aws crosses three processes and moto: fewer of them keep the test short.
    per_thread = 40 if server.command == SERVE_AWS else 150
    clients = {name: new_tenant(server, name) for name in ("alice", "bob")}
    apps = {name: create_app(client, receiver.url("/ok"))["id"] for name, client in clients.items()}

    def work(name: str) -> list[str]:
        problems = []
        with server.client(clients[name].headers["authorization"].split()[1]) as client:
            for i in range(per_thread):
                created = schedule(client, apps[name], payload={"owner": name, "i": i}, delaySeconds=3600)
                if created.status_code != 201 or created.json()["appId"] != apps[name]:
                    problems.append(f"{name} create {i}: {created.status_code} {created.text[:100]}")
                    continue
                got = client.get(f"/messages/{created.json()['id']}")
                if got.status_code != 200 or got.json()["payload"] != {"owner": name, "i": i}:
                    problems.append(f"{name} read {i}: {got.status_code} {got.text[:100]}")
        return problems

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, ["alice", "bob"] * 4))
    assert [p for problems in results for p in problems] == []
    for name, client in clients.items():
        listed, cursor = [], None
        while True:
            page = client.get("/messages", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
            listed += page["items"]
            if not (cursor := page["nextCursor"]):
                break
        assert {m["appId"] for m in listed} == {apps[name]} and len(listed) == 4 * per_thread
        client.close()


def test_sigkill_during_deliveries_loses_nothing(local_server: ServerProcess, receiver: Receiver) -> None:
    server = local_server
    with server.client() as client:
        slow = create_app(client, receiver.url("/slow/200"))
        acknowledged = []
        for start in range(0, 300, 100):
            batch = [{"appId": slow["id"], "payload": i, "delaySeconds": 0} for i in range(start, start + 100)]
            response = client.post("/messages/batch", json={"messages": batch})
            assert response.status_code == 200
            acknowledged += [item["id"] for item in response.json()["items"]]
    wait_until(lambda: len(receiver.records) >= 20)  # deliveries are in flight
    server.kill()
    server.start()
    with server.client() as client:

        def all_delivered() -> bool:
            delivered = client.get("/messages", params={"status": "delivered", "limit": 500}).json()["items"]
            return len(delivered) == len(acknowledged)

        wait_until(all_delivered, timeout_s=60)
    received = {r.headers["webhook-id"] for r in receiver.records}
    assert received == set(acknowledged)


def test_a_second_server_on_the_same_data_dir_exits_with_a_clear_message(local_server: ServerProcess) -> None:
    server = local_server
    result = subprocess.run(
        [sys.executable, "-m", "scheduler_cli.main", "serve", "--port", "0"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "another scheduler process" in result.stderr


def test_health_and_openapi_need_no_auth(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/messages" in spec["paths"]
    assert ADMIN_KEY not in json.dumps(spec)


def test_usage_counts_a_delivered_message_once(server: ServerProcess, receiver: Receiver) -> None:
    """Locally the counters move with the writes; on the AWS path the meter Lambda adds them from the
    messages table's stream (its event source mapping), a moment later: poll with a deadline."""
    client = new_tenant(server, "metered")
    with client:
        app = create_app(client, receiver.url("/ok"))
        message = schedule(client, app["id"]).json()
        wait_status(client, message["id"], "delivered")

        def counts() -> list[tuple[int, int, int, int]]:
            days = client.get("/usage").json()["items"]
            return [(d["scheduled"], d["delivered"], d["failed"], d["attempts"]) for d in days]

        wait_until(lambda: counts() == [(1, 1, 0, 1)], 20)
