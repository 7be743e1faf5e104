"""What a new user meets first, against the real server: one error body format for every route
(unknown ones and 405s included), 428 without If-Match, unknown fields named, and the INFO logs
(one access line per request, one line per delivery outcome; `LOG_FORMAT=json` for machines)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.receiver import Receiver
from tests.support.server import ADMIN_KEY, ROOT, SERVE_AWS, ServerProcess, wait_until

ERROR_BODY = re.compile(rb'^\{"error":\{"code":"[a-z_]+","message":"[^"]*"(,"field":"[^"]*")?\}\}$')


def test_every_error_has_one_body_format(server: ServerProcess) -> None:
    with server.client() as http:
        app = http.post("/apps", json={"name": "a", "url": "http://127.0.0.1:9/x"}).json()["id"]
        message = http.post("/messages", json={"appId": app, "payload": 1, "delaySeconds": 600}).json()["id"]
        answers = {
            "unknown route": http.get("/no/such/route"),
            "405": http.put("/apps"),
            "bad json": http.post("/apps", content=b"{", headers={"content-type": "application/json"}),
            "415": http.post("/apps", content=b"{}", headers={"content-type": "text/plain"}),
            "404": http.get("/messages/msg_nope"),
            "401": http.get("/apps", headers={"authorization": "Bearer wrong"}),
            "428": http.patch(f"/messages/{message}", json={"payload": 2}),
            "unknown field": http.post("/messages", json={"appID": app, "payload": 1, "delaySeconds": 1}),
            "past": http.post("/messages", json={"appId": app, "payload": 1, "sendAt": "2016-01-01T00:00:00Z"}),
        }
    on_aws = server.command == SERVE_AWS
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "unknown route": 404,
        "405": 404 if on_aws else 405,  # API Gateway has no 405: a method a path lacks is its "no route"
        "bad json": 400,
        "415": 415,
        "404": 404,
        "401": 401,
        "428": 428,
        "unknown field": 400,
        "past": 400,
    }
    for name, answer in answers.items():
        assert ERROR_BODY.match(answer.content), (name, answer.content)
        assert answer.headers["content-type"] == "application/json", name
    if not on_aws:
        assert answers["405"].headers["allow"] == "GET, POST"
    assert answers["428"].json()["error"] == {
        "code": "precondition_required",
        "message": "send If-Match with the message's etag (or *)",
        "field": "If-Match",
    }
    assert answers["unknown field"].json()["error"]["message"] == "unknown field appID; did you mean appId?"
    assert "2016-01-01T00:00:00.000Z" in answers["past"].json()["error"]["message"]


def _log_lines(server: ServerProcess) -> list[str]:
    return [line.rstrip("\n") for line in server.output]


def test_info_logs_one_access_line_per_request_and_one_line_per_delivery_outcome(
    local_server: ServerProcess, receiver: Receiver
) -> None:
    server = local_server  # the local server's own output (on AWS each Lambda logs to CloudWatch)
    with server.client() as http:
        app = http.post("/apps", json={"name": "logs", "url": receiver.url("/flaky/1")}).json()["id"]
        ok = http.post("/messages", json={"appId": app, "payload": 1, "delaySeconds": 0, "maxAttempts": 2}).json()
        wait_until(lambda: http.get(f"/messages/{ok['id']}").json()["status"] == "delivered")
        failing = {"name": "failing", "url": receiver.url("/status/500?retry_after=0")}
        app = http.post("/apps", json=failing).json()["id"]
        bad = http.post("/messages", json={"appId": app, "payload": 2, "delaySeconds": 0, "maxAttempts": 2}).json()
        wait_until(lambda: http.get(f"/messages/{bad['id']}").json()["status"] == "failed")
        http.get("/nowhere")
    wait_until(lambda: any("GET /nowhere 404" in line for line in _log_lines(server)))
    lines = _log_lines(server)
    access = [line for line in lines if "scheduler.access:" in line]
    assert any(re.search(r"POST /apps 201 [\d.]+ms tenant=default$", line) for line in access), access
    assert any(re.search(r"GET /nowhere 404 [\d.]+ms tenant=-$", line) for line in access), access
    assert not any(ADMIN_KEY in line for line in lines)
    delivery = [line for line in lines if "scheduler.delivery:" in line]
    mine = [line.split("scheduler.delivery: ", 1)[1] for line in delivery]
    assert any(re.fullmatch(rf"{ok['id']} attempt 1/2 500 in \d+ms, retry at \S+Z", line) for line in mine), mine
    assert any(re.fullmatch(rf"{ok['id']} attempt 2/2 200 in \d+ms, delivered", line) for line in mine), mine
    assert any(re.fullmatch(rf"{bad['id']} attempt 2/2 500 in \d+ms, failed: exhausted", line) for line in mine), mine


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", {"LOG_FORMAT": "json"}).start()
    yield process
    process.kill()


def test_log_format_json_writes_one_object_per_line(json_server: ServerProcess) -> None:
    with json_server.client() as http:
        assert http.get("/apps").status_code == 200
    wait_until(lambda: any('"GET /apps 200' in line for line in json_server.output))
    records = [json.loads(line) for line in json_server.output if line.startswith("{")]
    [access] = [record for record in records if record.get("path") == "/apps"]
    assert access["level"] == "INFO"
    assert (access["method"], access["status"], access["tenant"]) == ("GET", 200, "default")
    assert isinstance(access["ms"], float)


def test_a_bad_log_format_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "LOG_FORMAT": "xml", "SCHEDULER_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "scheduler_cli.main", "serve", "--port", "0"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "LOG_FORMAT must be text or json, not 'xml'" in done.stderr


def test_patch_by_delay_over_http(server: ServerProcess) -> None:
    with server.client() as http:
        app = http.post("/apps", json={"name": "p", "url": "http://127.0.0.1:9/x"}).json()["id"]
        created = http.post("/messages", json={"appId": app, "payload": 1, "delaySeconds": 3600}).json()
        moved = http.patch(
            f"/messages/{created['id']}", json={"delaySeconds": 7200}, headers={"if-match": created["etag"]}
        )
    assert moved.status_code == 200
    assert moved.json()["sendAt"] > created["sendAt"]
