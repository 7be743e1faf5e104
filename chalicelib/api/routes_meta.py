"""Unauthenticated routes: `GET /health` and `GET /openapi.json`."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import openapi
from chalicelib.api.auth import Guard

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/health", methods=["GET"])
@guard.public
def health() -> Response:
    """Liveness: the process answers."""
    return Response(body='{"status":"ok"}', status_code=200, headers={"Content-Type": "application/json"})


@bp.route("/openapi.json", methods=["GET"])
@guard.public
def openapi_document() -> Response:
    """The OpenAPI 3.1 document, built once from the validating models and the route table."""
    return Response(body=openapi.document_json(), status_code=200, headers={"Content-Type": "application/json"})
