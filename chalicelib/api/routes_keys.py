"""API keys of the caller's tenant (`admin` scope), and `GET /me`: what the calling token may do."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import present
from chalicelib.api.auth import Call, Guard
from chalicelib.api.request import json_body
from chalicelib.domain.model import Scope
from chalicelib.domain.schemas import KeyCreate
from chalicelib.services import accounts
from chalicelib.services.validation import validate

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/keys", methods=["POST"])
@guard.secured(Scope.ADMIN)
def create_key(call: Call) -> Response:
    """A new key; its token is in this response only."""
    body = validate(KeyCreate, json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes))
    key, token = accounts.create_key(call.ctx, call.principal, body)
    return present.response(present.key(key, token=token), 201)


@bp.route("/keys", methods=["GET"])
@guard.secured(Scope.ADMIN)
def list_keys(call: Call) -> Response:
    """The tenant's live keys, oldest first (never the tokens)."""
    return present.response(present.items(accounts.list_keys(call.ctx, call.principal), present.key))


@bp.route("/keys/{keyId}", methods=["DELETE"])
@guard.secured(Scope.ADMIN)
def revoke_key(call: Call, keyId: str) -> Response:
    """Revoke a key; it stops working at once."""
    accounts.revoke_key(call.ctx, call.principal, keyId)
    return present.response({})


@bp.route("/me", methods=["GET"])
@guard.secured(Scope.READ)
def who_am_i(call: Call) -> Response:
    """The caller's tenant, key id, scopes and plan limits (what the console shows and respects)."""
    principal = call.principal
    return present.response(present.caller(principal, call.ctx.settings.plan(principal.plan)))
