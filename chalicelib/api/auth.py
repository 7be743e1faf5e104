"""Authentication inside the app, as view decorators.

Locally the views authenticate every request themselves. On AWS (`SCHEDULER_BACKEND=aws`) API
Gateway has already run the authorizer Lambda (`chalicelib.authorizer`), so the views trust the
principal it put in `requestContext.authorizer` and check only scopes. Each wrapper is marked with
`auth_kind` (`secured`, `operator`, `public`): `authorizer.protect_routes` reads it to put the
secured and operator routes behind the authorizer on API Gateway.

`Guard(bp)` gives each blueprint three decorators:

- `guard.secured(scope)`: `Authorization: Bearer <api key>` → `services.accounts.authenticate`,
  then `require(scope)`, then one request from the tenant's rate limit (the daily message quota
  is counted by the message store, with the write that schedules deliveries);
- `guard.operator`: the `/tenants` routes; the bearer token must equal `SCHEDULER_OPERATOR_KEY`
  (constant-time compare); when that is unset the routes answer 404;
- `guard.public`: no authentication.

Every wrapped view gets a `Call` and the path parameters, and whatever it raises is escalated
to `api.middleware`, the one place that maps errors to HTTP.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from chalice.app import Blueprint, Request

from chalicelib.adapters.aws import authcontext
from chalicelib.api import access
from chalicelib.api.errors import Escalated
from chalicelib.bootstrap import get_context
from chalicelib.domain.errors import NotFound, Unauthenticated
from chalicelib.domain.model import Principal, Scope
from chalicelib.services import accounts
from chalicelib.services.context import Context

HEAVY_BODY_BYTES = 256 * 1024  # a body this large takes a fair place before it is parsed

View = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Call:
    """What a secured view works with: the adapters, the authenticated caller and the request."""

    ctx: Context
    principal: Principal
    request: Request


@dataclass(frozen=True, slots=True)
class OperatorCall:
    """What an operator view works with."""

    ctx: Context
    request: Request


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>` (scheme case-insensitive), else None."""
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def caller(ctx: Context, request: Request) -> Principal:
    """Who sent `request`: from the authorizer's context on AWS, else by the bearer token."""
    if ctx.settings.backend == "aws":
        return authcontext.principal_from((request.context or {}).get("authorizer"))
    return accounts.authenticate(ctx, bearer_token(request))


def authorize(ctx: Context, request: Request, scope: Scope) -> Principal:
    """The caller of `request`, checked for `scope`, with one request taken from its rate limit."""
    principal = caller(ctx, request)
    access.note_tenant(principal.tenant_id)
    accounts.require(principal, scope)
    ctx.limiter.check(principal.tenant_id, principal.plan, now_ms=ctx.clock.now_ms())
    return principal


def _work_slot(ctx: Context, principal: Principal, request: Request) -> AbstractContextManager[None]:
    """A large body is CPU-heavy work: it waits for one of the tenant's fair places (see `Limiter.heavy`)."""
    if len(request.raw_body or b"") < HEAVY_BODY_BYTES:
        return contextlib.nullcontext()
    return ctx.limiter.heavy(principal.tenant_id)


def check_operator(ctx: Context, request: Request) -> None:
    """Pass only with the operator key; 404 where none is configured, 401 for a wrong one. On AWS the
    authorizer compares the key's hash: a caller it did not mark as the operator gets 404."""
    if ctx.settings.backend == "aws":
        if not authcontext.is_operator((request.context or {}).get("authorizer")):
            raise NotFound("not found")
        return
    expected = ctx.settings.operator_key
    if not expected:
        raise NotFound("not found")
    token = bearer_token(request)
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthenticated("send Authorization: Bearer <operator key>")


class Guard:
    """The view decorators of one blueprint (they read the request through it)."""

    def __init__(self, bp: Blueprint) -> None:
        self._bp = bp

    def secured(self, scope: Scope) -> Callable[[View], View]:
        """A view for API keys with `scope`; it is called as `view(call, **path_params)`."""

        def decorate(view: View) -> View:
            @functools.wraps(view)
            def wrapper(**path: str) -> Any:
                try:
                    ctx = get_context()
                    request = self._bp.current_request
                    principal = authorize(ctx, request, scope)
                    with _work_slot(ctx, principal, request):
                        return view(Call(ctx, principal, request), **path)
                except Exception as exc:
                    raise Escalated(exc) from exc

            wrapper.auth_kind = "secured"  # type: ignore[attr-defined]
            return wrapper

        return decorate

    def operator(self, view: View) -> View:
        """A view for the operator key; it is called as `view(call, **path_params)`."""

        @functools.wraps(view)
        def wrapper(**path: str) -> Any:
            try:
                ctx = get_context()
                request = self._bp.current_request
                check_operator(ctx, request)
                return view(OperatorCall(ctx, request), **path)
            except Exception as exc:
                raise Escalated(exc) from exc

        wrapper.auth_kind = "operator"  # type: ignore[attr-defined]
        return wrapper

    @staticmethod
    def public(view: View) -> View:
        """A view without authentication; errors still leave in our shape."""

        @functools.wraps(view)
        def wrapper(**path: str) -> Any:
            try:
                return view(**path)
            except Exception as exc:
                raise Escalated(exc) from exc

        wrapper.auth_kind = "public"  # type: ignore[attr-defined]
        return wrapper
