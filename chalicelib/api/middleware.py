"""The HTTP middleware: every error leaves in the shape `{"error": {"code", "message", "field"?}}`.

Views raise domain errors; the view wrappers in `api.auth` hand them on as `errors.Escalated`
(Chalice would otherwise turn any exception into its own 500 before middleware sees it), and
this middleware maps them with `errors.error_response`. Chalice's own error responses (405, 415,
`BadRequestError`, its 500) are rewritten here too. Then it writes the request's access line
(`api.access`): the status logged is the one the client gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chalice.app import Chalice, Request, Response

from chalicelib.api import access, errors


def error_middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice `http` middleware: map errors into our shape, then write the request's access line."""
    started = time.perf_counter()
    token = access.begin()
    response = _mapped(request, get_response)
    tenant = access.end(token)
    path = (request.context or {}).get("path") or request.path
    access.log_request(request.method, path, response.status_code, (time.perf_counter() - started) * 1000, tenant)
    return response


def _mapped(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """The response, with escalated and unexpected errors mapped and Chalice's error bodies rewritten."""
    try:
        response = get_response(request)
    except errors.Escalated as exc:
        return errors.error_response(exc.error)
    except Exception as exc:
        return errors.error_response(exc)
    if response.status_code >= 400:
        body = response.body
        if isinstance(body, dict) and "Code" in body:
            return errors.rewrite_chalice_error(response)
        if response.status_code >= 500 and not isinstance(body, dict):
            return errors.rewrite_chalice_error(Response(body={"Code": "InternalServerError"}, status_code=500))
    return response


def install(app: Chalice) -> None:
    """Register the middleware for HTTP events of `app` (blueprints included)."""
    app.register_middleware(error_middleware, "http")
