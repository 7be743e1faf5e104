"""terraform/*.tf against the AWS provider's schema (tests/terraform/provider_schema.py says where it
comes from): resource and data source types, argument and nested block names, required arguments."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.terraform import provider_schema
from tests.terraform.hcl import stack


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return provider_schema.load()


def test_the_schema_is_the_pinned_provider_release(schema: dict[str, Any]) -> None:
    assert schema["package"] == provider_schema.PACKAGE
    assert schema["provider_version"] == provider_schema.PROVIDER_VERSION
    assert provider_schema.PROVIDER_VERSION.startswith("6.")  # versions.tf: ~> 6.0
    assert {"aws_sqs_queue", "aws_lambda_function", "aws_scheduler_schedule_group"} <= schema["resources"].keys()


def test_every_resource_and_data_source_matches_the_schema(schema: dict[str, Any]) -> None:
    assert provider_schema.problems(stack().files, schema) == []


def edited(path: list[str], change: Any) -> dict[str, Any]:
    """A copy of the parsed files with one block changed by `change(block)`."""
    files = copy.deepcopy(stack().files)
    filename, section, kind, name = path
    for block in files[filename][section]:
        if kind in block and name in block[kind]:
            change(block[kind][name])
    return files


def test_a_misspelt_argument_fails(schema: dict[str, Any]) -> None:
    def misspell(body: dict[str, Any]) -> None:
        body["visibility_timeout_second"] = body.pop("visibility_timeout_seconds")

    found = provider_schema.problems(edited(["sqs.tf", "resource", "aws_sqs_queue", "release"], misspell), schema)
    assert found == ["sqs.tf: resource aws_sqs_queue.release: unknown argument or block 'visibility_timeout_second'"]


def test_a_misspelt_nested_block_argument_fails(schema: dict[str, Any]) -> None:
    def misspell(body: dict[str, Any]) -> None:
        body["ttl"][0]["attribute"] = body["ttl"][0].pop("attribute_name")

    found = provider_schema.problems(
        edited(["dynamodb.tf", "resource", "aws_dynamodb_table", "messages"], misspell), schema
    )
    assert any("aws_dynamodb_table.messages.ttl: unknown argument or block 'attribute'" in p for p in found)


def test_a_missing_required_argument_fails(schema: dict[str, Any]) -> None:
    found = provider_schema.problems(
        edited(["lambda.tf", "resource", "aws_lambda_function", "deliver"], lambda body: body.pop("role")), schema
    )
    assert found == ["lambda.tf: resource aws_lambda_function.deliver: required argument 'role' is not set"]


def test_an_unknown_resource_type_and_a_wrong_dynamic_block_fail(schema: dict[str, Any]) -> None:
    files = copy.deepcopy(stack().files)
    files["sqs.tf"]["resource"].append({"aws_sqs_queues": {"extra": {"name": "x"}}})

    def rename_dynamic(body: dict[str, Any]) -> None:
        body["dynamic"][0] = {"throttle": body["dynamic"][0]["throttle_settings"]}

    files["api.tf"] = edited(["api.tf", "resource", "aws_api_gateway_usage_plan", "this"], rename_dynamic)["api.tf"]
    found = provider_schema.problems(files, schema)
    assert "sqs.tf: resource aws_sqs_queues.extra: the provider has no resource type aws_sqs_queues" in found
    assert "api.tf: resource aws_api_gateway_usage_plan.this: dynamic 'throttle' is not a block of this type" in found
