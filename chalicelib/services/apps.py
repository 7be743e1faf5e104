"""Apps: the delivery targets of a tenant, their headers and signing secrets."""

from __future__ import annotations

import dataclasses

from chalicelib.domain import ids
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.headers import is_masked_form
from chalicelib.domain.limits import app_limit_reached, check_app_headers
from chalicelib.domain.model import App, Page, Principal, SigningSecret
from chalicelib.domain.schemas import AppCreate, AppPatch
from chalicelib.services.context import Context

ROTATION_OVERLAP_MS = 24 * 3_600_000
CANCEL_CHUNK = 5_000
MAX_LIVE_SECRETS = 4


def create_app(ctx: Context, principal: Principal, body: AppCreate) -> App:
    """A new app with a fresh signing secret, within the plan's caps on apps and headers."""
    plan = ctx.settings.plan(principal.plan)
    check_app_headers(plan, body.headers)
    app = App(
        id=ids.new_id(ids.APP_PREFIX),
        tenant_id=principal.tenant_id,
        name=body.name,
        url=body.url,
        headers=dict(body.headers),
        retry=body.retry.policy(),
        secrets=(SigningSecret(ids.new_signing_secret()),),
        created_at=ctx.clock.now_ms(),
    )
    if not ctx.apps.create_app(app, max_apps=plan.max_apps):
        raise app_limit_reached(plan, plan.max_apps or 0)
    return app


def get_app(ctx: Context, principal: Principal, app_id: str) -> App:
    """One app of the caller's tenant, else `NotFound`."""
    app = ctx.apps.get_app(principal.tenant_id, app_id)
    if app is None:
        raise NotFound(f"no app {app_id}")
    return app


def list_apps(ctx: Context, principal: Principal, *, cursor: str | None, limit: int) -> Page[App]:
    """The tenant's apps."""
    return ctx.apps.list_apps(principal.tenant_id, cursor=cursor, limit=limit)


def update_app(ctx: Context, principal: Principal, app_id: str, body: AppPatch) -> App:
    """Change name, url, headers (replaced as a whole) or retry defaults."""
    app = get_app(ctx, principal, app_id)
    if not body.model_fields_set:
        raise InvalidInput("nothing to change: give name, url, headers or retry")
    changes: dict[str, object] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.url is not None and not is_masked_form(body.url, app.url):
        changes["url"] = body.url  # the masked form responses show means "keep the stored URL"
    if body.headers is not None:
        check_app_headers(ctx.settings.plan(principal.plan), body.headers)
        changes["headers"] = dict(body.headers)
    if body.retry is not None:
        changes["retry"] = body.retry.policy(app.retry)
    updated = dataclasses.replace(app, **changes)  # type: ignore[arg-type]
    ctx.apps.put_app(updated)
    return updated


def rotate_secret(ctx: Context, principal: Principal, app_id: str) -> App:
    """A new current secret; the previous one keeps signing (both signatures sent) for 24 h, and older
    rotated-out secrets keep their own 24 h (at most `MAX_LIVE_SECRETS` signatures in all)."""
    app = get_app(ctx, principal, app_id)
    now = ctx.clock.now_ms()
    previous = SigningSecret(app.secrets[0].value, expires_at=now + ROTATION_OVERLAP_MS)
    older = [s for s in app.secrets[1:] if s.expires_at is not None and s.expires_at > now]
    kept = (SigningSecret(ids.new_signing_secret()), previous, *older)[:MAX_LIVE_SECRETS]
    rotated = dataclasses.replace(app, secrets=kept)
    ctx.apps.put_app(rotated)
    return rotated


def delete_app(ctx: Context, principal: Principal, app_id: str) -> None:
    """Delete an app: stop its in-flight attempts and cancel its pending messages."""
    if not ctx.apps.delete_app(principal.tenant_id, app_id):
        raise NotFound(f"no app {app_id}")
    ctx.timer.app_deleted(principal.tenant_id, app_id)
    cancel_pending_of_app(ctx, principal.tenant_id, app_id)


def cancel_pending_of_app(ctx: Context, tenant_id: str, app_id: str) -> int:
    """Cancel (reason `app_deleted`) every scheduled message of a deleted app, in chunks; returns how many.
    One claimed meanwhile is not lost: the delivery side finds its app gone and ends it `app_deleted`."""
    cancelled = 0
    while chunk := ctx.messages.cancel_scheduled_of_app(tenant_id, app_id, limit=CANCEL_CHUNK):
        cancelled += chunk
    return cancelled
