"""Apps: the delivery targets of a tenant (`read` to look, `admin` to change)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import present
from chalicelib.api.auth import Call, Guard
from chalicelib.api.request import json_body, limit_param, params, text_param
from chalicelib.domain.model import Scope
from chalicelib.domain.schemas import AppCreate, AppPatch
from chalicelib.services import apps
from chalicelib.services.validation import validate

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/apps", methods=["POST"])
@guard.secured(Scope.ADMIN)
def create_app(call: Call) -> Response:
    """A new app; its signing secret is shown here and on rotate only."""
    body = validate(AppCreate, json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes))
    created = apps.create_app(call.ctx, call.principal, body)
    return present.response(present.app(created, with_secret=True), 201)


@bp.route("/apps", methods=["GET"])
@guard.secured(Scope.READ)
def list_apps(call: Call) -> Response:
    """The tenant's apps, by id."""
    query = params(call.request)
    page = apps.list_apps(call.ctx, call.principal, cursor=text_param(query, "cursor"), limit=limit_param(query))
    return present.response(present.page(page, present.app))


@bp.route("/apps/{appId}", methods=["GET"])
@guard.secured(Scope.READ)
def get_app(call: Call, appId: str) -> Response:
    """One app, without secrets."""
    return present.response(present.app(apps.get_app(call.ctx, call.principal, appId)))


@bp.route("/apps/{appId}", methods=["PATCH"])
@guard.secured(Scope.ADMIN)
def update_app(call: Call, appId: str) -> Response:
    """Change name, url, headers (replaced as a whole) or retry defaults."""
    body = validate(AppPatch, json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes))
    return present.response(present.app(apps.update_app(call.ctx, call.principal, appId, body)))


@bp.route("/apps/{appId}", methods=["DELETE"])
@guard.secured(Scope.ADMIN)
def delete_app(call: Call, appId: str) -> Response:
    """Delete an app; its pending messages are cancelled and nothing of it is delivered afterwards."""
    apps.delete_app(call.ctx, call.principal, appId)
    return present.response({})


@bp.route("/apps/{appId}/rotate-secret", methods=["POST"])
@guard.secured(Scope.ADMIN)
def rotate_secret(call: Call, appId: str) -> Response:
    """A new signing secret (in this response); the old one keeps signing for 24 h."""
    return present.response(present.app(apps.rotate_secret(call.ctx, call.principal, appId), with_secret=True))
