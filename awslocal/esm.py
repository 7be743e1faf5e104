"""The SQS event source mapping: Lambda's pollers on a queue, with AWS's semantics.

Pollers long-poll the queue (`WaitTimeSeconds=20`, up to `batch_size` messages; batching window 0
returns a batch at once) and invoke the function synchronously with the SQS event. At most
`concurrency` invocations run at once: the mapping's `maximum_concurrency`, capped by the function's
reserved concurrency. After the invocation:
- success without `ReportBatchItemFailures`: every record is deleted;
- success with it: records named in `batchItemFailures` stay, the rest are deleted (a malformed
  response, or an unknown `itemIdentifier`, fails the whole batch, as AWS does);
- a function error or timeout: nothing is deleted.
Records left behind come back after the queue's visibility timeout, and SQS moves a record to the
DLQ after the redrive policy's `maxReceiveCount` receives (moto implements that part).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from awslocal.deployment import QueueMapping
from awslocal.lambdas import LambdaFunction

log = logging.getLogger("awslocal.esm")

POLLERS = 5  # what Lambda starts an SQS mapping with
WAIT_S = 20


class QueueMappingDriver:
    """One event source mapping (see the module docstring); `sqs` is a boto3 client."""

    def __init__(self, sqs: Any, mapping: QueueMapping, queue_url: str, function: LambdaFunction, region: str) -> None:
        self._sqs = sqs
        self._mapping = mapping
        self._url = queue_url
        self._function = function
        self._region = region
        limits = [c for c in (mapping.max_concurrency, function.function.reserved_concurrency) if c]
        self.concurrency = min(limits) if limits else 1000
        self._slots = asyncio.Semaphore(self.concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self.invocations = 0
        self.deleted = 0

    async def run(self) -> None:
        """Poll until cancelled."""
        log.info(
            "event source mapping: %s -> %s, batches of <= %d, %d concurrent invocations, partial failures %s",
            self._mapping.queue_arn.rsplit(":", 1)[-1],
            self._function.function.key,
            self._mapping.batch_size,
            self.concurrency,
            "reported" if self._mapping.report_failures else "off",
        )
        pollers = [asyncio.create_task(self._poll()) for _ in range(min(POLLERS, self.concurrency))]
        try:
            await asyncio.gather(*pollers)
        finally:
            for task in [*pollers, *self._running]:
                task.cancel()

    async def _poll(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                messages = await asyncio.to_thread(self._receive)
            except Exception:
                self._slots.release()
                log.exception("event source mapping: receive failed")
                await asyncio.sleep(1)
                continue
            if not messages:
                self._slots.release()
                continue
            task = asyncio.create_task(self._invoke(messages))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _receive(self) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._mapping.batch_size,
            WaitTimeSeconds=WAIT_S,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    async def _invoke(self, messages: list[dict[str, Any]]) -> None:
        try:
            event = {"Records": [self._record(m) for m in messages]}
            self.invocations += 1
            result = await self._function.invoke(event)
            if result.failed:
                log.warning("event source mapping: %s failed (%s: %s); the batch returns after the visibility timeout",
                            self._function.function.key, result.error, result.message)  # fmt: skip
                return
            keep = self._failures(result.payload, messages)
            done = [m for m in messages if m["MessageId"] not in keep]
            if done:
                await asyncio.to_thread(self._delete, done)
        finally:
            self._slots.release()

    def _failures(self, payload: Any, messages: list[dict[str, Any]]) -> set[str]:
        """Ids of the records to keep on the queue (AWS's rules for partial batch responses)."""
        if not self._mapping.report_failures or payload is None:
            return set()
        every = {m["MessageId"] for m in messages}
        if not isinstance(payload, dict):
            return every
        failures = payload.get("batchItemFailures")
        if not failures:
            return set()
        ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if not isinstance(failures, list) or not all(isinstance(i, str) and i in every for i in ids):
            log.warning("event source mapping: invalid batchItemFailures %r; the whole batch is retried", failures)
            return every
        return {str(i) for i in ids}

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)
        self.deleted += len(entries)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message.get("Body", "")
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._mapping.queue_arn,
            "awsRegion": self._region,
        }
