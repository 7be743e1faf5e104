"""The authorizer Lambda (API keys, the operator key, Cognito JWTs) and the routes behind it on AWS."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import jwt
import pytest
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.authorizer import ROUTE_AUTHORIZER, Authority, CognitoVerifier, Unauthorized
from chalicelib.console.routes import ROUTES as CONSOLE_ROUTES
from chalicelib.domain.schemas import KeyCreate
from chalicelib.services import accounts
from tests.aws import events, support
from tests.aws.conftest import Tenant

POOL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"
CLIENT = "client123"
SUB = "3f1c6a2e-9b7d-4e55-a1f0-6c2d8e4b9a10"


@functools.cache
def rsa_key(n: int) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: one per number, for the whole module."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Pool:
    """A user pool's signing key and JWKS endpoint (fetches are counted)."""

    def __init__(self) -> None:
        self.key = rsa_key(0)
        self.fetches = 0

    def jwks(self, url: str) -> dict[str, Any]:
        assert url == f"{POOL}/.well-known/jwks.json"
        self.fetches += 1
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}

    def token(self, key: Any = None, kid: str = "k1", **claims: Any) -> str:
        now = int(time.time())
        body = {"sub": SUB, "iss": POOL, "token_use": "access", "client_id": CLIENT, "iat": now, "exp": now + 3600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def pool() -> Pool:
    return Pool()


@pytest.fixture
def authority(runtime: AwsRuntime, pool: Pool) -> Authority:
    verifier = CognitoVerifier(POOL, frozenset({CLIENT}), fetch=pool.jwks)
    built = Authority(runtime.keys, runtime.tenants, runtime.config, verifier)
    runtime.authority = built  # type: ignore[misc]  # the cached property, with a verifier on a fake pool
    return built


ARN = events.token_event("x")["methodArn"]


def test_an_api_key_gets_its_tenant_scopes_and_usage_key(
    authority: Authority, runtime: AwsRuntime, tenant: Tenant
) -> None:
    runtime.tenants.set_usage_key(tenant.principal.tenant_id, "k-id", "usage-key-value-0123456789")
    answer = authority.decide(f"Bearer {tenant.token}", ARN)
    assert answer["principalId"] == tenant.principal.tenant_id
    assert answer["usageIdentifierKey"] == "usage-key-value-0123456789"
    [statement] = answer["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": [ARN.split("/api/")[0] + "/api/*/*"],
    }
    context = answer["context"]
    assert all(isinstance(value, str) for value in context.values())
    assert context["tenantId"] == tenant.principal.tenant_id and context["scopes"] == "admin"
    assert context["plan"] == "unlimited" and context["operator"] == "false"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic abc def", "Bearer sk_unknown", "sk_unknown"])
def test_unknown_tokens_are_unauthorized(authority: Authority, tenant: Tenant, header: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        authority.decide(header, ARN)
    assert str(caught.value) == "Unauthorized"  # API Gateway's 401 needs exactly this message


def test_a_revoked_key_is_unauthorized(authority: Authority, runtime: AwsRuntime, tenant: Tenant) -> None:
    key, token = accounts.create_key(runtime.context, tenant.principal, KeyCreate(name="ci", scopes=["read"]))
    assert authority.decide(token, ARN)["context"]["scopes"] == "read"
    accounts.revoke_key(runtime.context, tenant.principal, key.id)
    with pytest.raises(Unauthorized):
        authority.decide(token, ARN)


def test_the_operator_key_is_recognised_by_its_hash(authority: Authority) -> None:
    answer = authority.decide(f"Bearer {support.OPERATOR_KEY}", ARN)
    assert answer["context"]["operator"] == "true" and "usageIdentifierKey" not in answer


def test_a_cognito_access_or_id_token_is_its_subs_admin(authority: Authority, runtime: AwsRuntime, pool: Pool) -> None:
    runtime.provisioner.provision(SUB, "ada")
    access = authority.decide(f"Bearer {pool.token()}", ARN)
    assert access["principalId"] == SUB and access["context"]["scopes"] == "admin"
    assert access["usageIdentifierKey"] == runtime.tenants.record(SUB)["usageKey"]  # type: ignore[index]
    identity = pool.token(token_use="id", client_id=None, aud=CLIENT)
    assert authority.decide(identity, ARN)["principalId"] == SUB
    assert pool.fetches == 1  # the JWKS is cached


@pytest.mark.parametrize(
    "claims",
    [
        {"client_id": "another-client"},
        {"token_use": "id", "client_id": None, "aud": "another-client"},
        {"token_use": "id", "client_id": None},  # an ID token without aud
        {"token_use": "refresh"},
        {"token_use": None},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
        {"exp": int(time.time()) - 10},
        {"sub": None},
    ],
)
def test_tokens_of_another_client_pool_use_or_time_are_unauthorized(
    authority: Authority, runtime: AwsRuntime, pool: Pool, claims: dict[str, Any]
) -> None:
    runtime.provisioner.provision(SUB, "ada")
    with pytest.raises(Unauthorized):
        authority.decide(pool.token(**claims), ARN)


def test_a_token_signed_with_another_key_or_none_is_unauthorized(
    authority: Authority, runtime: AwsRuntime, pool: Pool
) -> None:
    runtime.provisioner.provision(SUB, "ada")
    forged = pool.token(key=rsa_key(1))
    unknown_kid = pool.token(kid="k2")
    unsigned = jwt.encode(
        {"sub": SUB, "iss": POOL, "token_use": "access", "client_id": CLIENT, "exp": 2**40}, None, algorithm="none"
    )
    for token in (forged, unknown_kid, unsigned, "a.b.c"):
        with pytest.raises(Unauthorized):
            authority.decide(token, ARN)
    assert pool.fetches == 1  # an unknown kid refetches at most every JWKS_REFRESH_S


def test_a_valid_token_of_a_user_without_a_tenant_is_unauthorized(authority: Authority, pool: Pool) -> None:
    with pytest.raises(Unauthorized):
        authority.decide(pool.token(), ARN)


def test_the_authorizer_lambda_through_the_test_client(lambdas: Client, tenant: Tenant, authority: Authority) -> None:
    answer = lambdas.lambda_.invoke("authorizer", events.token_event(f"Bearer {tenant.token}")).payload
    assert answer["context"]["tenantId"] == tenant.principal.tenant_id
    with pytest.raises(Unauthorized):
        lambdas.lambda_.invoke("authorizer", events.token_event("Bearer nope"))


# ---- the routes behind it -----------------------------------------------------------------------


def test_secured_routes_need_the_authorizer_and_an_api_key_operator_routes_the_authorizer_only() -> None:
    from app import app

    kinds: dict[str, set[tuple[str, str]]] = {"secured": set(), "operator": set(), "public": set()}
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            kind = entry.view_function.auth_kind
            kinds[kind].add((method, path))
            assert entry.authorizer is (None if kind == "public" else ROUTE_AUTHORIZER), (method, path)
            assert bool(entry.api_key_required) == (kind == "secured"), (method, path)
    assert kinds["public"] == {("GET", "/health"), ("GET", "/openapi.json")} | CONSOLE_ROUTES
    assert kinds["operator"] == {("GET", "/tenants"), ("POST", "/tenants")}
    assert ("POST", "/messages") in kinds["secured"]


def test_the_api_definition_points_the_routes_at_the_authorizer_lambda() -> None:
    from chalice.deploy.swagger import TerraformSwaggerGenerator

    from app import app

    swagger = TerraformSwaggerGenerator().generate_swagger(app)
    definition = swagger["securityDefinitions"]["authorizer"]
    assert definition["x-amazon-apigateway-authtype"] == "custom"
    assert definition["x-amazon-apigateway-authorizer"] == {
        "type": "token",
        "authorizerUri": "${aws_lambda_function.authorizer.invoke_arn}",
        "authorizerResultTtlInSeconds": 60,
    }
    create = swagger["paths"]["/messages"]["post"]
    assert {"authorizer": []} in create["security"] and {"api_key": []} in create["security"]
    assert "security" not in swagger["paths"]["/health"]["get"]
    assert [h.name for h in app.builtin_auth_handlers] == ["authorizer"]


def test_routes_on_aws_trust_only_a_complete_authorizer_context() -> None:
    from chalicelib.adapters.aws import authcontext
    from chalicelib.domain.errors import Unauthenticated
    from chalicelib.domain.model import Principal, Scope

    principal = Principal("t1", "pro", frozenset({Scope.SEND, Scope.READ}), "key_1")
    assert authcontext.principal_from({**authcontext.context_of(principal), "principalId": "t1"}) == principal
    for broken in (None, {}, {"tenantId": ""}, {"tenantId": "t1", "scopes": "root"}):
        with pytest.raises(Unauthenticated):
            authcontext.principal_from(broken)
    assert authcontext.is_operator(authcontext.operator_context())
    assert not authcontext.is_operator(authcontext.context_of(principal)) and not authcontext.is_operator(None)
