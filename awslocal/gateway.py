"""The API front: what API Gateway (REST, Lambda proxy) does for the stack, on HOST:PORT.

Per request, in API Gateway's order: match a route of the OpenAPI document Chalice generates (no
route: `MISSING_AUTHENTICATION_TOKEN`); for a route behind the TOKEN authorizer, run the authorizer
function on the `Authorization` header (answers cached per token for the authorizer's TTL; 401
`UNAUTHORIZED`, 403 `ACCESS_DENIED` on a deny, `AUTHORIZER_FAILURE` when it errs); for a route that
requires an API key (key source AUTHORIZER), the `usageIdentifierKey` must be an enabled key on a
usage plan (`INVALID_API_KEY`), whose throttle (token bucket, rate and burst) and daily quota apply
(`THROTTLED`, `QUOTA_EXCEEDED`), after the stage-wide throttle; then invoke the API function with a
REST proxy event and map its answer. Gateway errors use the stage's gateway responses (Terraform's).
Paths work with and without the stage in front (`/api/messages` as on the invoke URL, or `/messages`
as with `make run`); `requestContext.path` is the path as sent, so the console names its assets right.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from awslocal.deployment import Deployment
from awslocal.keys import ApiKeys
from awslocal.lambdas import LambdaFunction
from awslocal.limits import Quota, TokenBucket

log = logging.getLogger("awslocal.gateway")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_INVOKE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
INTEGRATION_TIMEOUT_S = 29


@dataclass(frozen=True)
class Route:
    """One method of one resource path of the OpenAPI document."""

    method: str
    template: str
    pattern: re.Pattern[str]
    authorizer: bool
    api_key: bool

    @property
    def specificity(self) -> tuple[int, int]:
        """Literal segments win over `{param}` ones, as API Gateway matches."""
        segments = self.template.strip("/").split("/")
        return (sum(1 for s in segments if not s.startswith("{")), len(segments))


def routes_of(openapi: Mapping[str, Any]) -> list[Route]:
    """Every route of an OpenAPI (Swagger 2) document, most specific first."""
    found = []
    for template, methods in openapi["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")
        for method, spec in methods.items():
            security = {name for entry in spec.get("security", []) for name in entry}
            found.append(Route(method.upper(), template, pattern, "authorizer" in security, "api_key" in security))
    return sorted(found, key=lambda r: r.specificity, reverse=True)


@dataclass
class _Cached:
    expires: float
    answer: dict[str, Any]


@dataclass
class Gateway:
    """The stage's front; `api` and `authorizer` are the functions behind it."""

    deployment: Deployment
    openapi: Mapping[str, Any]
    api: LambdaFunction
    authorizer: LambdaFunction
    keys: ApiKeys
    account_id: str
    region: str
    api_id: str = "awslocal"
    routes: list[Route] = field(init=False)
    authorizer_ttl_s: int = field(init=False)
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _quotas: dict[str, Quota] = field(default_factory=dict)
    _stage_bucket: TokenBucket | None = None

    def __post_init__(self) -> None:
        self.routes = routes_of(self.openapi)
        spec = self.openapi.get("securityDefinitions", {}).get("authorizer", {})
        self.authorizer_ttl_s = int(
            spec.get("x-amazon-apigateway-authorizer", {}).get("authorizerResultTtlInSeconds", 300)
        )
        stage = self.deployment.stage
        if stage.throttle_rate is not None:
            self._stage_bucket = TokenBucket(float(stage.throttle_rate), int(stage.throttle_burst or 0))
        self._binary = set(self.openapi.get("x-amazon-apigateway-binary-media-types", []))

    def app(self) -> web.Application:
        """The aiohttp application."""
        application = web.Application(client_max_size=MAX_REQUEST_BYTES + 1)
        application.router.add_route("*", "/{tail:.*}", self.handle)
        return application

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One request through the stage."""
        request_id = str(uuid.uuid4())
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._error("REQUEST_TOO_LARGE", 413, request_id)
        path = self.resource_path(request.path)
        route, params = self._match(request.method, path)
        if route is None:
            return self._error("MISSING_AUTHENTICATION_TOKEN", 403, request_id)
        if self._stage_bucket is not None and not self._stage_bucket.take():
            return self._error("THROTTLED", 429, request_id)
        context: dict[str, Any] = {}
        usage_key: str | None = None
        if route.authorizer:
            answer = await self._authorize(request, route, request_id)
            if isinstance(answer, web.Response):
                return answer
            context = {**answer.get("context", {}), "principalId": answer.get("principalId", "")}
            usage_key = answer.get("usageIdentifierKey")
        if route.api_key:
            refused = await self._meter(usage_key, request_id)
            if refused is not None:
                return refused
        event = self._event(request, route, params, body, context, usage_key, request_id)
        return await self._integrate(event, request_id)

    def resource_path(self, path: str) -> str:
        """The path without the stage: served at `/<stage>/...` (the invoke URL's shape) and at `/...`."""
        stage = f"/{self.deployment.stage.name}"
        if path == stage or path.startswith(stage + "/"):
            return path[len(stage) :] or "/"
        return path

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        matching = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        for route, match in matching:
            if route.method == method:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None, {}

    # ---- authorizer, usage plans ---------------------------------------------------------------

    async def _authorize(self, request: web.Request, route: Route, request_id: str) -> dict[str, Any] | web.Response:
        token = request.headers.get("Authorization", "")
        if not token:
            return self._error("UNAUTHORIZED", 401, request_id)
        method_arn = self._method_arn(route.method, self.resource_path(request.path))
        cached = self._cache.get(token)
        if cached is None or cached.expires <= time.monotonic():
            event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
            result = await self.authorizer.invoke(event)
            if result.failed:
                if result.message == "Unauthorized":
                    return self._error("UNAUTHORIZED", 401, request_id)
                log.warning("authorizer failed: %s: %s", result.error, result.message)
                return self._error("AUTHORIZER_FAILURE", 500, request_id)
            if not isinstance(result.payload, dict) or "policyDocument" not in result.payload:
                return self._error("AUTHORIZER_CONFIGURATION_ERROR", 500, request_id)
            cached = _Cached(time.monotonic() + self.authorizer_ttl_s, result.payload)
            if self.authorizer_ttl_s > 0:
                self._cache[token] = cached
        if not allows(cached.answer["policyDocument"], method_arn):
            return self._error("ACCESS_DENIED", 403, request_id)
        return cached.answer

    def _method_arn(self, method: str, path: str) -> str:
        stage = self.deployment.stage.name
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{stage}/{method}{path}"

    async def _meter(self, usage_key: str | None, request_id: str) -> web.Response | None:
        found = await self.keys.find(usage_key) if usage_key else None
        if found is None:
            return self._error("INVALID_API_KEY", 403, request_id)
        key_id, plan = found
        bucket_key = f"{plan.id}/{key_id}"
        if plan.rate is not None:
            bucket = self._buckets.setdefault(bucket_key, TokenBucket(plan.rate, plan.burst or int(plan.rate)))
            if not bucket.take():
                return self._error("THROTTLED", 429, request_id)
        if plan.daily_quota is not None:
            quota = self._quotas.setdefault(bucket_key, Quota(plan.daily_quota))
            if not quota.take():
                return self._error("QUOTA_EXCEEDED", 429, request_id)
        return None

    # ---- the proxy integration -----------------------------------------------------------------

    def _event(  # noqa: PLR0917 - one request's parts, in the order the front learns them
        self,
        request: web.Request,
        route: Route,
        params: dict[str, str],
        body: bytes,
        authorizer: dict[str, Any],
        usage_key: str | None,
        request_id: str,
    ) -> dict[str, Any]:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        peer = request.remote or "127.0.0.1"
        headers.setdefault("X-Forwarded-For", [peer])
        headers.setdefault("X-Forwarded-Proto", ["http"])
        query: dict[str, list[str]] = {}
        for name, value in request.query.items():
            query.setdefault(name, []).append(value)
        binary = request.content_type in self._binary
        text: str | None = None
        if body:
            try:
                text = base64.b64encode(body).decode() if binary else body.decode()
            except UnicodeDecodeError:
                text, binary = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        context: dict[str, Any] = {
            "resourceId": "awslocal",
            "resourcePath": route.template,
            "httpMethod": route.method,
            "extendedRequestId": request_id[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": request.path,  # as the client sent it: with the stage when the URL had it
            "accountId": self.account_id,
            "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
            "stage": self.deployment.stage.name,
            "domainPrefix": request.host.split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": peer, "userAgent": request.headers.get("User-Agent"), "apiKey": usage_key},
            "domainName": request.host,
            "apiId": self.api_id,
        }
        if authorizer:
            context["authorizer"] = authorizer
        return {
            "resource": route.template,
            "path": self.resource_path(request.path),
            "httpMethod": route.method,
            "headers": {k: v[-1] for k, v in headers.items()},
            "multiValueHeaders": headers,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": text,
            "isBase64Encoded": binary,
        }

    async def _integrate(self, event: dict[str, Any], request_id: str) -> web.Response:
        encoded = json.dumps(event)
        if len(encoded) > MAX_INVOKE_BYTES:
            return self._error("REQUEST_TOO_LARGE", 413, request_id)
        result = await self.api.invoke(event)
        if result.error == "Sandbox.Timedout":
            return self._error("DEFAULT_5XX", 504, request_id)
        payload = result.payload
        if result.failed or not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
            log.warning("API function: %s %s", result.error or "malformed response", result.message)
            return self._error("DEFAULT_5XX", 502, request_id)
        body = payload.get("body") or ""
        raw = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
        response = web.Response(status=payload["statusCode"], body=raw)
        for name, value in (payload.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            response.headers.popall(name, None)
            for value in values:
                response.headers.add(name, str(value))
        response.headers["x-amzn-RequestId"] = request_id
        return response

    def _error(self, kind: str, default_status: int, request_id: str) -> web.Response:
        spec = self.deployment.stage.responses.get(kind) or self.deployment.stage.responses.get(
            "DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX"
        )
        if spec is None:
            return web.json_response({"message": kind}, status=default_status)
        response = web.Response(status=spec.status or default_status, body=spec.body.encode())
        for name, value in spec.headers.items():
            response.headers[name] = value
        response.headers["x-amzn-RequestId"] = request_id
        response.headers["x-amzn-ErrorType"] = kind
        return response


def allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer policy for `execute-api:Invoke` on `method_arn` (deny wins)."""
    allowed = False
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_glob(a, "execute-api:Invoke") for a in actions):
            continue
        if any(_glob(r, method_arn) for r in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _glob(pattern: str, value: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex.replace(r"\?", "."), value) is not None
