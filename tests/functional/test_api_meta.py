"""Health, the OpenAPI document, and the error shape of everything that is not a route's own answer."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from chalice.app import Response
from openapi_spec_validator import validate

from app import app
from chalicelib.api import openapi
from chalicelib.api.middleware import error_middleware
from chalicelib.console.routes import ROUTES as CONSOLE_ROUTES
from chalicelib.domain.errors import SchedulerError, StorageUnavailable
from chalicelib.services import apps as apps_service
from chalicelib.services.context import Context
from tests.conftest import Api


def test_health_needs_no_auth(api: Api) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok"}


def test_openapi_is_valid_and_lists_every_route(api: Api) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = response.json_body
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = {(path, method) for path, methods in app.routes.items() for method in methods}
    console = {(path, method) for method, path in CONSOLE_ROUTES}  # HTML and assets, not JSON API
    assert documented == served - console


def test_openapi_schemas_come_from_the_validating_models(api: Api) -> None:
    document = api.get("/openapi.json").json_body
    create = document["paths"]["/messages"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert {"appId", "payload", "sendAt", "delaySeconds", "idempotencyKey", "maxAttempts", "notAfter"} == set(
        schema["properties"]
    )
    assert schema["properties"]["sendAt"]["anyOf"][0] == {"type": "string", "format": "date-time"}
    assert {"201", "200", "400", "401", "403", "404", "409", "413", "429"} <= set(create["responses"])
    assert document["paths"]["/health"]["get"]["security"] == []


def test_openapi_is_built_once() -> None:
    assert openapi.document() is openapi.document()
    assert openapi.document_json() is openapi.document_json()


def test_405_is_in_our_shape_with_allow(admin: Api) -> None:
    response = admin.request("PUT", "/apps")
    assert response.status_code == 405
    assert response.json_body["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_415_is_in_our_shape(admin: Api) -> None:
    response = admin.post("/apps", raw=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.json_body["error"]["code"] == "unsupported_media_type"


def test_json_with_charset_is_accepted(admin: Api) -> None:
    body = json.dumps({"name": "a", "url": "https://example.com/"}).encode()
    response = admin.post("/apps", raw=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201


def _call_middleware(response: Response) -> Response:
    request = SimpleNamespace(method="GET", path="/x", context={"path": "/x"})
    return error_middleware(request, lambda _request: response)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("chalice_code", "status", "ours"),
    [
        ("NotFoundError", 404, "not_found"),
        ("BadRequestError", 400, "bad_request"),
        ("UnauthorizedError", 401, "unauthorized"),
        ("ForbiddenError", 403, "forbidden"),
        ("TooManyRequestsError", 429, "rate_limited"),
        ("SomethingNew", 418, "http_418"),
    ],
)
def test_middleware_rewrites_chalice_errors(chalice_code: str, status: int, ours: str) -> None:
    rewritten = _call_middleware(Response(body={"Code": chalice_code, "Message": "m"}, status_code=status))
    assert rewritten.status_code == status
    assert rewritten.body["error"]["code"] == ours


def test_middleware_rewrites_chalice_bad_json_and_500() -> None:
    bad = _call_middleware(Response(body={"Code": "BadRequestError", "Message": "Error Parsing JSON"}, status_code=400))
    assert bad.body["error"]["code"] == "invalid_json"
    trace = _call_middleware(Response(body="Traceback (most recent call last): secret", status_code=500))
    assert trace.body == {"error": {"code": "internal_error", "message": "An internal error occurred."}}


def test_middleware_leaves_successes_alone() -> None:
    ok = Response(body={"Code": "not an error"}, status_code=200)
    assert _call_middleware(ok) is ok


def test_unknown_path_is_a_404_in_our_shape_behind_the_local_server(ctx: Context) -> None:
    from scheduler_local.wsgi import ChaliceWSGI

    served: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        served["status"] = status

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/nope/nothing/here", "wsgi.input": io.BytesIO(b"")}
    body = b"".join(ChaliceWSGI(app)(environ, start_response))
    assert served["status"].startswith("404")
    assert json.loads(body)["error"]["code"] == "not_found"


def test_unexpected_errors_are_a_generic_500_and_logged(
    admin: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(apps_service, "list_apps", boom)
    with caplog.at_level(logging.ERROR):
        response = admin.get("/apps")
    assert response.status_code == 500
    assert response.json_body == {"error": {"code": "internal_error", "message": "An internal error occurred."}}
    assert b"hunter2" not in response.body
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)


def test_a_bare_domain_error_is_a_generic_500(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def odd(*_args: Any, **_kwargs: Any) -> None:
        raise SchedulerError("internal detail")

    monkeypatch.setattr(apps_service, "list_apps", odd)
    response = admin.get("/apps")
    assert response.status_code == 500
    assert b"internal detail" not in response.body


def test_storage_unavailable_is_a_503_with_retry_after(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(*_args: Any, **_kwargs: Any) -> None:
        raise StorageUnavailable("database is locked", retry_after_s=2)

    monkeypatch.setattr(apps_service, "list_apps", busy)
    response = admin.get("/apps")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json_body["error"]["code"] == "storage_unavailable"
