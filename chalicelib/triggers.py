"""The non-HTTP Lambdas of the app (a Chalice blueprint; deployed as `scheduler-<stage>-<name>`):

- `deliver`: the target of every message schedule (EventBridge Scheduler input, re-queued to SQS)
  and of recurring schedules' run events (`kind: run`, see `adapters.aws.recurring_runs`), and the
  consumer of the release queue (an SQS event source mapping with `ReportBatchItemFailures`,
  declared in Terraform: Chalice's `on_sqs_message` cannot report partial failures). The records of
  one batch run concurrently; each failed record is reported alone, never the whole batch.
- `cleanup`: every minute (see `adapters.aws.cleanup`).
- `post_confirmation`: the Cognito Post Confirmation trigger (see `adapters.aws.provisioning`).
- `meter`: the consumer of the messages table's stream (a DynamoDB event source mapping declared in
  terraform/meter.tf): adds each batch to the usage counters, once (see `adapters.aws.meter`). A
  failure raises, so the mapping retries the batch from its first record.

Handlers stay thin: the work is in `chalicelib.adapters.aws`, built lazily by the composition root
(`chalicelib.bootstrap`); boto3 and Powertools are imported on first use, so the local server never
loads them. Inside Lambda, `chalicelib.warmup` builds what the function uses in the init phase.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib import bootstrap, observability, warmup

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.adapters.aws.delivery import DeliveryWorker

MAX_BATCH = 10

bp = Blueprint(__name__)


@bp.lambda_function(name="deliver")
@observability.lambda_handler
def deliver(event: Any, context: Any) -> dict[str, Any]:
    """Scheduler event → re-queue with the seconds left; SQS batch → deliver each record."""
    worker = bootstrap.aws_runtime().worker
    if isinstance(event, dict) and "Records" in event:
        return deliver_batch(worker, event, context)
    if isinstance(event, dict) and event.get("kind") == "run":  # a recurring schedule's firing
        return {"result": bootstrap.aws_runtime().recurring_runs.on_event(event)}
    with observability.message_scope(str(event.get("messageId", "")) if isinstance(event, dict) else ""):
        return {"result": worker.on_schedule(event)}


def deliver_batch(worker: DeliveryWorker, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run the records concurrently, then report them through Powertools' `BatchProcessor`."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    records = event.get("Records") or []
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_BATCH, len(records)))) as pool:
        running: dict[int, Future[str]] = {id(record): pool.submit(_release, worker, record) for record in records}

        def outcome(record: SQSRecord) -> str:
            return running[id(record.raw_event)].result()

        # Even when every record failed, report them one by one rather than failing the invocation.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return dict(process_partial_response(event=event, record_handler=outcome, processor=processor, context=context))


def _release(worker: DeliveryWorker, record: dict[str, Any]) -> str:
    from chalicelib.adapters.aws.delivery import PoisonRecord

    try:
        body = json.loads(record.get("body") or "")
    except ValueError as exc:
        raise PoisonRecord("the record body is not JSON") from exc
    if isinstance(body, dict) and body.get("kind") == "run":  # a recurring schedule's run event
        redelivered = str(record.get("attributes", {}).get("ApproximateReceiveCount", "1")) != "1"
        return bootstrap.aws_runtime().recurring_runs.on_event(body, redelivered=redelivered)
    message_id = str(body.get("messageId", "")) if isinstance(body, dict) else ""
    with observability.message_scope(message_id, tenant_id=str(body.get("tenantId", "")) if message_id else ""):
        return worker.on_release(body)


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="cleanup")
def cleanup(event: CloudWatchEvent) -> dict[str, Any]:
    """Arm what stayed unarmed, take back expired leases; every fifth minute, prune stale schedules."""
    from chalicelib.adapters.aws.cleanup import is_sweep_minute

    try:
        report = bootstrap.aws_runtime().cleanup.run(sweep_schedules=is_sweep_minute(event.time))
        observability.logger().info("cleanup run", extra=report.as_dict())
        return report.as_dict()
    finally:
        observability.flush()


@bp.lambda_function(name="post_confirmation")
@observability.lambda_handler
def post_confirmation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Cognito Post Confirmation: create the tenant and its usage key; return the event."""
    return bootstrap.aws_runtime().provisioner.on_post_confirmation(event)


@bp.lambda_function(name="meter")
@observability.lambda_handler
def meter(event: dict[str, Any], context: Any) -> dict[str, int]:
    """A stream batch of the messages table → the usage counters; raises to have the batch retried."""
    report = bootstrap.aws_runtime().meter.apply(event.get("Records") or [])
    observability.logger().info("meter batch", extra=report.as_dict())
    return report.as_dict()


warmup.at_init(__name__)  # in Lambda's init phase only (see chalicelib.warmup)
