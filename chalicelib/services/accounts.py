"""Tenants, API keys and authentication."""

from __future__ import annotations

import enum

from chalicelib.domain import ids
from chalicelib.domain.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from chalicelib.domain.limits import key_limit_reached
from chalicelib.domain.model import ApiKey, Page, Principal, Scope, Tenant
from chalicelib.domain.schemas import KeyCreate, TenantCreate
from chalicelib.services.context import Context

DEFAULT_TENANT = "default"
BOOTSTRAP_KEY_ID = "key_default_admin"


def authenticate(ctx: Context, token: str | None) -> Principal:
    """The principal of a bearer token; unknown or revoked tokens are `Unauthenticated`."""
    if not token:
        raise Unauthenticated("send Authorization: Bearer <api key>")
    key = ctx.keys.find_key(ids.hash_token(token))
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("unknown or revoked API key")
    tenant = ctx.tenants.get_tenant(key.tenant_id)
    if tenant is None:
        raise Unauthenticated("unknown or revoked API key")
    return Principal(tenant_id=tenant.id, plan=tenant.plan, scopes=key.scopes, key_id=key.id)


def require(principal: Principal, scope: Scope) -> None:
    """`Forbidden` unless the principal carries `scope`."""
    if not principal.allows(scope):
        raise Forbidden(f"this API key lacks the {scope} scope")


def create_tenant(ctx: Context, body: TenantCreate) -> tuple[Tenant, str]:
    """A new tenant with an admin key; returns the tenant and the key's token (shown once)."""
    plan = body.plan or ctx.settings.default_plan
    if plan not in ctx.settings.plans:
        raise InvalidInput(f"unknown plan {plan!r}; known: {', '.join(sorted(ctx.settings.plans))}", field="plan")
    now = ctx.clock.now_ms()
    tenant = Tenant(id=ids.new_id(ids.TENANT_PREFIX), name=body.name, plan=plan, created_at=now)
    ctx.tenants.put_tenant(tenant)
    token = ids.new_api_key()
    ctx.keys.put_key(_key(tenant.id, "admin", frozenset({Scope.ADMIN}), token, now))
    return tenant, token


def list_tenants(ctx: Context, *, cursor: str | None, limit: int) -> Page[Tenant]:
    """All tenants (operator only)."""
    return ctx.tenants.list_tenants(cursor=cursor, limit=limit)


def create_key(ctx: Context, principal: Principal, body: KeyCreate) -> tuple[ApiKey, str]:
    """A new key of the caller's tenant; returns the key and its token (shown once)."""
    token = ids.new_api_key()
    scopes = frozenset(Scope(name) for name in body.scopes)
    key = _key(principal.tenant_id, body.name, scopes, token, ctx.clock.now_ms())
    plan = ctx.settings.plan(principal.plan)
    if not ctx.keys.create_key(key, max_keys=plan.max_api_keys):
        raise key_limit_reached(plan, plan.max_api_keys or 0)
    return key, token


def list_keys(ctx: Context, principal: Principal) -> list[ApiKey]:
    """The tenant's live keys (never the tokens)."""
    return [key for key in ctx.keys.list_keys(principal.tenant_id) if key.revoked_at is None]


def revoke_key(ctx: Context, principal: Principal, key_id: str) -> None:
    """Revoke a key of the caller's tenant; it stops working at once."""
    if not ctx.keys.revoke_key(principal.tenant_id, key_id, ctx.clock.now_ms()):
        raise NotFound(f"no key {key_id}")


class Bootstrap(enum.Enum):
    """What `ensure_default_tenant` did with the configured admin key."""

    CREATED = "created"
    KEPT = "kept"
    ROTATED = "rotated"  # the live bootstrap key now has the configured token; the old one stops
    REVOKED = "revoked"  # it was revoked once: revocation is permanent, the token is not applied


def bootstrap_key(ctx: Context) -> ApiKey | None:
    """The bootstrap admin key of tenant `default`, live or revoked, if it was ever created."""
    return next((key for key in ctx.keys.list_keys(DEFAULT_TENANT) if key.id == BOOTSTRAP_KEY_ID), None)


def ensure_default_tenant(ctx: Context, admin_token: str) -> Bootstrap:
    """Make sure the local tenant `default` (plan `unlimited`) exists, and create its bootstrap admin key
    unless a key of that id was ever created. A revoked bootstrap key stays revoked (the stored key is
    its tombstone: keys are never deleted); a live one takes a changed token (rotation by configuration)."""
    now = ctx.clock.now_ms()
    if ctx.tenants.get_tenant(DEFAULT_TENANT) is None:
        ctx.tenants.put_tenant(Tenant(DEFAULT_TENANT, "default", "unlimited", now))
    existing = bootstrap_key(ctx)
    if existing is not None and existing.revoked_at is not None:
        return Bootstrap.REVOKED
    token_hash = ids.hash_token(admin_token)
    if existing is not None and existing.token_hash == token_hash:
        return Bootstrap.KEPT
    created_at = now if existing is None else existing.created_at
    scopes = frozenset({Scope.ADMIN})
    ctx.keys.put_key(ApiKey(BOOTSTRAP_KEY_ID, DEFAULT_TENANT, "bootstrap admin", scopes, token_hash, created_at))
    return Bootstrap.CREATED if existing is None else Bootstrap.ROTATED


def _key(tenant_id: str, name: str, scopes: frozenset[Scope], token: str, now: int) -> ApiKey:
    return ApiKey(
        id=ids.new_id(ids.KEY_PREFIX),
        tenant_id=tenant_id,
        name=name,
        scopes=scopes,
        token_hash=ids.hash_token(token),
        created_at=now,
    )
