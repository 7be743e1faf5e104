"""Domain values ⇄ DynamoDB items (plain values; `dynamo.to_item` makes them wire items).

The message item carries the index keys that make it appear in the `messages` GSIs:
`sendKey` always, `problemKey` while failed or cancelled, `wakeShard`/`wakeAt` while scheduled or
delivering, `expiresAt` (TTL) once finished. See `tables` and docs/aws-design.md.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from chalicelib.adapters.aws.dynamo import Item
from chalicelib.adapters.aws.sealing import Sealed
from chalicelib.domain.model import FINISHED, App, Attempt, FailureReason, Message, SigningSecret, Status
from chalicelib.domain.policy import RetryPolicy

MESSAGE_SK = "m"
PAYLOAD_SK = "p"
ATTEMPT_PREFIX = "a#"
WAKE_SHARDS = 16
USAGE_SHARDS = 8
# A tenant's list indexes (by-send, by-feed) are spread over this many partition keys, so one tenant
# writes up to 8 x 1,000 WRU/s to each; lists query every shard and merge them in sort-key order.
LIST_SHARDS = 8
DAY_S = 86_400
PROBLEM_STATUSES = frozenset({Status.FAILED, Status.CANCELLED})


def shard_of(text: str, shards: int) -> int:
    """A stable shard number for `text` (CRC-32, the same in every process)."""
    return zlib.crc32(text.encode()) % shards


def send_key(send_at: int, message_id: str) -> str:
    """Sort key of the list indexes: sendAt (15 digits, zero-padded) then id."""
    return f"{send_at:015d}#{message_id}"


def list_shard(tenant_id: str, message_id: str) -> str:
    """Partition key of a message (and its attempts) in the tenant's list indexes: `<tenant>#<n>`."""
    return f"{tenant_id}#{shard_of(message_id, LIST_SHARDS)}"


def list_shards(tenant_id: str) -> list[str]:
    """Every list-index partition key of a tenant."""
    return [f"{tenant_id}#{n}" for n in range(LIST_SHARDS)]


def wake_shard(message_id: str) -> str:
    """Partition of the wake index a message falls in."""
    return f"w{shard_of(message_id, WAKE_SHARDS):02d}"


def message_item(message: Message, *, wake_at: int | None, now_ms: int, retention_s: int) -> Item:
    """The full message item for a state; `wake_at` is the wake index key while scheduled or delivering."""
    item: Item = {
        "pk": message.id,
        "sk": MESSAGE_SK,
        "tenantId": message.tenant_id,
        "appId": message.app_id,
        "status": message.status.value,
        "sendAt": message.send_at,
        "dueAt": message.due_at,
        "createdAt": message.created_at,
        "changedAt": now_ms,  # the day a stream record of this write is metered on (adapters.aws.meter)
        "maxAttempts": message.max_attempts,
        "gen": message.gen,
        "attempts": message.attempts,
        "attemptsBase": message.attempts_base,
        "notAfter": message.not_after,
        "firstAttemptAt": message.first_attempt_at,
        "deliveredAt": message.delivered_at,
        "failureReason": None if message.failure_reason is None else message.failure_reason.value,
        "idemKey": message.idempotency_key,
        "scheduleId": message.schedule_id,
        "sendKey": send_key(message.send_at, message.id),
        "sendShard": list_shard(message.tenant_id, message.id),
    }
    if message.status in PROBLEM_STATUSES:
        item["problemKey"] = f"{message.tenant_id}#{message.status.value}"
    if message.status in FINISHED:
        item["finishedAt"] = now_ms
        item["expiresAt"] = now_ms // 1000 + retention_s
    elif wake_at is not None:
        item["wakeShard"] = wake_shard(message.id)
        item["wakeAt"] = wake_at
    return {name: value for name, value in item.items() if value is not None}


def message_from(item: Item) -> Message:
    """A `Message` from a message item."""
    reason = item.get("failureReason")
    return Message(
        id=item["pk"],
        tenant_id=item["tenantId"],
        app_id=item["appId"],
        status=Status(item["status"]),
        send_at=int(item["sendAt"]),
        due_at=int(item["dueAt"]),
        created_at=int(item["createdAt"]),
        max_attempts=int(item["maxAttempts"]),
        gen=int(item["gen"]),
        attempts=int(item["attempts"]),
        attempts_base=int(item["attemptsBase"]),
        not_after=item.get("notAfter"),
        first_attempt_at=item.get("firstAttemptAt"),
        delivered_at=item.get("deliveredAt"),
        failure_reason=None if reason is None else FailureReason(reason),
        idempotency_key=item.get("idemKey"),
        schedule_id=item.get("scheduleId"),
    )


def payload_expiry_s(message: Message, retention_s: int) -> int:
    """TTL of a payload item, set when written so finishing a message never rewrites a large payload:
    after sendAt, room for every attempt (each retry waits at most 24 h) plus the retention period."""
    return message.send_at // 1000 + (message.max_attempts + 1) * DAY_S + retention_s


def payload_item(message: Message, body: str, retention_s: int) -> Item:
    """The payload item of a message."""
    return {
        "pk": message.id,
        "sk": PAYLOAD_SK,
        "tenantId": message.tenant_id,
        "body": body,
        "expiresAt": payload_expiry_s(message, retention_s),
    }


def attempt_sk(n: int) -> str:
    """Sort key of attempt `n` of a message."""
    return f"{ATTEMPT_PREFIX}{n:05d}"


def attempt_item(attempt: Attempt, *, recorded_at: int, retention_s: int) -> Item:
    """The item of one attempt; `feedKey` orders the tenant's attempt feed by recording time."""
    item: Item = {
        "pk": attempt.message_id,
        "sk": attempt_sk(attempt.n),
        "tenantId": attempt.tenant_id,
        "appId": attempt.app_id,
        "n": attempt.n,
        "startedAt": attempt.started_at,
        "durationMs": attempt.duration_ms,
        "statusCode": attempt.status_code,
        "error": attempt.error,
        "snippet": attempt.response_snippet,
        "feedKey": f"{recorded_at:015d}#{attempt.message_id}#{attempt.n:05d}",
        "feedShard": list_shard(attempt.tenant_id, attempt.message_id),
        "expiresAt": attempt.started_at // 1000 + retention_s,
    }
    return {name: value for name, value in item.items() if value is not None}


def recorded_at(item: Item) -> int:
    """When an attempt item was recorded (the time `feedKey` starts with)."""
    return int(str(item["feedKey"])[:15])


def attempt_from(item: Item) -> Attempt:
    """An `Attempt` from an attempt item."""
    return Attempt(
        message_id=item["pk"],
        tenant_id=item["tenantId"],
        app_id=item["appId"],
        n=int(item["n"]),
        started_at=int(item["startedAt"]),
        duration_ms=int(item["durationMs"]),
        status_code=item.get("statusCode"),
        error=item.get("error"),
        response_snippet=item.get("snippet", ""),
    )


def app_item(app: App, sealed_headers: list[str], sealed_secrets: list[str]) -> Item:
    """The app item; header values and secrets are already sealed (names and expiries stay clear)."""
    return {
        "tenantId": app.tenant_id,
        "id": app.id,
        "name": app.name,
        "url": app.url,
        "maxAttempts": app.max_attempts,
        "createdAt": app.created_at,
        **({"retryPolicy": json.dumps(policy)} if (policy := app.retry.as_dict()) else {}),
        "headers": [[name, value] for name, value in zip(app.headers, sealed_headers, strict=True)],
        "secrets": [
            {"v": value, **({"x": s.expires_at} if s.expires_at is not None else {})}
            for s, value in zip(app.secrets, sealed_secrets, strict=True)
        ],
    }


def app_from(item: Item, opened: tuple[list[str], list[str]] | None = None) -> App:
    """An `App` from its item: values `Sealed` as stored, or the clear `opened` (headers, secrets)."""
    pairs: list[Any] = item.get("headers", [])
    secrets: list[Any] = item.get("secrets", [])
    header_values: list[str] = [Sealed(value) for _, value in pairs]
    secret_values: list[str] = [Sealed(entry["v"]) for entry in secrets]
    if opened is not None:
        header_values, secret_values = opened
    return App(
        id=item["id"],
        tenant_id=item["tenantId"],
        name=item["name"],
        url=item["url"],
        headers={name: value for (name, _), value in zip(pairs, header_values, strict=True)},
        retry=RetryPolicy.from_dict(
            json.loads(item["retryPolicy"]) if item.get("retryPolicy") else None, max_attempts=int(item["maxAttempts"])
        ),
        secrets=tuple(
            SigningSecret(value, entry.get("x")) for entry, value in zip(secrets, secret_values, strict=True)
        ),
        created_at=int(item["createdAt"]),
    )


def sealed_values(item: Item) -> tuple[list[str], list[str]]:
    """The stored (sealed) header values and secrets of an app item."""
    return [value for _, value in item.get("headers", [])], [entry["v"] for entry in item.get("secrets", [])]
