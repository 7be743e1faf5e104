"""Events shaped as AWS sends them to the Lambdas (what the handlers are tested with)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.aws.support import ACCOUNT, REGION


def sqs_event(bodies: list[str], queue: str = "scheduler-test-release") -> dict[str, Any]:
    """An SQS event source mapping batch: one record per body, each with its own message id."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"AQEB{uuid.uuid4().hex}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1800000000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1800000000001",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }


def sqs_event_from(received: list[dict[str, Any]], queue: str = "scheduler-test-release") -> dict[str, Any]:
    """The event the event source mapping builds from messages it received from the queue."""
    event = sqs_event([m["Body"] for m in received], queue)
    for record, message in zip(event["Records"], received, strict=True):
        record["messageId"] = message["MessageId"]
        record["receiptHandle"] = message["ReceiptHandle"]
    return event


def scheduler_input(target_input: str) -> dict[str, Any]:
    """What EventBridge Scheduler passes a Lambda target: the schedule's `Input`, parsed."""
    return dict(json.loads(target_input))


def scheduled_event(time: str = "2027-01-15T08:05:00Z") -> dict[str, Any]:
    """An EventBridge rule's scheduled event (what `@app.schedule` receives)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/scheduler-test-cleanup"],
        "detail": {},
    }


def post_confirmation(
    sub: str, email: str = "ada@example.com", trigger: str = "PostConfirmation_ConfirmSignUp"
) -> dict[str, Any]:
    """A Cognito Post Confirmation trigger event."""
    return {
        "version": "1",
        "region": REGION,
        "userPoolId": f"{REGION}_AbCdEfGhI",
        "userName": "ada",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client123"},
        "triggerSource": trigger,
        "request": {
            "userAttributes": {"sub": sub, "email": email, "email_verified": "true", "cognito:user_status": "CONFIRMED"}
        },
        "response": {},
    }


def token_event(token: str, path: str = "GET/messages") -> dict[str, Any]:
    """An API Gateway TOKEN authorizer event."""
    return {
        "type": "TOKEN",
        "authorizationToken": token,
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/api/{path}",
    }


def scheduler_fire(target_input: str, scheduled_time: str) -> dict[str, Any]:
    """What EventBridge Scheduler passes a Lambda target when a recurring schedule fires: its `Input`
    with the context attributes replaced (`<aws.scheduler.scheduled-time>` by the nominal time)."""
    filled = target_input.replace("<aws.scheduler.scheduled-time>", scheduled_time)
    return dict(json.loads(filled))
