"""`make run-aws`: the AWS code path of the service, end to end, on one machine.

1. moto in server mode (a child process on loopback, calls counted at its HTTP boundary);
2. the stack created in it from `terraform/*.tf` (`awslocal.deployment.apply`);
3. worker processes per Lambda function, with the handler and environment Terraform gives it;
4. the admin key of tenant `default` (`SCHEDULER_ADMIN_KEY`, or generated once into the data
   directory and printed, as `make run` does);
5. in this process: the API Gateway front on HOST:PORT, the EventBridge Scheduler driver, the SQS
   event source mapping and the cleanup rule.
Ctrl-C (or SIGTERM) stops the drivers, then every child process. moto keeps its state in memory:
each start is a fresh stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from awslocal.deployment import Deployment, apply
from awslocal.esm import QueueMappingDriver
from awslocal.gateway import Gateway
from awslocal.keys import ApiKeys
from awslocal.lambdas import AsyncInvoker, LambdaFunction, runtime_env
from awslocal.motoserver import HARNESS_AGENT
from awslocal.processes import ROOT, Child, base_env, python
from awslocal.provision import MotoProvider
from awslocal.scheduler import RuleDriver, SchedulerDriver
from awslocal.streams import StreamMappingDriver
from awslocal.terraform import Module

log = logging.getLogger("awslocal")

ACCOUNT = "123456789012"
REGION = "us-east-1"
ADMIN_KEY_FILE = "admin-key"
# Functions with no trigger on this machine: the Post Confirmation trigger needs a Cognito user pool.
NOT_STARTED = {"post_confirmation": "its trigger is Cognito sign-up, which is not on this machine"}


@dataclass
class Options:
    """What `make run-aws` reads from the environment (the same variables as `make run`)."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".scheduler-aws")
    admin_key: str | None = None
    operator_key: str | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(1 << 30))
    show_metrics: bool = False
    allow_private_targets: bool = True
    containers: int = 2
    slots: int = 4

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Options:
        """Options from `HOST`, `PORT`, `SCHEDULER_*` and `AWSLOCAL_*` variables."""
        options = cls(
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            data_dir=Path(env.get("SCHEDULER_DATA_DIR") or ".scheduler-aws"),
            admin_key=env.get("SCHEDULER_ADMIN_KEY") or None,
            operator_key=env.get("SCHEDULER_OPERATOR_KEY") or None,
            show_metrics=env.get("AWSLOCAL_SHOW_METRICS", "") == "1",
            allow_private_targets=env.get("SCHEDULER_ALLOW_PRIVATE_TARGETS", "true").lower() in ("1", "true", "yes"),
        )
        options.containers = int(env.get("AWSLOCAL_CONTAINERS", "2"))
        options.slots = int(env.get("AWSLOCAL_SLOTS", "4"))
        if env.get("AWSLOCAL_SEED"):
            options.seed = int(env["AWSLOCAL_SEED"])
        return options


def session(endpoint: str) -> Any:
    """A boto3 session for the harness's own calls to moto (tagged as the harness's)."""
    import boto3
    from botocore.config import Config

    class _Session:
        def __init__(self) -> None:
            self._session = boto3.session.Session(
                region_name=REGION,
                aws_access_key_id="awslocal",
                aws_secret_access_key="awslocal",  # noqa: S106 - moto
            )
            self._config = Config(user_agent_extra=HARNESS_AGENT, max_pool_connections=64, retries={"max_attempts": 2})

        def client(self, service: str) -> Any:
            return self._session.client(service, endpoint_url=endpoint, config=self._config)

    return _Session()


def admin_key(options: Options) -> tuple[str, bool]:
    """The admin key, and whether it was generated now (to print once)."""
    if options.admin_key:
        return options.admin_key, False
    options.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = options.data_dir / ADMIN_KEY_FILE
    if path.exists():
        return path.read_text().strip(), False
    token = f"sk_{secrets.token_urlsafe(32)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token, True


class Harness:
    """Every part, started in order and stopped in reverse."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.moto: Child | None = None
        self.functions: dict[str, LambdaFunction] = {}
        self.deployment: Deployment | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start_processes(self) -> None:
        """moto, the stack, the function workers and the admin key."""
        self.moto = Child("moto", python("awslocal.motoserver", "--port", "0"), base_env({}), ready="moto listening")
        endpoint = self.moto.start()
        # Printed, not logged: tools (and the benchmark) point boto3 or `aws --endpoint-url` at it.
        print(f"moto server on {endpoint} (DynamoDB, SQS, EventBridge Scheduler, KMS, API Gateway)", flush=True)
        aws = session(endpoint)
        variables: dict[str, Any] = {}
        if self.options.operator_key:
            variables["operator_key_hash"] = hashlib.sha256(self.options.operator_key.encode()).hexdigest()
        module = Module(MotoProvider(aws, account_id=ACCOUNT, region=REGION), _facts(), variables)
        self.deployment = apply(module)
        log.info("stack created from terraform/*.tf in moto (stage %s)", module.variables["stage"])
        extra = {"SCHEDULER_ALLOW_PRIVATE_TARGETS": "true" if self.options.allow_private_targets else "false"}
        log.info("the harness adds to every function's environment: %s (receivers on this machine)", extra)
        for key, function in self.deployment.functions.items():
            if key in NOT_STARTED:
                log.info("lambda %s: not started: %s", function.name, NOT_STARTED[key])
                continue
            env = {**runtime_env(function, region=REGION, endpoint=endpoint), **extra}
            self.functions[key] = LambdaFunction(
                function, env, containers=self.options.containers, slots=self.options.slots,
                show_metrics=self.options.show_metrics,
            )  # fmt: skip
        with ThreadPoolExecutor(len(self.functions) * self.options.containers) as pool:
            list(pool.map(lambda f: f.start(), self.functions.values()))
        for started in self.functions.values():
            spec = started.function
            log.info("lambda %s: handler %s, %d MB, %d s; %d containers of %d concurrent invocations",
                     spec.name, spec.handler, spec.memory_mb, spec.timeout_s, self.options.containers,
                     self.options.slots)  # fmt: skip
        self._bootstrap_admin_key(endpoint)
        self._aws = aws

    def _bootstrap_admin_key(self, endpoint: str) -> None:
        token, generated = admin_key(self.options)
        api = self.deployment.functions["api_handler"] if self.deployment else None
        assert api is not None
        env = base_env({**api.environment, **runtime_env(api, region=REGION, endpoint=endpoint)})
        env["SCHEDULER_ADMIN_KEY"] = token
        subprocess.run(python("awslocal.adminkey"), env=env, check=True, cwd=ROOT)  # noqa: S603 - our own module
        if generated:
            path = self.options.data_dir / ADMIN_KEY_FILE
            print(f"generated admin key (shown once, also in {path}): {token}", file=sys.stderr)

    async def serve(self, stop: asyncio.Event) -> None:
        """The front and the drivers, until `stop` is set."""
        assert self.deployment is not None
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(128, thread_name_prefix="aws"))
        for function in self.functions.values():
            await function.open()
        sqs, scheduler = self._aws.client("sqs"), self._aws.client("scheduler")
        invoker = AsyncInvoker(sqs, self.deployment.queues)
        gateway = Gateway(
            self.deployment, _openapi(), self.functions["api_handler"], self.functions["authorizer"],
            ApiKeys(self._aws.client("apigateway"), self.deployment.usage_plans), account_id=ACCOUNT, region=REGION,
        )  # fmt: skip
        log.info("api gateway: stage %s, authorizer cache %d s, usage plans %s, stage throttle %s/s burst %s",
                 self.deployment.stage.name, gateway.authorizer_ttl_s,
                 {k: (p.rate, p.burst, p.daily_quota) for k, p in self.deployment.usage_plans.items()},
                 self.deployment.stage.throttle_rate, self.deployment.stage.throttle_burst)  # fmt: skip
        drivers: list[Any] = [
            SchedulerDriver(scheduler, sqs, self.deployment, self.functions, invoker, seed=self.options.seed)
        ]
        log.info("scheduler: jitter seed %d (AWSLOCAL_SEED)", self.options.seed)
        for mapping in self.deployment.mappings:
            drivers.append(QueueMappingDriver(sqs, mapping, self.deployment.queues[mapping.queue_arn],
                                              self.functions[mapping.function], REGION))  # fmt: skip
        for stream in self.deployment.stream_mappings:
            drivers.append(StreamMappingDriver(self._aws.client("dynamodbstreams"), stream,
                                               self.functions[stream.function]))  # fmt: skip
        for rule in self.deployment.rules:
            drivers.append(RuleDriver(rule, self.functions, invoker, account=ACCOUNT, region=REGION))
        self._tasks = [asyncio.create_task(driver.run()) for driver in drivers]
        self._runner = web.AppRunner(gateway.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.options.host}:{port}"
        print(f"listening on {self.url}", flush=True)
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            for task in self._tasks:
                task.cancel()
            # Children first: a long poll blocked on moto ends when moto does, so no thread lingers.
            await asyncio.to_thread(self.stop_processes)
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await invoker.drain()
            await self._runner.cleanup()
            for function in self.functions.values():
                await function.close()

    def stop_processes(self) -> None:
        """Every child, functions first (idempotent)."""
        for function in self.functions.values():
            function.stop()
        if self.moto is not None:
            self.moto.stop()


def _facts() -> dict[str, str]:
    return {"account_id": ACCOUNT, "region": REGION, "partition": "aws"}


def _openapi() -> dict[str, Any]:
    """The OpenAPI document `chalice package` puts in front of the API function (its routes and security)."""
    from chalice.deploy.swagger import TemplatedSwaggerGenerator

    from app import app

    return dict(TemplatedSwaggerGenerator().generate_swagger(app))


def main() -> int:
    """Run until Ctrl-C."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = Options.from_env(dict(os.environ))
    harness = Harness(options)
    try:
        harness.start_processes()
        asyncio.run(_serve(harness))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        log.error("run-aws failed: %s", exc)
        return 1
    finally:
        harness.stop_processes()
    return 0


async def _serve(harness: Harness) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await harness.serve(stop)
