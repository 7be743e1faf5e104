"""The Terraform expression evaluator of `make run-aws` (awslocal/hcl.py)."""

from __future__ import annotations

import pytest

from awslocal.hcl import HclError, Scope, evaluate, optional_defaults

SCOPE = Scope(
    {
        "var": {"stage": "dev", "plans": {"free": {"rate": 10, "burst": None}, "unlimited": {"rate": None}}},
        "local": {"name": "scheduler-dev", "timeouts": {"deliver": 30}},
    }
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("plain", "plain"),
        ("${local.name}-release", "scheduler-dev-release"),
        ("${6 * local.timeouts.deliver}", 180),
        ("${4 * 24 * 3600}", 345600),
        ("$${aws_lambda_function.x.arn}", "${aws_lambda_function.x.arn}"),
        ('${var.stage == "dev" ? "a" : "b"}', "a"),
        ("${var.plans.unlimited.rate == null ? [] : [1]}", []),
        ('${jsonencode({a = 1, "b-c" = [true, null]})}', '{"a":1,"b-c":[true,null]}'),
        ("${coalesce(var.plans.free.burst, ceil(var.plans.free.rate / 3))}", 4),
        ("${merge({a = 1, b = 2}, {b = 3})}", {"a": 1, "b": 3}),
        ("${{for name, plan in var.plans : name => plan.rate if plan.rate != null}}", {"free": 10}),
        ("${[for name in keys(var.plans) : upper(name)]}", ["FREE", "UNLIMITED"]),
        ('${lookup({x = "1"}, "y", "")}', ""),
        ('${"arn:${local.name}:${tostring(local.timeouts["deliver"])}"}', "arn:scheduler-dev:30"),
        ('${!startswith(local.name, "sched")}', False),
    ],
)
def test_expressions(text: str, value: object) -> None:
    assert evaluate(text, SCOPE) == value


def test_unknown_names_and_functions_are_errors_naming_the_expression() -> None:
    with pytest.raises(HclError, match="unknown name 'nope'"):
        evaluate("${nope.x}", SCOPE)
    with pytest.raises(HclError, match=r"filebase64sha256\(\) is not supported"):
        evaluate('${filebase64sha256("x")}', SCOPE)
    with pytest.raises(HclError, match="no 'missing'"):
        evaluate("${local.missing}", SCOPE)


def test_optional_attribute_defaults_of_a_variable_type() -> None:
    text = "${object({api_handler = optional(number, 512), authorizer = optional(number, 256), x = optional(string)})}"
    assert optional_defaults(text) == {"api_handler": 512, "authorizer": 256}
