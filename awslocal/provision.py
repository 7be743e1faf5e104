"""Creates the stack's resources in moto from Terraform's definitions (a one-machine `terraform apply`).

What runs here: the DynamoDB tables (keys, attributes, GSIs, TTL), the SQS queues (visibility timeout,
retention, redrive policy, redrive-allow policy), the schedule group, the KMS keys and aliases, and
one API Gateway usage plan per plan (throttle, quota). What is not created has only the attributes
its references need: function and role ARNs from their names, and empty ids for Cognito (no user
pool here: sign-up needs Cognito's hosted JWKS, which is not on this machine).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from awslocal.terraform import Block

log = logging.getLogger("awslocal.provision")


def _first(blocks: Any) -> Mapping[str, Any]:
    return blocks[0] if blocks else {}


class MotoProvider:
    """The `Provider` of `awslocal.terraform` on a moto server (`session` talks to it)."""

    def __init__(self, session: Any, *, account_id: str, region: str) -> None:
        self._session = session
        self._account = account_id
        self._region = region
        self._clients: dict[str, Any] = {}
        self.created: list[str] = []

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def computed(self, kind: str, name: str, args: Block) -> dict[str, Any]:
        """Create a resource instance where moto has the service; else compute its attributes."""
        make = getattr(self, "_" + kind.removeprefix("aws_"), None)
        if make is None:
            return self._not_created(kind, args)
        attributes: dict[str, Any] = make(args)
        self.created.append(f"{kind}.{name}")
        log.info("created %s.%s", kind, name)
        return attributes

    def _arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self._region if region else ''}:{self._account}:{resource}"

    def _not_created(self, kind: str, args: Block) -> dict[str, Any]:
        if kind == "aws_lambda_function":
            name = args["function_name"]
            arn = self._arn("lambda", f"function:{name}")
            invoke = f"arn:aws:apigateway:{self._region}:lambda:path/2015-03-31/functions/{arn}/invocations"
            return {"arn": arn, "invoke_arn": invoke, "id": name}
        if kind == "aws_iam_role":
            return {"arn": self._arn("iam", f"role/{args['name']}", region=False), "id": args["name"]}
        return {"id": "", "arn": ""}  # e.g. Cognito: not on this machine

    # ---- DynamoDB ------------------------------------------------------------------------------

    def _dynamodb_table(self, args: Block) -> dict[str, Any]:
        name = args["name"]
        key = [{"AttributeName": args["hash_key"], "KeyType": "HASH"}]
        if args.get("range_key"):
            key.append({"AttributeName": args["range_key"], "KeyType": "RANGE"})
        request: dict[str, Any] = {
            "TableName": name,
            "BillingMode": args.get("billing_mode", "PROVISIONED"),
            "KeySchema": key,
            "AttributeDefinitions": [
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in args.get("attribute", [])
            ],
        }
        indexes = [self._gsi(index) for index in args.get("global_secondary_index", [])]
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if args.get("stream_enabled"):
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": args["stream_view_type"]}
        client = self._client("dynamodb")
        table = client.create_table(**request)["TableDescription"]
        ttl = _first(args.get("ttl"))
        if ttl.get("enabled"):
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attribute_name"]}
            )
        stream = table.get("LatestStreamArn", "")
        return {"id": name, "arn": self._arn("dynamodb", f"table/{name}"), "stream_arn": stream}

    @staticmethod
    def _gsi(index: Mapping[str, Any]) -> dict[str, Any]:
        key = [{"AttributeName": index["hash_key"], "KeyType": "HASH"}]
        if index.get("range_key"):
            key.append({"AttributeName": index["range_key"], "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": index["projection_type"]}
        if index.get("non_key_attributes"):
            projection["NonKeyAttributes"] = list(index["non_key_attributes"])
        return {"IndexName": index["name"], "KeySchema": key, "Projection": projection}

    # ---- SQS -----------------------------------------------------------------------------------

    _QUEUE_ATTRIBUTES = {
        "visibility_timeout_seconds": "VisibilityTimeout",
        "message_retention_seconds": "MessageRetentionPeriod",
        "delay_seconds": "DelaySeconds",
        "receive_wait_time_seconds": "ReceiveMessageWaitTimeSeconds",
        "max_message_size": "MaximumMessageSize",
        "redrive_policy": "RedrivePolicy",
        "sqs_managed_sse_enabled": "SqsManagedSseEnabled",
    }

    def _sqs_queue(self, args: Block) -> dict[str, Any]:
        attributes = {
            attribute: json.dumps(args[arg]) if isinstance(args[arg], bool) else str(args[arg])
            for arg, attribute in self._QUEUE_ATTRIBUTES.items()
            if arg in args
        }
        url = self._client("sqs").create_queue(QueueName=args["name"], Attributes=attributes)["QueueUrl"]
        return {"id": url, "url": url, "arn": self._arn("sqs", args["name"])}

    def _sqs_queue_redrive_allow_policy(self, args: Block) -> dict[str, Any]:
        self._client("sqs").set_queue_attributes(
            QueueUrl=args["queue_url"], Attributes={"RedriveAllowPolicy": args["redrive_allow_policy"]}
        )
        return {"id": args["queue_url"]}

    # ---- EventBridge Scheduler, KMS, API Gateway -----------------------------------------------

    def _scheduler_schedule_group(self, args: Block) -> dict[str, Any]:
        arn = self._client("scheduler").create_schedule_group(Name=args["name"])["ScheduleGroupArn"]
        return {"id": args["name"], "arn": arn}

    def _kms_key(self, args: Block) -> dict[str, Any]:
        client = self._client("kms")
        metadata = client.create_key(Description=args.get("description", ""))["KeyMetadata"]
        if args.get("enable_key_rotation"):
            client.enable_key_rotation(KeyId=metadata["KeyId"])
        return {"id": metadata["KeyId"], "key_id": metadata["KeyId"], "arn": metadata["Arn"]}

    def _kms_alias(self, args: Block) -> dict[str, Any]:
        self._client("kms").create_alias(AliasName=args["name"], TargetKeyId=args["target_key_id"])
        return {"id": args["name"], "arn": self._arn("kms", args["name"])}

    def _api_gateway_usage_plan(self, args: Block) -> dict[str, Any]:
        request: dict[str, Any] = {"name": args["name"], "description": args.get("description", "")}
        throttle = _first(args.get("throttle_settings"))
        if throttle:
            request["throttle"] = {
                "rateLimit": float(throttle["rate_limit"]),
                "burstLimit": int(throttle["burst_limit"]),
            }
        quota = _first(args.get("quota_settings"))
        if quota:
            request["quota"] = {"limit": int(quota["limit"]), "period": quota["period"]}
        plan = self._client("apigateway").create_usage_plan(**request)
        return {"id": plan["id"], "arn": self._arn("apigateway", f"/usageplans/{plan['id']}", region=True)}
