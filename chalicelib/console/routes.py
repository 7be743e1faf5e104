"""Routes of the console: the page, its sign-in settings and its versioned assets (no authentication:
the page signs in in the browser and sends the key or token with each API call)."""

from __future__ import annotations

import json

from chalice.app import Blueprint, Response

from chalicelib.api.auth import Guard
from chalicelib.console import assets
from chalicelib.console.config import get_console_config
from chalicelib.domain.errors import NotFound

bp = Blueprint(__name__)
guard = Guard(bp)
# The routes below, for the OpenAPI document and the authorizer tests (the console is not JSON API).
ROUTES = frozenset({("GET", "/console"), ("GET", "/console/config.json"), ("GET", "/console/assets/{version}/{name}")})


def _headers(content_type: str, cache: str) -> dict[str, str | list[str]]:
    config = get_console_config()
    connect_to = (config.cognito_domain,) if config.cognito and config.cognito_domain else ()
    return {"Content-Type": content_type, "Cache-Control": cache, **assets.security_headers(connect_to)}


def _prefix() -> str:
    """The path in front of `/console` as the browser sees it (API Gateway's stage, e.g. `/api`)."""
    path = str((bp.current_request.context or {}).get("path") or "/console")
    return path[: path.rfind("/console")] if "/console" in path else ""


@bp.route("/console", methods=["GET"])
@guard.public
def console_page() -> Response:
    """The console's one HTML page (pages are client-side routes after `#`)."""
    return Response(
        body=assets.page(_prefix()), status_code=200, headers=_headers("text/html; charset=utf-8", assets.NO_CACHE)
    )


@bp.route("/console/config.json", methods=["GET"])
@guard.public
def console_config() -> Response:
    """How to sign in here: an API key, and on AWS Cognito's hosted UI (domain and public client id)."""
    body = json.dumps({**get_console_config().public(), "version": assets.bundle().version})
    return Response(body=body, status_code=200, headers=_headers("application/json", assets.NO_CACHE))


@bp.route("/console/assets/{version}/{name}", methods=["GET"])
@guard.public
def console_asset(version: str, name: str) -> Response:
    """A script, style sheet or icon of the current version (cached for a year); others 404."""
    current = assets.bundle()
    asset = current.files.get(name)
    if asset is None or version != current.version:
        raise NotFound("no such console asset (reload the console to get the current version)")
    return Response(body=asset.body, status_code=200, headers=_headers(asset.content_type, assets.IMMUTABLE))
