"""Every size limit at its edge, on the real server: the value at the limit passes, one more is refused.

Payload 256 KiB (413), batch 1-100 (400), app headers (count, name, value), URL length, list
`limit` 1-500, idempotency keys, and the request body: a `Content-Length` over the server's limit
is a 413 from the headers alone, before any body is sent (a client announcing 50 MB gets its answer
at once), and a streamed (chunked) body is cut off once it passes the limit.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chalicelib.domain.schemas import MAX_APP_HEADERS, MAX_BATCH, MAX_HEADER_VALUE, MAX_PAYLOAD_BYTES, MAX_URL_LENGTH
from tests.reliability.harness import OPERATOR_KEY, Cluster, create_app

pytestmark = pytest.mark.e2e

SERVER_BODY_LIMIT = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> httpx.Client:
    return cluster.client()


@pytest.fixture(scope="module")
def app_id(client: httpx.Client) -> str:
    return str(create_app(client, "http://127.0.0.1:9/")["id"])


def payload_of(size: int, char: str = "x") -> str:
    """A JSON string whose compact serialization is exactly `size` bytes (`char` of 1 or 2 UTF-8 bytes)."""
    width = len(char.encode())
    body = char * ((size - 2) // width) + "y" * ((size - 2) % width)
    assert len(json.dumps(body, ensure_ascii=False).encode()) == size
    return body


def error_of(response: httpx.Response) -> tuple[int, str, str | None]:
    error = response.json()["error"]
    return response.status_code, error["code"], error.get("field")


@pytest.mark.parametrize("char", ["x", "é"])
def test_payload_of_256_kib_passes_and_one_byte_more_is_413(client: httpx.Client, app_id: str, char: str) -> None:
    at_limit = {"appId": app_id, "payload": payload_of(MAX_PAYLOAD_BYTES, char), "delaySeconds": 3600}
    created = client.post("/messages", json=at_limit)
    assert created.status_code == 201, created.text
    over = client.post("/messages", json={**at_limit, "payload": payload_of(MAX_PAYLOAD_BYTES + 1, char)})
    assert error_of(over) == (413, "payload_too_large", "payload")
    patched = client.patch(
        f"/messages/{created.json()['id']}",
        json={"payload": payload_of(MAX_PAYLOAD_BYTES + 1, char)},
        headers={"If-Match": "*"},
    )
    assert error_of(patched)[:2] == (413, "payload_too_large")


@pytest.mark.parametrize(("count", "status"), [(0, 400), (1, 200), (MAX_BATCH, 200), (MAX_BATCH + 1, 400)])
def test_batch_holds_1_to_100(client: httpx.Client, app_id: str, count: int, status: int) -> None:
    item = {"appId": app_id, "payload": 1, "delaySeconds": 3600}
    response = client.post("/messages/batch", json={"messages": [item] * count})
    assert response.status_code == status, response.text
    if status == 400:
        assert error_of(response)[1:] == ("validation_error", "messages")


def app_body(**fields: Any) -> dict[str, Any]:
    return {"name": "limits", "url": "http://127.0.0.1:9/", **fields}


@pytest.mark.parametrize(
    ("case", "fields", "status"),
    [
        ("20 headers", {"headers": {f"x-h{i}": "v" for i in range(MAX_APP_HEADERS)}}, 201),
        ("21 headers", {"headers": {f"x-h{i}": "v" for i in range(MAX_APP_HEADERS + 1)}}, 400),
        ("value at limit", {"headers": {"x-big": "v" * MAX_HEADER_VALUE}}, 201),
        ("value over limit", {"headers": {"x-big": "v" * (MAX_HEADER_VALUE + 1)}}, 400),
        ("name at limit", {"headers": {"x" * 100: "v"}}, 201),
        ("name over limit", {"headers": {"x" * 101: "v"}}, 400),
        ("CRLF in value", {"headers": {"x-evil": "a\r\nx-forged: 1"}}, 400),
        ("url at limit", {"url": "http://127.0.0.1:9/" + "p" * (MAX_URL_LENGTH - 19)}, 201),
        ("url over limit", {"url": "http://127.0.0.1:9/" + "p" * (MAX_URL_LENGTH - 18)}, 400),
        ("name over 200", {"name": "n" * 201}, 400),
    ],
)
def test_app_limits(client: httpx.Client, case: str, fields: dict[str, Any], status: int) -> None:
    response = client.post("/apps", json=app_body(**fields))
    assert response.status_code == status, (case, response.text)
    if status == 400:
        assert error_of(response)[1] == "validation_error"
        patched = client.patch(f"/apps/{create_app(client, 'http://127.0.0.1:9/')['id']}", json=fields)
        assert patched.status_code == 400, (case, patched.text)


@pytest.mark.parametrize("path", ["/apps", "/messages", "/attempts", "/tenants"])
def test_list_limit_is_1_to_500(cluster: Cluster, client: httpx.Client, path: str) -> None:
    caller = cluster.client(OPERATOR_KEY) if path == "/tenants" else client
    for good in ("1", "500", ""):
        response = caller.get(path, params={"limit": good})
        assert response.status_code == 200, (path, good, response.text)
        assert len(response.json()["items"]) <= int(good or 50)
    for bad in ("0", "501", "-1", "1.5", "abc", "1e2", "٣", "99999999999999999999"):
        assert error_of(caller.get(path, params={"limit": bad})) == (400, "validation_error", "limit"), (path, bad)


def test_idempotency_keys_are_at_most_255_characters(client: httpx.Client, app_id: str) -> None:
    body = {"appId": app_id, "payload": 1, "delaySeconds": 3600}
    assert client.post("/messages", json=body, headers={"Idempotency-Key": "k" * 255}).status_code == 201
    assert client.post("/messages", json=body, headers={"Idempotency-Key": "k" * 256}).status_code == 400
    assert client.post("/messages", json={**body, "idempotencyKey": "b" * 256}).status_code == 400


def raw_request(cluster: Cluster, head: str, body: bytes = b"", timeout_s: float = 5.0) -> tuple[bytes, float]:
    """Send `head` (and `body`) on a new socket; return the response bytes read until close, and the time taken."""
    host, port = cluster.server.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(head.encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


@pytest.mark.parametrize("auth", [True, False])
@pytest.mark.parametrize("path", ["/messages", "/messages/batch", "/apps"])
def test_an_announced_50_mb_body_is_413_before_a_byte_is_sent(cluster: Cluster, path: str, auth: bool) -> None:
    authorization = "Authorization: Bearer sk_e2e_admin_key_0123456789abcdef\r\n" if auth else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\n{authorization}Content-Type: application/json\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    )
    answer, took_s = raw_request(cluster, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"payload_too_large"' in answer
    assert took_s < 2.0
    assert httpx.get(f"{cluster.server.url}/health").status_code == 200


def test_a_streamed_body_is_cut_off_past_the_limit(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(SERVER_BODY_LIMIT // (1 << 20) + 10):  # chunked transfer: no length announced
            yield b"x" * (1 << 20)

    response = client.post("/messages/batch", content=chunks(), headers={"Content-Type": "application/json"})
    assert error_of(response)[:2] == (413, "payload_too_large")
    assert client.get("/health").status_code == 200
