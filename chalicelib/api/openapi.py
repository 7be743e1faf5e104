"""`/openapi.json`: an OpenAPI 3.1 document built from the models that validate requests.

The schemas come from `domain.schemas` (request models in validation mode, response models in
serialization mode); the operations come from `OPERATIONS`, which a functional test keeps equal to
the app's real routes. The document is built on first use and cached, text included.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.domain import schedule_schemas as r
from chalicelib.domain import schemas as s
from chalicelib.domain.model import Status

Auth = Literal["none", "operator", "admin", "send", "read"]
Shape = Literal["one", "list", "feed", "items", "days", "batch", "empty", "health"]
_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    """One route as documented."""

    method: str
    path: str
    operation_id: str
    summary: str
    auth: Auth
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    result: type[BaseModel] | None = None
    shape: Shape = "one"
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()


def _op(route: str, auth: Auth, operation_id: str, summary: str, **details: Any) -> Operation:
    method, path = route.split(" ", 1)
    return Operation(method, path, operation_id, summary, auth, **details)


_LIST = ("limit", "cursor")
OPERATIONS: tuple[Operation, ...] = (
    _op("GET /health", "none", "health", "Liveness", shape="health"),
    _op("GET /openapi.json", "none", "openapi", "This document", shape="empty"),
    _op("POST /tenants", "operator", "createTenant", "Create a tenant and its admin key", status=201,
        body=s.TenantCreate, result=s.TenantOut),
    _op("GET /tenants", "operator", "listTenants", "List tenants", result=s.TenantOut, shape="list", query=_LIST),
    _op("POST /apps", "admin", "createApp", "Create an app (with its signing secret)", status=201,
        body=s.AppCreate, result=s.AppOut),
    _op("GET /apps", "read", "listApps", "List apps", result=s.AppOut, shape="list", query=_LIST),
    _op("GET /apps/{appId}", "read", "getApp", "One app", result=s.AppOut),
    _op("PATCH /apps/{appId}", "admin", "updateApp", "Change an app", body=s.AppPatch, result=s.AppOut),
    _op("DELETE /apps/{appId}", "admin", "deleteApp", "Delete an app, cancelling its messages", shape="empty"),
    _op("POST /apps/{appId}/rotate-secret", "admin", "rotateSecret", "New signing secret", result=s.AppOut),
    _op("POST /keys", "admin", "createKey", "Create an API key", status=201, body=s.KeyCreate, result=s.KeyOut),
    _op("GET /keys", "admin", "listKeys", "List API keys", result=s.KeyOut, shape="items"),
    _op("DELETE /keys/{keyId}", "admin", "revokeKey", "Revoke an API key", shape="empty"),
    _op("GET /me", "read", "whoAmI", "The calling token's tenant, scopes and plan limits", result=s.CallerOut),
    _op("POST /messages", "send", "createMessage", "Schedule a message", status=201, body=s.MessageCreate,
        result=s.MessageOut, headers=("Idempotency-Key",), errors=(409, 413)),
    _op("POST /messages/batch", "send", "createMessages", "Schedule 1-100 messages", body=s.MessageBatch,
        result=s.MessageOut, shape="batch", errors=(413,)),
    _op("GET /messages", "read", "listMessages", "List messages by sendAt, then id", result=s.MessageOut,
        shape="list", query=("appId", "status", "sendAfter", "sendBefore", "scheduleId", *_LIST)),
    _op("GET /messages/{id}", "read", "getMessage", "One message, with its payload", result=s.MessageOut),
    _op("PATCH /messages/{id}", "send", "changeMessage", "Change sendAt or delaySeconds, and payload",
        body=s.MessagePatch,
        result=s.MessageOut, headers=("If-Match",), errors=(409, 413, 428)),
    _op("DELETE /messages/{id}", "send", "cancelMessage", "Cancel a message", result=s.MessageOut, errors=(409,)),
    _op("POST /messages/{id}/redrive", "send", "redriveMessage", "Schedule a message again", body=s.Redrive,
        body_required=False, result=s.MessageOut, errors=(409,)),
    _op("GET /messages/{id}/attempts", "read", "listAttempts", "A message's attempts", result=s.AttemptOut,
        shape="items"),
    _op("GET /attempts", "read", "recentAttempts", "Recent attempts (what tail follows)", result=s.AttemptOut,
        shape="feed", query=("appId", "after", "limit")),
    _op("GET /usage", "read", "getUsage", "Counters per UTC day", result=s.UsageOut, shape="days",
        query=("from", "to")),
    # recurring schedules: each run is a message (GET /messages?scheduleId=)
    _op("POST /schedules", "send", "createSchedule", "Create a recurring schedule (cron or every, in a time zone)",
        status=201, body=r.ScheduleCreate, result=r.ScheduleOut, errors=(413,)),
    _op("GET /schedules", "read", "listSchedules", "List recurring schedules by id", result=r.ScheduleOut,
        shape="list", query=_LIST),
    _op("GET /schedules/{id}", "read", "getSchedule", "One recurring schedule, with its payload",
        result=r.ScheduleOut),
    _op("PATCH /schedules/{id}", "send", "changeSchedule", "Change a recurring schedule", body=r.SchedulePatch,
        result=r.ScheduleOut, headers=("If-Match",), errors=(409, 413, 428)),
    _op("DELETE /schedules/{id}", "send", "deleteSchedule", "Delete a recurring schedule", shape="empty"),
    _op("POST /schedules/{id}/pause", "send", "pauseSchedule", "Pause: no runs until resumed",
        result=r.ScheduleOut),
    _op("POST /schedules/{id}/resume", "send", "resumeSchedule", "Resume from the next run time after now",
        result=r.ScheduleOut),
)  # fmt: skip

_QUERY: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    "cursor": {"type": "string", "description": "nextCursor of the previous page"},
    "after": {
        "type": "string",
        "description": "nextCursor or resumeCursor of an earlier page, or `latest` to start after the newest attempt",
    },
    "appId": {"type": "string"},
    "status": {"type": "string", "enum": [status.value for status in Status]},
    "sendAfter": {"type": "string", "format": "date-time", "description": "sendAt at or after (inclusive)"},
    "sendBefore": {"type": "string", "format": "date-time", "description": "sendAt at or before (inclusive)"},
    "scheduleId": {"type": "string", "description": "only the runs of this recurring schedule"},
    "from": {
        "type": "string",
        "format": "date",
        "description": "first day (default: 29 days before `to`, listing only days with activity)",
    },
    "to": {"type": "string", "format": "date", "description": "last day (default: today, UTC)"},
}
_HEADERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "in": "header",
        "name": "Idempotency-Key",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "same as the body's idempotencyKey; kept 24 h per tenant",
    },
    "If-Match": {
        "in": "header",
        "name": "If-Match",
        "required": True,
        "schema": {"type": "string"},
        "description": "the current etag (of the message or schedule), or *; otherwise 409 (428 without the header)",
    },
}
_ERRORS = {
    400: "Invalid input",
    401: "Missing, unknown or revoked key",
    403: "The key lacks the scope",
    404: "Not found (or another tenant's)",
    409: "Conflict (state, etag or idempotency key)",
    413: "Payload or body too large",
    428: "If-Match is required",
    429: "Rate or quota exceeded (see Retry-After)",
    503: "Storage unavailable (see Retry-After)",
}
_REQUEST_MODELS = (
    s.TenantCreate,
    s.KeyCreate,
    s.AppCreate,
    s.AppPatch,
    s.MessageCreate,
    s.MessageBatch,
    s.MessagePatch,
    s.Redrive,
    r.ScheduleCreate,
    r.SchedulePatch,
)
_RESPONSE_MODELS = (
    s.TenantOut,
    s.KeyOut,
    s.CallerOut,
    s.AppOut,
    s.MessageOut,
    s.AttemptOut,
    s.UsageOut,
    s.PlanOut,
    s.ErrorResponse,
    r.ScheduleOut,
)


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once; do not mutate)."""
    keys = [(m, "validation") for m in _REQUEST_MODELS] + [(m, "serialization") for m in _RESPONSE_MODELS]
    refs, defs = models_json_schema(keys, ref_template=_REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = defs.get("$defs", {})
    batch = schemas[_name(refs[(s.MessageBatch, "validation")])]
    batch["properties"]["messages"]["items"] = refs[(s.MessageCreate, "validation")]

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, ref)
    responses = {
        f"E{code}": {"description": text, "content": _json(ref(s.ErrorResponse, "serialization"))}
        for code, text in _ERRORS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Point-in-time webhook scheduler",
            "version": "1.0.0",
            "description": "Deliver a message to an HTTP endpoint at a point in time.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key (sk_...)"},
                "operatorKey": {"type": "http", "scheme": "bearer", "description": "SCHEDULER_OPERATOR_KEY"},
            },
        },
    }


@functools.cache
def document_json() -> str:
    """The document as JSON text, serialized once."""
    return json.dumps(document(), separators=(",", ":"))


def _name(ref: Any) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[1]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation, ref: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
    if op.auth == "none":
        out["security"] = []
    elif op.auth == "operator":
        out["security"] = [{"operatorKey": []}]
    else:
        out["security"] = [{"apiKey": []}]
        out["description"] = f"Needs the `{op.auth}` scope (`admin` implies every scope)."
    parameters = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    parameters += [{"in": "query", "name": name, "required": False, "schema": _QUERY[name]} for name in op.query]
    parameters += [_HEADERS[name] for name in op.headers]
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required, "content": _json(ref(op.body, "validation"))}
    out["responses"] = {str(op.status): {"description": "OK", "content": _json(_result(op, ref))}}
    if op.status == 201 and op.path == "/messages":
        out["responses"]["200"] = {"description": "replayed by its idempotency key", "content": _json(_result(op, ref))}
    for code in _error_codes(op):
        out["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
    return out


def _result(op: Operation, ref: Any) -> dict[str, Any]:
    if op.shape == "health":
        return {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
    if op.shape == "empty" or op.result is None:
        return {"type": "object"}
    one = ref(op.result, "serialization")
    if op.shape == "one":
        return one
    if op.shape == "batch":
        item: dict[str, Any] = {"oneOf": [one, ref(s.ErrorResponse, "serialization")]}
        return {"type": "object", "properties": {"items": {"type": "array", "items": item}}, "required": ["items"]}
    listing: dict[str, Any] = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": one}},
        "required": ["items"],
    }
    if op.shape == "days":  # the one list without a cursor: the period it covers and the plan instead
        day = {"type": "string", "format": "date"}
        in_use = {"type": ["integer", "null"], "description": "recurring schedules the tenant has"}
        listing["properties"] |= {"from": day, "to": day, "plan": ref(s.PlanOut, "serialization"), "schedules": in_use}
        listing["required"] += ["from", "to", "plan"]
    else:
        listing["properties"]["nextCursor"] = {"type": ["string", "null"]}
        listing["required"].append("nextCursor")
    if op.shape == "feed":
        listing["properties"]["resumeCursor"] = {"type": "string", "description": "poll from here once caught up"}
        listing["required"].append("resumeCursor")
    return listing


def _error_codes(op: Operation) -> tuple[int, ...]:
    if op.auth == "none":
        return ()
    if op.auth == "operator":
        return tuple(sorted({400, 401, 404}))
    base = {400, 401, 403, 404, 429, 503} | set(op.errors)
    if op.method == "GET":
        base.discard(413)
    return tuple(sorted(base))
