"""The SSRF guard end to end: a real server with `SCHEDULER_ALLOW_PRIVATE_TARGETS=false`.

Apps point at a loopback receiver under many spellings; every attempt must end with
`blocked_address` and the receiver (and a "proxy" named in the server's environment) must get
nothing. With the switch on (the local default) deliveries go straight to the receiver, the
environment's proxies are still ignored, and a redirect is not followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.harness import Cluster, SwitchReceiver, create_app, poll

pytestmark = pytest.mark.e2e

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "LocalHost",
    "127.1",
    "2130706433",
    "0x7f.1",
    "0177.0.0.1",
    "127.000.000.001",
    "[::ffff:127.0.0.1]",
    "[::1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::1]",
    "0.0.0.0",
]


@pytest.fixture
def receivers() -> Iterator[tuple[SwitchReceiver, SwitchReceiver]]:
    """The webhook receiver and a would-be proxy."""
    with SwitchReceiver() as receiver, SwitchReceiver() as proxy:
        yield receiver, proxy


def proxy_env(proxy: SwitchReceiver) -> dict[str, str]:
    url = proxy.url("/")
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    return {**dict.fromkeys(names, url), "NO_PROXY": "", "no_proxy": ""}


def settle(client: httpx.Client, message_id: str, done: Any) -> dict[str, Any]:
    """Poll a message until `done(message)`; returns it with its attempts."""

    def finished() -> dict[str, Any] | None:
        current: dict[str, Any] = client.get(f"/messages/{message_id}").json()
        return current if done(current) else None

    message = poll(finished, 20)
    message["attempt_list"] = client.get(f"/messages/{message_id}/attempts").json()["items"]
    return message


def schedule(client: httpx.Client, app_id: str) -> str:
    response = client.post("/messages", json={"appId": app_id, "payload": {"hi": 1}, "delaySeconds": 0})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_guard_on_blocks_every_spelling_of_loopback(
    tmp_path: Path, receivers: tuple[SwitchReceiver, SwitchReceiver]
) -> None:
    receiver, proxy = receivers
    cluster = Cluster(tmp_path / "data", SCHEDULER_ALLOW_PRIVATE_TARGETS="false", **proxy_env(proxy)).start()
    try:
        with cluster.client() as client:
            once = {
                host: schedule(client, create_app(client, receiver.url("/ok", host), retry={"maxAttempts": 1})["id"])
                for host in LOOPBACK_SPELLINGS
            }
            retrying = schedule(client, create_app(client, receiver.url("/ok"))["id"])
            userinfo = client.post("/apps", json={"name": "x", "url": receiver.url("/ok", "user:pw@127.0.0.1")})
            assert userinfo.status_code == 400 and userinfo.json()["error"]["field"] == "url"
            for host, message_id in once.items():
                message = settle(client, message_id, lambda m: m["status"] == "failed")
                assert message["failureReason"] == "exhausted", (host, message)
                [attempt] = message["attempt_list"]
                assert attempt["error"].startswith("blocked_address"), (host, attempt)
                assert attempt["statusCode"] is None
            waiting = settle(client, retrying, lambda m: m["attempts"] == 1)
            assert waiting["status"] == "scheduled" and waiting["nextAttemptAt"] is not None
            assert waiting["attempt_list"][0]["error"].startswith("blocked_address")
    finally:
        cluster.kill()
    assert receiver.hits == [] and proxy.hits == []


def test_guard_off_delivers_directly_ignores_proxies_and_never_follows_redirects(
    tmp_path: Path, receivers: tuple[SwitchReceiver, SwitchReceiver]
) -> None:
    receiver, proxy = receivers
    cluster = Cluster(tmp_path / "data", SCHEDULER_ALLOW_PRIVATE_TARGETS="true", **proxy_env(proxy)).start()
    try:
        with cluster.client() as client:
            direct = schedule(client, create_app(client, receiver.url("/ok"))["id"])
            redirected = schedule(client, create_app(client, receiver.url("/redirect"), retry={"maxAttempts": 1})["id"])
            assert settle(client, direct, lambda m: m["status"] == "delivered")["attempts"] == 1
            failed = settle(client, redirected, lambda m: m["status"] == "failed")
            [attempt] = failed["attempt_list"]
            assert (attempt["statusCode"], attempt["error"]) == (302, "redirect_not_followed")
    finally:
        cluster.kill()
    assert [hit.path for hit in receiver.hits] in (["/ok", "/redirect"], ["/redirect", "/ok"])
    assert proxy.hits == []
