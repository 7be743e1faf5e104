"""Standard Webhooks signatures and delivery headers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.delivery import signing
from chalicelib.delivery.signing import build_headers, sign

SECRET_A = "whsec_" + base64.b64encode(b"secret-a" * 4).decode()
SECRET_B = "whsec_" + base64.b64encode(b"secret-b" * 4).decode()
MSG_ID = "msg_01JABCDEFGHJKMNPQRSTVWXYZ0"
BODY = '{"amount":"12.50","note":"café"}'.encode()


def headers_for(secrets: tuple[str, ...], timestamp_s: int, **app_headers: str) -> dict[str, str]:
    built = build_headers(
        message_id=MSG_ID,
        timestamp_s=timestamp_s,
        body=BODY,
        secrets=secrets,
        app_headers=app_headers,
        scheduled_at="2026-12-01T10:00:00.000Z",
        attempt=2,
        user_agent="point-in-time-scheduler/1.2.3",
    )
    assert len(built) == len({k.lower() for k in built})  # no duplicate names
    return {k.lower(): v for k, v in built.items()}


def now_s() -> int:
    return int(datetime.now(tz=UTC).timestamp())


def test_sign_matches_the_library() -> None:
    timestamp = 1_700_000_000
    expected = Webhook(SECRET_A).sign(MSG_ID, datetime.fromtimestamp(timestamp, tz=UTC), BODY.decode())
    assert sign(MSG_ID, timestamp, BODY, [SECRET_A]) == expected


def test_two_secrets_give_two_space_separated_signatures() -> None:
    signature = sign(MSG_ID, 1_700_000_000, BODY, [SECRET_A, SECRET_B])
    first, second = signature.split(" ")
    assert first == sign(MSG_ID, 1_700_000_000, BODY, [SECRET_A])
    assert second == sign(MSG_ID, 1_700_000_000, BODY, [SECRET_B])


@pytest.mark.parametrize("secrets", [(SECRET_A,), (SECRET_A, SECRET_B), (SECRET_B, SECRET_A)])
def test_receivers_verify_with_any_current_secret(secrets: tuple[str, ...]) -> None:
    headers = headers_for(secrets, now_s())
    for secret in secrets:
        assert Webhook(secret).verify(BODY, headers)["note"] == "café"


def test_tampered_body_fails_verification() -> None:
    headers = headers_for((SECRET_A,), now_s())
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_A).verify(BODY.replace(b"12.50", b"99.99"), headers)


def test_headers() -> None:
    headers = headers_for((SECRET_A,), 1_700_000_123, **{"X-Tenant": "t1", "Authorization": "Bearer x"})
    assert headers == {
        "content-type": "application/json",
        "accept-encoding": "identity",
        "x-tenant": "t1",
        "authorization": "Bearer x",
        "user-agent": "point-in-time-scheduler/1.2.3",
        "webhook-id": MSG_ID,
        "webhook-timestamp": "1700000123",
        "webhook-signature": sign(MSG_ID, 1_700_000_123, BODY, [SECRET_A]),
        "scheduler-scheduled-at": "2026-12-01T10:00:00.000Z",
        "scheduler-attempt": "2",
    }


def test_app_headers_cannot_forge_ours_or_break_framing() -> None:
    forged = {
        "Webhook-Id": "msg_forged",
        "webhook-signature": "v1,forged",
        "Scheduler-Attempt": "99",
        "Host": "evil.example",
        "Content-Length": "1",
        "Transfer-Encoding": "chunked",
        "Connection": "close",
        "User-Agent": "spoofed",
    }
    headers = headers_for((SECRET_A,), 1_700_000_000, **forged)
    assert headers["webhook-id"] == MSG_ID
    assert headers["scheduler-attempt"] == "2"
    assert headers["user-agent"] == "point-in-time-scheduler/1.2.3"
    assert not {"host", "content-length", "transfer-encoding", "connection"} & headers.keys()


def test_app_headers_never_replace_the_delivery_own_even_if_stored() -> None:
    """Defence in depth: a stored app row with headers the API now refuses (written before the rules)
    changes nothing of ours, and a value with a control character is dropped instead of failing the attempt."""
    stored = {
        "Content-Type": "text/evil",
        "content-encoding": "gzip",
        "Expect": "100-continue",
        "Proxy-Authorization": "x",
        "X-Bad": "a\r\nX-Injected: 1",
        "X-Good": "kept",
    }
    headers = headers_for((SECRET_A,), 1_700_000_000, **stored)
    assert headers["content-type"] == "application/json"
    assert not {"content-encoding", "expect", "proxy-authorization", "x-bad", "x-injected"} & headers.keys()
    assert headers["x-good"] == "kept"


def test_webhook_objects_are_cached_per_secret() -> None:
    signing._webhook.cache_clear()
    for _ in range(50):
        sign(MSG_ID, 1_700_000_000, BODY, [SECRET_A, SECRET_B])
    info = signing._webhook.cache_info()
    assert (info.misses, info.hits) == (2, 98)


@pytest.mark.parametrize(
    ("body", "secrets"),
    [(b"\xff\xfe", (SECRET_A,)), (BODY, ()), (BODY, ("whsec_not base64!",))],
    ids=["non-utf8-body", "no-secret", "bad-secret"],
)
def test_bad_input_raises_value_error(body: bytes, secrets: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        sign(MSG_ID, 1_700_000_000, body, secrets)
