"""The console's routes: the page, its assets and sign-in settings, with their cache and security headers.
(What the page does in a browser is tests/browser.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.console import assets, config
from chalicelib.console.routes import ROUTES
from chalicelib.settings import ConfigError

STATIC = Path(assets.STATIC)


@pytest.fixture
def console_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget the cached console settings before and after the test."""
    config.get_console_config.cache_clear()
    yield
    config.get_console_config.cache_clear()


def _policy(headers: dict[str, str]) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    return {name: value for name, value in parts}


def test_the_page_is_never_cached_and_forbids_inline_code_and_framing(client: Client, console_config: None) -> None:
    response = client.http.get("/console")
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    policy = _policy(headers)
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["connect-src"] == "'self'"
    assert "unsafe" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    page = response.body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script"
    assert "style=" not in page and "<style" not in page and " on" + "click=" not in page
    version = assets.bundle().version
    assert f'src="/console/assets/{version}/main.js"' in page


def test_every_asset_the_page_and_modules_name_is_served_immutable(client: Client) -> None:
    page = client.http.get("/console").body.decode()
    names = set(re.findall(r"/console/assets/[0-9a-f]+/([\w.-]+)", page))
    for module in STATIC.glob("*.js"):
        names |= set(re.findall(r"from '\./([\w.-]+)'", module.read_text()))
    assert {"main.js", "console.css", "icon.svg", "api.js", "page-message.js"} <= names
    version = assets.bundle().version
    for name in names:
        response = client.http.get(f"/console/assets/{version}/{name}")
        assert response.status_code == 200, name
        headers = {k.lower(): v for k, v in response.headers.items()}
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
        assert headers["content-type"] == assets.CONTENT_TYPES[Path(name).suffix]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert response.body.decode() == (STATIC / name).read_text()


@pytest.mark.parametrize("path", ["/console/assets/0000000000000000/main.js", "/console/assets/{v}/nope.js"])
def test_an_old_version_or_unknown_asset_is_a_404_in_our_shape(client: Client, path: str) -> None:
    response = client.http.get(path.format(v=assets.bundle().version))
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "not_found"


def test_the_scripts_build_no_markup_from_strings() -> None:
    """Data from the API must never become markup: the modules build DOM nodes only."""
    for module in STATIC.glob("*.js"):
        text = module.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert banned not in text, (module.name, banned)
        assert "setAttribute('style'" not in text and ".style." not in text, module.name


def test_local_sign_in_is_by_api_key_only(client: Client, console_config: None) -> None:
    body = json.loads(client.http.get("/console/config.json").body)
    assert body == {"signIn": ["apiKey"], "version": assets.bundle().version}


def test_on_aws_the_page_offers_cognito_and_may_call_its_token_endpoint(
    client: Client, console_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = "https://tenants-123.auth.eu-west-1.amazoncognito.com"
    monkeypatch.setenv("SCHEDULER_CONSOLE_COGNITO_DOMAIN", domain + "/")
    monkeypatch.setenv("SCHEDULER_CONSOLE_COGNITO_CLIENT_ID", "client123")
    response = client.http.get("/console/config.json")
    body = json.loads(response.body)
    assert body["signIn"] == ["apiKey", "cognito"]
    assert body["cognito"] == {"domain": domain, "clientId": "client123", "scopes": ["openid", "email", "profile"]}
    headers = {k.lower(): v for k, v in client.http.get("/console").headers.items()}
    assert _policy(headers)["connect-src"] == f"'self' {domain}"


@pytest.mark.parametrize("domain", ["http://x.auth.us-east-1.amazoncognito.com", "https://a@b.example", "https://x/y"])
def test_a_cognito_domain_must_be_an_https_origin(domain: str) -> None:
    with pytest.raises(ConfigError, match="SCHEDULER_CONSOLE_COGNITO_DOMAIN"):
        config.console_config_from({"SCHEDULER_CONSOLE_COGNITO_DOMAIN": domain})


def test_behind_api_gateway_assets_are_under_the_stage_path() -> None:
    page = assets.page("/api")
    assert f'href="/api/console/assets/{assets.bundle().version}/console.css"' in page


def test_the_console_routes_are_public_and_not_in_the_openapi_document(client: Client) -> None:
    from app import app

    served = {
        (method, path) for path, methods in app.routes.items() for method in methods if path.startswith("/console")
    }
    assert served == ROUTES
    for method, path in ROUTES:
        entry = app.routes[path][method]
        assert entry.view_function.auth_kind == "public" and entry.authorizer is None
    document = json.loads(client.http.get("/openapi.json").body)
    assert not [path for path in document["paths"] if path.startswith("/console")]


def test_through_api_gateway_the_page_names_its_assets_under_the_stage() -> None:
    """The Lambda handler with the proxy event API Gateway sends for `GET /api/console` (stage `api`)."""
    from app import app

    event = {
        "resource": "/console",
        "path": "/console",
        "httpMethod": "GET",
        "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc123.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": "/console", "httpMethod": "GET", "path": "/api/console", "stage": "api"},
        "body": None,
        "isBase64Encoded": False,
    }
    answer = app(event, None)
    assert answer["statusCode"] == 200 and not answer.get("isBase64Encoded")
    version = assets.bundle().version
    assert f'src="/api/console/assets/{version}/main.js"' in answer["body"]
