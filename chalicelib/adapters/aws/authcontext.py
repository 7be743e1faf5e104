"""The authorizer context: what the authorizer hands the routes through `requestContext.authorizer`.

API Gateway passes only flat string values, so the principal travels as
`{"tenantId", "plan", "scopes" (space-separated), "keyId", "operator" ("true"/"false")}` plus the
`principalId` API Gateway adds. Pure: used by the authorizer Lambda and by `api.auth` on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.errors import Unauthenticated
from chalicelib.domain.model import Principal, Scope


def context_of(principal: Principal) -> dict[str, str]:
    """The authorizer context for a tenant's principal."""
    return {
        "tenantId": principal.tenant_id,
        "plan": principal.plan,
        "scopes": " ".join(sorted(principal.scopes)),
        "keyId": principal.key_id or "",
        "operator": "false",
    }


def operator_context() -> dict[str, str]:
    """The authorizer context for the operator key (no tenant)."""
    return {"tenantId": "", "plan": "", "scopes": "", "keyId": "", "operator": "true"}


def principal_from(context: Mapping[str, Any] | None) -> Principal:
    """The principal an authorizer context carries; anything else is `Unauthenticated`."""
    if not context or not context.get("tenantId"):
        raise Unauthenticated("send Authorization: Bearer <api key or token>")
    try:
        scopes = frozenset(Scope(name) for name in str(context.get("scopes", "")).split())
    except ValueError as exc:
        raise Unauthenticated("the authorizer context is malformed") from exc
    return Principal(
        tenant_id=str(context["tenantId"]),
        plan=str(context.get("plan", "")),
        scopes=scopes,
        key_id=str(context.get("keyId") or "") or None,
    )


def is_operator(context: Mapping[str, Any] | None) -> bool:
    """Whether the authorizer recognised the operator key."""
    return bool(context) and str(context.get("operator", "")).lower() == "true"  # type: ignore[union-attr]
