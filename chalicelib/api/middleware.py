"""The HTTP middleware: every error leaves in the shape `{"error": {"code", "message", "field"?}}`.

Views raise domain errors; the view wrappers in `api.auth` hand them on as `errors.Escalated`
(Chalice would otherwise turn any exception into its own 500 before middleware sees it), and
this middleware maps them with `errors.error_response`. Chalice's own error responses (405, 415,
`BadRequestError`, its 500) are rewritten here too. The happy path costs one call and two checks.
"""

from __future__ import annotations

from collections.abc import Callable

from chalice.app import Chalice, Request, Response

from chalicelib.api import errors


def error_middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice `http` middleware: map escalated and unexpected errors, rewrite Chalice's error bodies."""
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
