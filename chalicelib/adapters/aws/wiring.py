"""Wires the AWS adapter set, lazily: boto3 clients on first use, each component on first access.

`build_runtime(settings)` is this backend's entry in the composition root (`chalicelib.bootstrap`),
which holds the process's runtime; it reads the AWS settings from the environment when called, never
at import. Tests and benchmarks build their own with `build_aws_runtime(...)` and `bootstrap.install` it.
"""

from __future__ import annotations

import functools
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib import __version__
from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.cleanup import Cleanup
from chalicelib.adapters.aws.config import AwsConfig, aws_config_from_env
from chalicelib.adapters.aws.delivery import DeliveryWorker
from chalicelib.adapters.aws.deliveryqueue import DynamoDeliveryQueue
from chalicelib.adapters.aws.limiter import GatewayRateLimits
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.adapters.aws.meter import UsageMeter
from chalicelib.adapters.aws.provisioning import Provisioner, ProvisioningTenantStore
from chalicelib.adapters.aws.recurring_runs import RecurringRuns
from chalicelib.adapters.aws.schedule_timer import AwsScheduleTimer
from chalicelib.adapters.aws.schedules import DynamoScheduleStore
from chalicelib.adapters.aws.sealing import Sealer
from chalicelib.adapters.aws.slots import TenantSlots
from chalicelib.adapters.aws.stores import DynamoAppStore, DynamoKeyStore, DynamoTenantStore, DynamoUsageStore
from chalicelib.adapters.aws.timer import AwsTimer
from chalicelib.clock import SystemClock
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.ports import Clock
from chalicelib.services.context import Context
from chalicelib.services.runner import DeliveryRunner
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.authorizer import Authority

Metric = Callable[[str, float], None]
# a recurring schedule whose next run is this far past was not fired (cleanup repairs it): more than a
# native firing's lead and EventBridge's minute, plus its retries' first minute
REPAIR_OVERDUE_MS = 150_000

# Every AWS service the functions call: the Lambda package keeps botocore's models of these only
# (tools/lambda_zip.py), so a client of any other service fails here, in tests, not in Lambda.
SERVICES = frozenset({"dynamodb", "sqs", "scheduler", "kms", "apigateway"})


def _no_metric(name: str, value: float) -> None:
    """Metrics off."""


class Clients:
    """boto3 clients of one session, each made on first use (AWS_ENDPOINT_URL and region from the env)."""

    def __init__(self, session: Any = None, **overrides: Any) -> None:
        self._session = session
        self._made: dict[str, Any] = dict(overrides)
        self._lock = threading.Lock()

    def get(self, service: str) -> Any:
        """The client of `service` (`dynamodb`, `sqs`, `scheduler`, `kms`, `apigateway`)."""
        client = self._made.get(service)
        if client is None:
            with self._lock:
                client = self._made.get(service)
                if client is None:
                    client = self._made[service] = self._make(service)
        return client

    def _make(self, service: str) -> Any:
        if service not in SERVICES:
            raise ValueError(f"{service!r} is not in wiring.SERVICES (the Lambda package has no model for it)")
        import boto3
        from botocore.config import Config

        if self._session is None:
            self._session = boto3.session.Session()
        config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)
        return self._session.client(service, config=config)


@dataclass
class AwsRuntime:
    """Every AWS component of one process, built on first access."""

    settings: Settings
    config: AwsConfig
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)
    metric: Metric = _no_metric
    send: Callable[[DeliveryRequest], AttemptOutcome] | None = None
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def start(self) -> int:
        """Nothing runs in the background of an AWS process (EventBridge Scheduler is the timer)."""
        return 0

    def close(self) -> None:
        """boto3 clients need no closing."""

    @functools.cached_property
    def authority(self) -> Authority:
        """The authorizer Lambda's work: which token may do what."""
        from chalicelib.authorizer import Authority, CognitoVerifier

        config = self.config
        verifier = CognitoVerifier(config.issuer, config.client_ids) if config.issuer and config.client_ids else None
        return Authority(self.keys, self.tenants, config, verifier)

    @functools.cached_property
    def sealer(self) -> Sealer:
        """KMS envelope sealing of app secrets and header values."""
        return Sealer(lambda: self.clients.get("kms"), lambda: self.config.require("kms_key_id"))

    @functools.cached_property
    def tenants(self) -> DynamoTenantStore:
        """Tenants."""
        return DynamoTenantStore(self.clients.get("dynamodb"), self.config.table(tables.TENANTS))

    @functools.cached_property
    def keys(self) -> DynamoKeyStore:
        """API keys."""
        return DynamoKeyStore(self.clients.get("dynamodb"), self.config.table(tables.KEYS))

    @functools.cached_property
    def apps(self) -> DynamoAppStore:
        """Apps (sealed values)."""
        return DynamoAppStore(self.clients.get("dynamodb"), self.config.table(tables.APPS), self.sealer)

    @functools.cached_property
    def usage(self) -> DynamoUsageStore:
        """Usage counters."""
        return DynamoUsageStore(self.clients.get("dynamodb"), self.config.table(tables.USAGE))

    @functools.cached_property
    def meter(self) -> UsageMeter:
        """The meter Lambda's work: stream batches of the messages table into the usage counters."""
        return UsageMeter(self.clients.get("dynamodb"), self.config.table(tables.USAGE), self.clock, sleep=self.sleep)

    @functools.cached_property
    def messages(self) -> DynamoMessageStore:
        """Messages, payloads, attempts, idempotency."""
        return DynamoMessageStore(
            self.clients.get("dynamodb"),
            table=self.config.table(tables.MESSAGES),
            usage_table=self.config.table(tables.USAGE),
            idempotency_table=self.config.table(tables.IDEMPOTENCY),
            clock=self.clock,
            retention_s=self.settings.retention_days * 86_400,
            arm_horizon_ms=self.config.arm_horizon_ms,
            metric=self.metric,
            sleep=self.sleep,
        )

    @functools.cached_property
    def timer(self) -> AwsTimer:
        """The SQS + EventBridge Scheduler timer."""
        return AwsTimer(
            sqs=self.clients.get("sqs"),
            scheduler=self.clients.get("scheduler"),
            messages=self.messages,
            config=self.config,
            clock=self.clock,
        )

    @functools.cached_property
    def context(self) -> Context:
        """The service layer's ports on AWS."""
        return Context(
            tenants=ProvisioningTenantStore(self.tenants, self.provisioner),
            keys=self.keys,
            apps=self.apps,
            messages=self.messages,
            deliveries=self.deliveries,
            usage=self.usage,
            timer=self.timer,
            limiter=GatewayRateLimits(),
            clock=self.clock,
            settings=self.settings,
            schedules=self.schedules,
            schedule_timer=self.schedule_timer,
            jitter=self.jitter,
        )

    @functools.cached_property
    def schedules(self) -> DynamoScheduleStore:
        """Recurring schedules."""
        return DynamoScheduleStore(
            self.clients.get("dynamodb"),
            table=self.config.table(tables.SCHEDULES),
            messages=self.messages,
            usage_table=self.config.table(tables.USAGE),
            clock=self.clock,
        )

    @functools.cached_property
    def schedule_timer(self) -> AwsScheduleTimer:
        """One EventBridge Scheduler schedule per recurring schedule (native or chained)."""
        return AwsScheduleTimer(
            scheduler=self.clients.get("scheduler"), sqs=self.clients.get("sqs"), config=self.config, clock=self.clock
        )

    @functools.cached_property
    def recurring_runs(self) -> RecurringRuns:
        """The delivery Lambda's handler of recurring schedules' run events."""
        return RecurringRuns(self.context, self.schedule_timer)

    @functools.cached_property
    def deliveries(self) -> DynamoDeliveryQueue:
        """Leases: claims by timer reference, results, take-back."""
        return DynamoDeliveryQueue(
            self.clients.get("dynamodb"),
            messages=self.messages,
            apps=self.apps,
            apps_table=self.config.table(tables.APPS),
            owner=self.owner,
        )

    @functools.cached_property
    def owner(self) -> str:
        """This container's name on its leases and tenant slots."""
        return f"lambda-{uuid.uuid4().hex[:12]}"

    @functools.cached_property
    def runner(self) -> DeliveryRunner:
        """The delivery runner over the DynamoDB queue (one lease per record; Lambda is the pool)."""
        return DeliveryRunner(self.deliveries, self.clock, lease_ms=self.config.lease_s * 1000, jitter=self.jitter)

    @functools.cached_property
    def worker(self) -> DeliveryWorker:
        """The delivery Lambda's driver of the runner."""
        return DeliveryWorker(
            runner=self.runner,
            messages=self.messages,
            timer=self.timer,
            send=self.send or self._send_once,
            clock=self.clock,
            sleep=self.sleep,
            metric=self.metric,
            owner=self.owner,
            slots=TenantSlots(
                self.clients.get("dynamodb"), self.config.table(tables.USAGE), self.settings.per_tenant_concurrency
            ),
        )

    def _send_once(self, request: DeliveryRequest) -> AttemptOutcome:
        # aiohttp (~100 ms to import) loads in the delivery function only (chalicelib.warmup, at init)
        from chalicelib.delivery import send_once

        return send_once(
            request,
            user_agent=f"point-in-time-scheduler/{__version__}",
            timeout_s=self.settings.delivery_timeout_s,
            allow_private=self.settings.allow_private_targets,
            now_ms=self.clock.now_ms,
        )

    @functools.cached_property
    def cleanup(self) -> Cleanup:
        """The cleanup Lambda's work."""
        return Cleanup(
            messages=self.messages,
            queue=self.deliveries,
            timer=self.timer,
            scheduler=self.clients.get("scheduler"),
            config=self.config,
            clock=self.clock,
            provisioner=self.provisioner,
            sleep=self.sleep,
            repair_schedules=self._repair_schedules,
        )

    def _repair_schedules(self, now_ms: int) -> int:
        from chalicelib.services import schedule_runs

        return schedule_runs.repair(self.context, now_ms, overdue_ms=REPAIR_OVERDUE_MS).created

    @functools.cached_property
    def provisioner(self) -> Provisioner:
        """The Post Confirmation trigger's work."""
        return Provisioner(
            tenants=self.tenants,
            apigateway=self.clients.get("apigateway"),
            settings=self.settings,
            usage_plan_ids=dict(self.config.usage_plan_ids),
            key_prefix=self.config.table_prefix,
            now_ms=self.clock.now_ms,
        )


def build_aws_runtime(
    settings: Settings, config: AwsConfig, clients: Clients | None = None, **options: Any
) -> AwsRuntime:
    """A runtime on `clients` (default: a fresh session's); `options` override clock, send, sleep, ..."""
    return AwsRuntime(settings=settings, config=config, clients=clients or Clients(), **options)


def build_runtime(settings: Settings) -> AwsRuntime:
    """The composition root's builder for `SCHEDULER_BACKEND=aws`: AWS settings from the environment, X-Ray on."""
    from chalicelib import observability

    observability.tracer()  # patches boto3/botocore for X-Ray (a no-op outside Lambda)
    return build_aws_runtime(settings, aws_config_from_env(), metric=observability.metric)
