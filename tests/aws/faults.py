"""Fault injection on a boto3 session: make chosen AWS calls fail the way AWS fails them.

`Faults(session).fail("dynamodb", "TransactWriteItems", conflict(), times=2)` makes the next two
such calls raise a `TransactionCanceledException` (TransactionConflict) before they reach moto;
`landed=True` lets the call reach moto and *then* raises (a timeout after the write was applied:
the caller cannot tell). `calls` counts every call by operation. DynamoDB's `ClientRequestToken`
idempotency is emulated (moto ignores it): a transaction retried with the token of one that landed
changes nothing and succeeds, as AWS documents for ten minutes.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

Make = Callable[[str], Exception]


def aws_error(code: str, **extra: Any) -> Make:
    """An AWS error response with `code` (and e.g. CancellationReasons)."""
    return lambda operation: ClientError({"Error": {"Code": code, "Message": code}, **extra}, operation)


def conflict() -> Make:
    """A transaction cancelled because another one touched the same item."""
    return aws_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": "TransactionConflict"}, {"Code": "None"}]
    )


def throttled(code: str = "ProvisionedThroughputExceededException") -> Make:
    """Throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`, ...)."""
    return aws_error(code)


def timeout() -> Make:
    """The response never came back in time."""
    return lambda operation: ReadTimeoutError(endpoint_url=f"https://aws/{operation}")


@dataclass
class _Planned:
    make: Make
    times: int
    landed: bool
    skip: int


@dataclass
class Faults:
    """Planned failures per (service, operation) on one session's clients."""

    session: Any
    plans: dict[tuple[str, str], list[_Planned]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    landed_tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.session.events.register("before-parameter-build", self._params)
        self.session.events.register("before-call", self._before)
        self.session.events.register("after-call", self._after)

    def fail(
        self, service: str, operation: str, make: Make, *, times: int = 1, landed: bool = False, skip: int = 0
    ) -> None:
        """The next `times` calls (after `skip` good ones) fail with `make` (after reaching AWS if `landed`)."""
        self.plans.setdefault((service, operation), []).append(_Planned(make, times, landed, skip))

    def clear(self) -> None:
        """No more planned failures."""
        self.plans.clear()

    def _due(self, service: str, operation: str, landed: bool) -> _Planned | None:
        with self.lock:  # records of a batch run in threads
            return self._take(service, operation, landed)

    def _take(self, service: str, operation: str, landed: bool) -> _Planned | None:
        for plan in self.plans.get((service, operation), []):
            if plan.times > 0 and plan.landed == landed:
                if plan.skip:
                    plan.skip -= 1
                    return None
                plan.times -= 1
                return plan
        return None

    @staticmethod
    def _params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fault_token"] = params.get("ClientRequestToken")

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        service, operation = model.service_model.service_name, model.name
        self.calls[operation] += 1
        token = context.get("fault_token") if operation == "TransactWriteItems" else None
        if token and token in self.landed_tokens:
            return _FakeHttp(), {}  # AWS: the same token again changes nothing and succeeds
        plan = self._due(service, operation, landed=False)
        if plan is not None:
            raise plan.make(operation)
        return None

    def _after(self, model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        token = context.get("fault_token")
        if operation == "TransactWriteItems" and token and getattr(http_response, "status_code", 0) == 200:
            self.landed_tokens.add(token)
        plan = self._due(service, operation, landed=True)
        if plan is not None:
            raise plan.make(operation)


class _FakeHttp:
    status_code = 200
    headers: dict[str, str] = {}
