"""The DynamoDB tables of terraform/dynamodb.tf are the tables of `chalicelib.adapters.aws.tables`
(which the moto stacks of the tests and benchmarks are created from): the `create_table` keyword
arguments built from each `aws_dynamodb_table` resource equal the `TABLES` entry (keys, indexes, the
stream), and so does TTL."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.aws import tables
from tests.terraform.hcl import blocks, one, stack, unwrap

PREFIX = "${local.name}-"


def terraform_tables() -> dict[str, dict[str, Any]]:
    """Suffix -> resource block of every table."""
    found = {}
    for resource in stack().of_kind("aws_dynamodb_table").values():
        name = str(resource["name"])
        assert name.startswith(PREFIX), f"table {name}: name it <prefix>-<suffix> (SCHEDULER_TABLE_PREFIX)"
        found[name.removeprefix(PREFIX)] = resource
    return found


def _key(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def create_table_kwargs(suffix: str, resource: dict[str, Any]) -> dict[str, Any]:
    """What `create_table` would be called with for this resource (TableName = the suffix)."""
    spec: dict[str, Any] = {
        "TableName": suffix,
        "BillingMode": resource["billing_mode"],
        "KeySchema": _key(resource["hash_key"], resource.get("range_key")),
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in blocks(resource, "attribute")
        ],
    }
    indexes = []
    for gsi in blocks(resource, "global_secondary_index"):
        projection: dict[str, Any] = {"ProjectionType": gsi["projection_type"]}
        if gsi.get("non_key_attributes"):
            projection["NonKeyAttributes"] = list(gsi["non_key_attributes"])
        indexes.append(
            {
                "IndexName": gsi["name"],
                "KeySchema": _key(gsi["hash_key"], gsi.get("range_key")),
                "Projection": projection,
            }
        )
    if indexes:
        spec["GlobalSecondaryIndexes"] = indexes
    if resource.get("stream_enabled"):
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": resource["stream_view_type"]}
    return spec


def _sorted(spec: dict[str, Any]) -> dict[str, Any]:
    """Attribute definitions and indexes in a stable order (their order carries no meaning)."""
    spec = dict(spec)
    spec["AttributeDefinitions"] = sorted(spec["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    if "GlobalSecondaryIndexes" in spec:
        spec["GlobalSecondaryIndexes"] = sorted(spec["GlobalSecondaryIndexes"], key=lambda g: g["IndexName"])
    return spec


def test_terraform_defines_exactly_the_tables_of_the_code() -> None:
    assert sorted(terraform_tables()) == sorted(spec["TableName"] for spec in tables.TABLES)


@pytest.mark.parametrize("spec", tables.TABLES, ids=lambda s: s["TableName"])
def test_keys_attribute_types_and_indexes_match(spec: dict[str, Any]) -> None:
    resource = terraform_tables()[spec["TableName"]]
    assert _sorted(create_table_kwargs(spec["TableName"], resource)) == _sorted(spec)


@pytest.mark.parametrize("spec", tables.TABLES, ids=lambda s: s["TableName"])
def test_ttl_attribute_matches(spec: dict[str, Any]) -> None:
    resource = terraform_tables()[spec["TableName"]]
    ttl = blocks(resource, "ttl")
    expected = tables.TTL.get(spec["TableName"])
    if expected is None:
        assert not ttl, f"{spec['TableName']}: the code expires nothing here"
    else:
        assert ttl == [{"attribute_name": expected, "enabled": True}]


@pytest.mark.parametrize("suffix", sorted(terraform_tables()))
def test_every_table_is_recoverable_encrypted_and_protected(suffix: str) -> None:
    resource = terraform_tables()[suffix]
    assert one(resource, "point_in_time_recovery") == {"enabled": True}
    assert one(resource, "server_side_encryption")["enabled"] is True
    assert unwrap(resource["deletion_protection_enabled"]) == "var.deletion_protection"


def test_the_moto_stack_built_from_terraform_matches_the_code() -> None:
    """Create the tables from the Terraform-derived kwargs under moto, then describe them."""
    import boto3
    from moto import mock_aws

    from tests.aws.support import aws_env

    with aws_env(), mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for suffix, resource in terraform_tables().items():
            client.create_table(**{**create_table_kwargs(suffix, resource), "TableName": f"tf-{suffix}"})
        for spec in tables.TABLES:
            described = client.describe_table(TableName=f"tf-{spec['TableName']}")["Table"]
            assert described["KeySchema"] == spec["KeySchema"]
            assert {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])} == {
                i["IndexName"] for i in spec.get("GlobalSecondaryIndexes", [])
            }
