"""The API Gateway authorizer (its own Lambda) and how the routes are put behind it.

Tokens (the `Authorization` header, `Bearer ` optional):
- the operator key, compared by SHA-256 with `SCHEDULER_OPERATOR_KEY_HASH`: context `operator=true`;
- a Cognito user-pool JWT (three dot-separated parts, when a pool is configured): RS256 against the
  pool's JWKS, issuer, expiry, `token_use` (`access` with `client_id`, or `id` with `aud`, in
  `SCHEDULER_COGNITO_CLIENT_IDS`); its `sub` is the tenant id; scope `admin`;
- otherwise an API key, found by the SHA-256 of the whole token, not revoked.
Anything else raises `Unauthorized` (API Gateway's 401). The answer allows every route of the stage
(API Gateway caches it per token for `TTL_S`, ≤ 60 s, across routes) and carries the principal as
flat strings (`authcontext`) and the tenant's usage key (`usageIdentifierKey`): API key source
AUTHORIZER, so the tenant's usage plan throttles it.

Routes: `protect_routes(app)` puts every secured and operator route behind `ROUTE_AUTHORIZER`, a
Chalice `CustomAuthorizer` pointing at this Lambda (the same thing `@authorizer` deploys; see
docs/aws-design.md for why not the `ChaliceAuthorizer` object itself). Nothing reads the environment
to decide: on AWS API Gateway runs it; the local WSGI server and Chalice's test client skip it, and
`api.auth` authenticates in the app unless `SCHEDULER_BACKEND=aws`.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalice.app import AuthRequest, Blueprint, Chalice, CustomAuthorizer

from chalicelib import bootstrap, observability, warmup
from chalicelib.adapters.aws import authcontext
from chalicelib.domain.ids import hash_token
from chalicelib.domain.model import Principal, Scope

if TYPE_CHECKING:
    from chalicelib.adapters.aws.config import AwsConfig
    from chalicelib.adapters.aws.stores import DynamoKeyStore, DynamoTenantStore

NAME = "authorizer"
TTL_S = 60
# The authorizer Lambda's invoke ARN as `chalice package --pkg-format terraform` names it.
INVOKE_ARN = "${aws_lambda_function.authorizer.invoke_arn}"
JWKS_REFRESH_S = 300

bp = Blueprint(__name__)


class Unauthorized(Exception):
    """Fail the authorizer so that API Gateway answers 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class GatewayAuthorizer(CustomAuthorizer):
    """The authorizer of the secured routes: run by API Gateway only. `enforced_in_app` tells the local
    WSGI server that the views authenticate themselves where no gateway runs this."""

    enforced_in_app = True

    def __init__(self) -> None:
        super().__init__(NAME, authorizer_uri=INVOKE_ARN, ttl_seconds=TTL_S, header="Authorization")


ROUTE_AUTHORIZER = GatewayAuthorizer()


def protect_routes(app: Chalice) -> None:
    """Put secured routes (API key required) and operator routes behind `ROUTE_AUTHORIZER`."""
    for methods in app.routes.values():
        for entry in methods.values():
            kind = getattr(entry.view_function, "auth_kind", None)
            if kind in ("secured", "operator"):
                entry.authorizer = ROUTE_AUTHORIZER
                entry.api_key_required = kind == "secured"


def fetch_jwks(url: str) -> dict[str, Any]:
    """The JSON Web Key Set at `url` (the user pool's, https)."""
    if not url.startswith("https://"):
        raise ValueError("JWKS must come over https")
    with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - https URL from configuration
        return dict(json.loads(response.read()))


class CognitoVerifier:
    """Verifies user-pool JWTs; keys come from the pool's JWKS, cached and refreshed for unknown `kid`s."""

    def __init__(
        self,
        issuer: str,
        client_ids: frozenset[str],
        fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._client_ids = client_ids
        self._fetch = fetch
        self._monotonic = monotonic
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, or `Unauthorized`."""
        import jwt  # PyJWT (+ cryptography): loaded by the authorizer only

        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(
                token,
                self._key(str(kid)),
                algorithms=["RS256"],
                issuer=self._issuer,
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthorized from exc
        if not self._right_client(claims):
            raise Unauthorized
        return dict(claims)

    def _right_client(self, claims: dict[str, Any]) -> bool:
        use = claims.get("token_use")
        if use == "access":
            return claims.get("client_id") in self._client_ids
        if use == "id":
            audience = claims.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            return any(a in self._client_ids for a in audiences)
        return False

    def _key(self, kid: str) -> Any:
        import jwt

        with self._lock:
            if kid not in self._keys and self._may_refresh():
                self._fetched_at = self._monotonic()
                key_set = jwt.PyJWKSet.from_dict(self._fetch(f"{self._issuer}/.well-known/jwks.json"))
                self._keys = {key.key_id: key.key for key in key_set.keys if key.key_id}
            return self._keys[kid]

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= JWKS_REFRESH_S


@dataclass(frozen=True)
class Authority:
    """Decides what a token may do (see the module docstring)."""

    keys: DynamoKeyStore
    tenants: DynamoTenantStore
    config: AwsConfig
    verifier: CognitoVerifier | None

    def decide(self, header: str | None, method_arn: str) -> dict[str, Any]:
        """The authorizer's answer for an `Authorization` header value."""
        token = _token(header)
        expected = self.config.operator_key_hash
        if expected and hmac.compare_digest(hash_token(token).encode(), expected.encode()):
            return _answer("operator", method_arn, authcontext.operator_context(), None)
        principal = self._jwt(token) if self.verifier and token.count(".") == 2 else self._api_key(token)
        record = self.tenants.record(principal.tenant_id)
        if record is None:
            raise Unauthorized
        principal = Principal(principal.tenant_id, str(record["plan"]), principal.scopes, principal.key_id)
        return _answer(principal.tenant_id, method_arn, authcontext.context_of(principal), record.get("usageKey"))

    def _api_key(self, token: str) -> Principal:
        key = self.keys.find_key(hash_token(token))
        if key is None or key.revoked_at is not None:
            raise Unauthorized
        return Principal(key.tenant_id, "", key.scopes, key.id)

    def _jwt(self, token: str) -> Principal:
        assert self.verifier is not None
        claims = self.verifier.claims(token)
        return Principal(str(claims["sub"]), "", frozenset({Scope.ADMIN}), None)


def _token(header: str | None) -> str:
    value = (header or "").strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token or " " in token:
        raise Unauthorized
    return token


def _answer(principal_id: str, method_arn: str, context: dict[str, str], usage_key: str | None) -> dict[str, Any]:
    """Allow every method and path of the API stage the request came to."""
    arn, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0] or "*"
    answer: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{arn}/{stage}/*/*"]}],
        },
        "context": context,
    }
    if usage_key:
        answer["usageIdentifierKey"] = usage_key
    return answer


@bp.authorizer(name=NAME, ttl_seconds=TTL_S)
def authorizer(auth_request: AuthRequest) -> dict[str, Any]:
    """The authorizer Lambda: token → principal, scopes and usage key; unknown token → 401."""
    try:
        return bootstrap.aws_runtime().authority.decide(auth_request.token, auth_request.method_arn)
    finally:
        observability.flush()


warmup.at_init(__name__)  # in Lambda's init phase only (see chalicelib.warmup)
