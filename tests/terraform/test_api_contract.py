"""terraform/api.tf against the app and the contract: API keys come from the authorizer and every secured
route requires one (or usage plans throttle nothing), API Gateway's own errors use the app's error
shape, one usage plan per plan, a stage with access logs."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from chalicelib.console.routes import ROUTES as CONSOLE_ROUTES
from tests.terraform.hcl import ROOT, blocks, one, stack, unwrap

REQUIRED_RESPONSES = {
    "UNAUTHORIZED": (401, "unauthorized"),
    "ACCESS_DENIED": (403, "forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),
    "THROTTLED": (429, "rate_limited"),
    "QUOTA_EXCEEDED": (429, "quota_exceeded"),
    "DEFAULT_4XX": (400, None),
    "DEFAULT_5XX": (500, "internal_error"),
}


def app_error_codes() -> set[str]:
    """Every `code` the app answers with (domain errors and the HTTP layer's own)."""
    codes = set()
    for module in ["chalicelib/domain/errors.py", "chalicelib/api/errors.py"]:
        for node in ast.walk(ast.parse((ROOT / module).read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"[a-z]+(_[a-z]+)+|[a-z]+", node.value)
            ):
                codes.add(node.value)
    return codes


def gateway_errors() -> dict[str, list[Any]]:
    return dict(stack().locals["gateway_errors"])


@pytest.mark.parametrize("response_type", sorted(REQUIRED_RESPONSES))
def test_gateway_response_is_defined_with_the_contract_status(response_type: str) -> None:
    status, code = REQUIRED_RESPONSES[response_type]
    defined = gateway_errors()[response_type]
    assert defined[0] == status
    if code is not None:
        assert defined[1] == code


@pytest.mark.parametrize("response_type", sorted(stack().locals["gateway_errors"]))
def test_gateway_response_codes_are_the_apps(response_type: str) -> None:
    status, code, message = gateway_errors()[response_type]
    assert code in app_error_codes(), f"{response_type}: {code} is not an error code of the app"
    assert 400 <= status < 600 and len(message) > 5
    assert "$" not in message, "gateway response templates are VTL: no $ in the message"


def test_gateway_responses_render_the_error_shape() -> None:
    responses = str(stack().locals["gateway_responses"])
    assert "jsonencode({error = {code = error[1], message = error[2]}})" in re.sub(r"\s+", " ", responses)
    assert "gatewayresponse.header.Content-Type" in responses
    retry_after = stack().locals["retry_after"]
    assert set(retry_after) >= {"THROTTLED", "QUOTA_EXCEEDED"}
    assert all(re.fullmatch(r"'\d+'", value) for value in retry_after.values())


def test_api_keys_come_from_the_authorizer() -> None:
    api = stack().resource("aws_api_gateway_rest_api", "this")
    assert api["api_key_source"] == "AUTHORIZER"
    assert unwrap(api["body"]) == "jsonencode(local.openapi)"
    openapi = str(stack().locals["openapi"])
    assert "x-amazon-apigateway-api-key-source" in openapi and "AUTHORIZER" in openapi
    assert "x-amazon-apigateway-gateway-responses" in openapi


def generated_swagger() -> dict[str, Any]:
    """The OpenAPI document `chalice package` puts in the body (generated from the app here)."""
    from chalice.deploy.swagger import TerraformSwaggerGenerator

    from app import app

    return dict(TerraformSwaggerGenerator().generate_swagger(app))


def test_every_secured_route_requires_an_api_key_and_the_authorizer() -> None:
    public = {("/health", "get"), ("/openapi.json", "get")}
    public |= {(path, method.lower()) for method, path in CONSOLE_ROUTES}  # the console signs in in the browser
    operator = {path for path in generated_swagger()["paths"] if path.startswith("/tenants")}
    for path, methods in generated_swagger()["paths"].items():
        for method, operation in methods.items():
            if method == "options":
                continue
            security = {name for requirement in operation.get("security", []) for name in requirement}
            if (path, method) in public:
                assert not security, f"{method.upper()} {path} must stay open"
            elif path in operator:
                assert security == {"authorizer"}, f"{method.upper()} {path}: operator routes have no usage key"
            else:
                assert security == {"api_key", "authorizer"}, f"{method.upper()} {path}: {security}"


def test_the_body_placeholders_are_the_ones_terraform_fills() -> None:
    json_text = json.dumps(generated_swagger())
    placeholders = set(re.findall(r"\$\{[^}]+\}", json_text))
    assert placeholders == {
        "${aws_lambda_function.api_handler.invoke_arn}",
        "${aws_lambda_function.authorizer.invoke_arn}",
    }
    replaced = str(stack().locals["chalice_openapi"])
    for placeholder in placeholders:
        assert "$" + placeholder in replaced, f"api.tf does not fill {placeholder}"


def test_one_usage_plan_per_plan_on_this_stage() -> None:
    plan = stack().resource("aws_api_gateway_usage_plan", "this")
    assert unwrap(plan["for_each"]) == "var.plans"
    [stage] = blocks(plan, "api_stages")
    assert unwrap(stage["api_id"]) == "aws_api_gateway_rest_api.this.id"
    assert unwrap(stage["stage"]) == "aws_api_gateway_stage.this.stage_name"
    dynamic = {name: body for block in plan["dynamic"] for name, body in block.items()}
    assert set(dynamic) == {"throttle_settings", "quota_settings"}
    quota = one(dynamic["quota_settings"], "content")
    assert quota["period"] == "DAY" and unwrap(quota["limit"]) == "quota_settings.value.daily_quota"


def test_the_stage_logs_access_and_traces() -> None:
    stage = stack().resource("aws_api_gateway_stage", "this")
    logs = one(stage, "access_log_settings")
    assert unwrap(logs["destination_arn"]) == "aws_cloudwatch_log_group.api_access.arn"
    assert stage["xray_tracing_enabled"] is True
    assert stage["stage_name"] == "api"
    settings = one(stack().resource("aws_api_gateway_method_settings", "all"), "settings")
    assert settings["metrics_enabled"] is True and settings["data_trace_enabled"] is False


def test_a_new_deployment_follows_every_body_change() -> None:
    deployment = stack().resource("aws_api_gateway_deployment", "this")
    assert unwrap(deployment["triggers"]["body"]) == "sha1(aws_api_gateway_rest_api.this.body)"
    assert one(deployment, "lifecycle")["create_before_destroy"] is True


def test_the_authorizer_ttl_and_header_are_what_the_app_declares() -> None:
    from chalicelib import authorizer

    scheme = generated_swagger()["securityDefinitions"]["authorizer"]
    assert scheme["name"] == "Authorization"
    assert scheme["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == authorizer.TTL_S <= 60
