"""The Lambda service of the harness: worker processes ("containers") per function, and the two ways
AWS invokes.

- `LambdaFunction.invoke(event)`: a synchronous invocation (API Gateway, the event source mapping),
  bounded by the function's timeout; a function error comes back as `Invocation.error`.
- `AsyncInvoker.submit(function, event)`: an asynchronous invocation (EventBridge Scheduler, rules):
  on a function error Lambda retries twice, one and then two minutes later, then sends the event to
  the function's dead-letter queue (`dead_letter_config`), as AWS documents for async invocations.

Each worker gets exactly the environment Terraform gives the function, plus what the Lambda runtime
sets (`AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME`, ...), the moto endpoint and fake credentials, and
the harness's `extra` variables (printed at start-up).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from awslocal.deployment import Function
from awslocal.processes import Child, base_env, python
from awslocal.worker import INVOKE_PATH

log = logging.getLogger("awslocal.lambda")

ASYNC_RETRY_DELAYS_S = (60, 120)


@dataclass(frozen=True)
class Invocation:
    """What one invocation returned."""

    payload: Any
    error: str | None = None  # errorType
    message: str = ""

    @property
    def failed(self) -> bool:
        """Whether the function errored (or timed out)."""
        return self.error is not None


def runtime_env(function: Function, *, region: str, endpoint: str) -> dict[str, str]:
    """What the Lambda runtime adds to the function's own environment, pointed at moto."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "awslocal",
        "AWS_SECRET_ACCESS_KEY": "awslocal",
        "AWS_SESSION_TOKEN": "awslocal",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "_HANDLER": function.handler,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon on this machine
        "AWS_SDK_UA_APP_ID": function.key,  # names the function in moto's call counts
    }


@dataclass
class _Container:
    """One worker process, its connection pool and its free invocation slots."""

    child: Child
    slots: asyncio.Semaphore
    session: aiohttp.ClientSession | None = None
    busy: int = 0


class LambdaFunction:
    """A function's worker processes ("containers") and a keep-alive connection pool to each.

    An invocation goes to the least busy container and waits for one of its `slots` first: that wait
    is outside the function's timeout, like Lambda's scaling up. A container runs up to `slots`
    invocations on threads; the cap keeps one Python process from starving its own invocations
    (each Lambda container has its own CPU; these share the machine's).
    """

    def __init__(
        self, function: Function, env: Mapping[str, str], *, containers: int = 2, slots: int = 4,
        show_metrics: bool = False,
    ) -> None:  # fmt: skip
        self.function = function
        argv = python(
            "awslocal.worker",
            "--handler",
            function.handler,
            "--name",
            function.name,
            "--arn",
            function.arn,
            "--memory",
            str(function.memory_mb),
            "--timeout",
            str(function.timeout_s),
        )
        child_env = base_env({**function.environment, **env})
        self._containers = [
            _Container(
                Child(
                    function.key if n == 0 else f"{function.key}#{n + 1}",
                    argv,
                    child_env,
                    ready=r"lambda ready on",
                    show_metrics=show_metrics,
                ),
                asyncio.Semaphore(slots),
            )
            for n in range(containers)
        ]
        limit = function.reserved_concurrency
        self._reserved = asyncio.Semaphore(limit) if limit else None

    def start(self) -> None:
        """Start the workers (the import is the cold start)."""
        for container in self._containers:
            container.child.start()

    async def open(self) -> None:
        """Open the connection pools (inside the event loop)."""
        for container in self._containers:
            container.session = aiohttp.ClientSession(
                container.child.url,
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def invoke(self, event: Any) -> Invocation:
        """One synchronous invocation."""
        if self._reserved is None:
            return await self._place(event)
        async with self._reserved:
            return await self._place(event)

    async def _place(self, event: Any) -> Invocation:
        container = min(self._containers, key=lambda c: c.busy)
        container.busy += 1
        try:
            async with container.slots:
                return await self._invoke(container, event)
        finally:
            container.busy -= 1

    async def _invoke(self, container: _Container, event: Any) -> Invocation:
        assert container.session is not None, "open() first"
        headers = {"X-Amz-Request-Id": str(uuid.uuid4())}
        try:
            async with asyncio.timeout(self.function.timeout_s):
                async with container.session.post(INVOKE_PATH, data=json.dumps(event), headers=headers) as response:
                    payload = await response.json(content_type=None)
                    error = response.headers.get("X-Amz-Function-Error")
        except TimeoutError:
            return Invocation(None, "Sandbox.Timedout", f"Task timed out after {self.function.timeout_s}.00 seconds")
        except aiohttp.ClientError as exc:
            return Invocation(None, "ServiceException", f"the {self.function.key} worker is unreachable: {exc}")
        if error:
            return Invocation(payload, str(payload.get("errorType", "Error")), str(payload.get("errorMessage", "")))
        return Invocation(payload)

    async def close(self) -> None:
        """Close the pools."""
        for container in self._containers:
            if container.session is not None:
                await container.session.close()

    def stop(self) -> None:
        """Stop the worker processes."""
        for container in self._containers:
            container.child.stop()


class AsyncInvoker:
    """Lambda's asynchronous invocation queue: retries and the function's dead-letter queue."""

    def __init__(self, sqs: Any, queues: Mapping[str, str]) -> None:
        self._sqs = sqs
        self._queues = queues  # queue ARN -> URL
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, function: LambdaFunction, event: Any, *, source: str) -> None:
        """Queue one asynchronous invocation (returns at once, like `InvocationType=Event`)."""
        task = asyncio.create_task(self._run(function, event, source))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, function: LambdaFunction, event: Any, source: str) -> None:
        request_id = str(uuid.uuid4())
        result = await function.invoke(event)
        for delay in ASYNC_RETRY_DELAYS_S:
            if not result.failed:
                return
            log.warning(
                "%s failed on an event from %s (%s: %s); Lambda retries in %d s",
                function.function.key,
                source,
                result.error,
                result.message,
                delay,
            )
            await asyncio.sleep(delay)
            result = await function.invoke(event)
        if result.failed:
            await self._dead_letter(function.function, event, result, request_id)

    async def _dead_letter(self, function: Function, event: Any, result: Invocation, request_id: str) -> None:
        url = self._queues.get(function.dead_letter_arn or "")
        if url is None:
            log.error("%s dropped an event after 3 attempts (no dead-letter queue): %s", function.key, result.message)
            return
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": (result.message or str(result.error))[:1000]},
        }
        await asyncio.to_thread(
            self._sqs.send_message, QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes=attributes
        )
        log.error("%s: event sent to its dead-letter queue after 3 attempts: %s", function.key, result.message)

    async def drain(self) -> None:
        """Cancel what is still queued (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
