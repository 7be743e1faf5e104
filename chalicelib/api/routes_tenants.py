"""Operator routes: provision and list tenants (`SCHEDULER_OPERATOR_KEY`; 404 where it is unset)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import present
from chalicelib.api.auth import Guard, OperatorCall
from chalicelib.api.request import json_body, limit_param, params, text_param
from chalicelib.domain.schemas import TenantCreate
from chalicelib.services import accounts
from chalicelib.services.validation import validate

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/tenants", methods=["POST"])
@guard.operator
def create_tenant(call: OperatorCall) -> Response:
    """A new tenant and its first admin key (shown once)."""
    body = validate(TenantCreate, json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes))
    tenant, token = accounts.create_tenant(call.ctx, body)
    return present.response(present.tenant(tenant, admin_key=token), 201)


@bp.route("/tenants", methods=["GET"])
@guard.operator
def list_tenants(call: OperatorCall) -> Response:
    """All tenants, by id."""
    query = params(call.request)
    page = accounts.list_tenants(call.ctx, cursor=text_param(query, "cursor"), limit=limit_param(query))
    return present.response(present.page(page, present.tenant))
