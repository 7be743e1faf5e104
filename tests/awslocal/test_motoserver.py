"""moto as `make run-aws` runs it (awslocal/motoserver.py): a real server process on loopback."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import boto3
import httpx
import pytest
from botocore.config import Config

from awslocal.motoserver import HARNESS_AGENT
from awslocal.processes import Child, base_env, python


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    child = Child("moto", python("awslocal.motoserver", "--port", "0"), base_env({}), ready="moto listening")
    yield child.start()
    child.stop()


def dynamodb(url: str, agent: str | None = None) -> object:
    config = Config(user_agent_extra=agent) if agent else None
    return boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s",
        config=config,
    )  # fmt: skip


@pytest.fixture(scope="module")
def table(moto: str) -> str:
    dynamodb(moto).create_table(  # type: ignore[attr-defined]
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "t"


def test_a_cancelled_transaction_leaves_every_item_as_it_was(moto: str, table: str) -> None:
    client = dynamodb(moto)
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})  # type: ignore[attr-defined]
    with pytest.raises(client.exceptions.TransactionCanceledException):  # type: ignore[attr-defined]
        client.transact_write_items(  # type: ignore[attr-defined]
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "c"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    items = {i["pk"]["S"]: i for i in client.scan(TableName=table)["Items"]}  # type: ignore[attr-defined]
    assert set(items) == {"a"} and items["a"]["v"] == {"N": "1"}


def test_concurrent_transactions_all_commit(moto: str, table: str) -> None:
    def write(n: int) -> None:
        client = dynamodb(moto)
        for i in range(20):
            client.transact_write_items(  # type: ignore[attr-defined]
                TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": f"w{n}-{i}"}}}}]
            )

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    scanned = dynamodb(moto).scan(TableName=table, Select="COUNT")  # type: ignore[attr-defined]
    assert scanned["Count"] >= 160


def test_calls_are_counted_by_caller_service_and_action(moto: str, table: str) -> None:
    httpx.post(f"{moto}/_awslocal/calls/reset")
    dynamodb(moto, HARNESS_AGENT).get_item(TableName=table, Key={"pk": {"S": "a"}})  # type: ignore[attr-defined]
    dynamodb(moto, "app/deliver").get_item(TableName=table, Key={"pk": {"S": "a"}})  # type: ignore[attr-defined]
    assert httpx.get(f"{moto}/_awslocal/calls").json() == {
        "harness dynamodb GetItem": 1,
        "lambda:deliver dynamodb GetItem": 1,
    }
