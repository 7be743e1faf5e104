"""`verify_delivery` on deliveries signed the way the server signs them (`delivery.signing`)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import pytest

from chalicelib.delivery.signing import build_headers
from scheduler_client import WebhookVerificationError, verify_delivery
from tests.support.server import ROOT

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"x" * 32).decode()
BODY = json.dumps({"order": 42}).encode()


def signed(*secrets: str, body: bytes = BODY, at: int | None = None) -> dict[str, str]:
    headers = build_headers(
        message_id="msg_1",
        timestamp_s=int(time.time()) if at is None else at,
        body=body,
        secrets=secrets,
        app_headers={},
        scheduled_at="2026-01-01T00:00:00.000Z",
        attempt=1,
        user_agent="test",
    )
    return dict(headers)


def test_returns_the_payload_of_a_valid_delivery() -> None:
    assert verify_delivery(signed(NEW), BODY, NEW) == {"order": 42}
    assert verify_delivery(signed(NEW), BODY.decode(), NEW) == {"order": 42}


def test_header_names_may_come_in_any_case() -> None:
    headers = {name.title(): value for name, value in signed(NEW).items()}
    assert verify_delivery(headers, BODY, NEW) == {"order": 42}


def test_during_rotation_either_secret_accepts_the_two_signatures() -> None:
    headers = signed(NEW, OLD)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify_delivery(headers, BODY, OLD) == {"order": 42}
    assert verify_delivery(headers, BODY, NEW) == {"order": 42}


def test_a_receiver_may_hold_several_secrets() -> None:
    assert verify_delivery(signed(OLD), BODY, [NEW, OLD]) == {"order": 42}
    with pytest.raises(WebhookVerificationError):
        verify_delivery(signed(OLD), BODY, [NEW, OTHER])


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (signed(NEW), BODY + b" "),  # body changed
        (signed(OTHER), BODY),  # another secret
        ({k: v for k, v in signed(NEW).items() if k != "webhook-signature"}, BODY),  # unsigned
        (signed(NEW, at=int(time.time()) - 3600), BODY),  # replayed an hour later
    ],
)
def test_anything_else_raises(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_delivery(headers, body, NEW)


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="signing secret"):
        verify_delivery(signed(NEW), BODY, [])
    with pytest.raises(ValueError, match="signing secret"):
        verify_delivery(signed(NEW), BODY, "")


def test_a_receiver_importing_verify_delivery_loads_neither_httpx_nor_pydantic() -> None:
    code = (
        "import sys; from scheduler_client import verify_delivery; "
        "print(sorted({'httpx', 'pydantic'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"
