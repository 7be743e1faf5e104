"""AWS calls, write units and $ per message on the happy path of the AWS backend, counted under moto.

Every call the runtime's boto3 clients make is counted with a botocore event hook. Write request
units are computed from item sizes (moto bills 1 for any put): for each write, the item before and
after it is read back and sized by DynamoDB's rules (attribute names + values, 1 KB units, doubled in
transactions), and each GSI whose entry the write adds, moves or changes is charged its projected
size. Read units likewise (4 KB units, halved for eventually consistent reads).

    python bench/aws_calls.py            # prints a table, writes bench/results/aws_calls.json
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3
from moto import mock_aws

from chalicelib.adapters.aws import meter as meter_module
from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.limits import item_size
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.model import Message
from chalicelib.domain.schemas import AppCreate, TenantCreate
from chalicelib.services import accounts, apps, messages
from tests.aws import support
from tests.support.doubles import SettableClock

RESULTS = ROOT / "bench" / "results" / "aws_calls.json"
METER_BATCH = meter_module.BATCH_SIZE  # the meter mapping's (terraform/meter.tf is held to it)
METER_QUIET_RECORDS = 30
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}
PAYLOAD = {"event": "invoice.due", "invoice": "in_0123456789", "amount": 4200, "currency": "eur", "note": "x" * 300}

# us-east-1 list prices as known to the author (checked against AWS pricing pages as of early 2025).
PRICES = {
    "apigw_rest_per_m": 3.50,  # REST API, first 333 M requests/month
    "apigw_http_per_m": 1.00,  # HTTP API, first 300 M requests/month
    "lambda_request_per_m": 0.20,
    "lambda_gb_s": 0.0000166667,  # x86
    "ddb_wru_per_m": 0.625,  # on-demand, after the Nov 2024 price cut
    "ddb_rru_per_m": 0.125,
    "scheduler_per_m": 1.00,  # invocations, after 14 M free/month
    "sqs_per_m": 0.40,  # standard queue requests (64 KB chunks), after 1 M free/month
    "kms_per_m": 3.00,  # $0.03 per 10,000 requests
    "logs_per_gb": 0.50,  # CloudWatch Logs ingestion (not in the list; shown apart)
}
# Lambda durations are assumptions (no AWS account here): stated in docs/aws-costs.md.
LAMBDA = {
    "api": {"ms": 60, "mb": 512},
    "api_batch_100_near": {"ms": 250, "mb": 512},  # 3 transactions + 10 SendMessageBatch calls
    "api_batch_100_far": {"ms": 2_500, "mb": 512},  # 100 sequential CreateSchedule calls (~20 ms each)
    "deliver_release": {"ms": 700, "mb": 256},  # ~0.5 s average wait-out of the sub-second + ~150 ms attempt + DB
    "deliver_schedule": {"ms": 40, "mb": 256},  # re-queue only
    "authorizer": {"ms": 30, "mb": 256},
}


@dataclass
class Tally:
    """Calls and capacity units of one measured step."""

    calls: Counter[str] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0

    def add(self, other: Tally) -> None:
        self.calls.update(other.calls)
        self.wru += other.wru
        self.rru += other.rru

    def scaled(self, n: int) -> dict[str, Any]:
        return {
            "calls": {k: round(v / n, 3) for k, v in sorted(self.calls.items())},
            "totalCalls": round(sum(self.calls.values()) / n, 3),
            "wru": round(self.wru / n, 2),
            "rru": round(self.rru / n, 2),
        }


# ---- DynamoDB sizes --------------------------------------------------------------------------------


def units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


class Meter:
    """Counts the calls of hooked clients and the capacity units of DynamoDB requests."""

    def __init__(self, session: boto3.session.Session, prefix: str) -> None:
        self.raw = session.client("dynamodb")  # unhooked: reads items back around each write
        self.specs = {tables.table_name(prefix, spec["TableName"]): spec for spec in tables.TABLES}
        self.tally = Tally()

    def hook(self, client: Any) -> None:
        client.meta.events.register("provide-client-params", self._before)
        client.meta.events.register("after-call", self._after)

    def take(self) -> Tally:
        tally, self.tally = self.tally, Tally()
        return tally

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        self.tally.calls[f"{service}:{model.name}"] += 1
        if service == "dynamodb" and model.name in WRITES:
            context["bench_writes"] = [(t, k, tx, self._read(t, k)) for t, k, tx in self._targets(model.name, params)]
        if service == "dynamodb":
            context["bench_consistent"] = _consistent(params)

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name != "dynamodb" or "Error" in parsed:
            return
        for table, key, transactional, before in context.get("bench_writes", []):
            self.tally.wru += self._write_units(table, before, self._read(table, key), transactional)
        self.tally.rru += self._read_units(parsed, context.get("bench_consistent", False))
        if model.name == "GetItem" and "Item" not in parsed:  # a miss is billed the minimum unit
            self.tally.rru += 1.0 if context.get("bench_consistent") else 0.5

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
        if operation != "TransactWriteItems":
            return [
                (params["TableName"], self._key(params["TableName"], params.get("Key") or params.get("Item")), False)
            ]
        found = []
        for op in params["TransactItems"]:
            ((kind, body),) = op.items()
            if kind != "ConditionCheck":
                found.append(
                    (body["TableName"], self._key(body["TableName"], body.get("Key") or body.get("Item")), True)
                )
        return found

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {k["AttributeName"]: item[k["AttributeName"]] for k in self.specs[table]["KeySchema"]}

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _write_units(self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None, tx: bool) -> float:
        base = units(max(item_size(before), item_size(after)), 1024) * (2 if tx else 1)
        return base + sum(
            self._index_units(index, self.specs[table], before, after)
            for index in self.specs[table].get("GlobalSecondaryIndexes", [])
        )

    @staticmethod
    def _index_units(
        index: dict[str, Any], spec: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> int:
        keys = {k["AttributeName"] for k in index["KeySchema"]}
        names = keys | {k["AttributeName"] for k in spec["KeySchema"]}
        projection = index["Projection"]
        if projection["ProjectionType"] == "INCLUDE":
            names |= set(projection["NonKeyAttributes"])

        def entry(item: dict[str, Any] | None) -> dict[str, Any] | None:
            if not item or not keys <= set(item):
                return None
            return item if projection["ProjectionType"] == "ALL" else {k: v for k, v in item.items() if k in names}

        old, new = entry(before), entry(after)
        if old == new:
            return 0
        if old is not None and new is not None and any(old[k] != new[k] for k in keys):
            return units(item_size(old), 1024) + units(item_size(new), 1024)  # moved: delete + put
        return units(item_size(new or old), 1024)

    @staticmethod
    def _read_units(parsed: dict[str, Any], consistent: bool) -> float:
        """GetItem and BatchGetItem: 4 KB units per item; Query: per 4 KB of all items read."""
        factor = 1.0 if consistent else 0.5
        if "Items" in parsed:
            return factor * units(sum(item_size(i) for i in parsed["Items"]), 4096)
        items = [parsed["Item"]] if "Item" in parsed else []
        for rows in parsed.get("Responses", {}).values():
            items += rows
        return factor * sum(units(item_size(i), 4096) for i in items)


def _consistent(params: dict[str, Any]) -> bool:
    if params.get("ConsistentRead"):
        return True
    return any(spec.get("ConsistentRead") for spec in params.get("RequestItems", {}).values() if isinstance(spec, dict))


# ---- the scenarios -------------------------------------------------------------------------------


def ok_sender(clock: SettableClock) -> Any:
    def send(request: DeliveryRequest) -> AttemptOutcome:
        started = clock.now_ms()
        clock.advance(120)
        return AttemptOutcome(started, 120, 200, None, '{"received":true}', None)

    return send


def release_body(message: Message) -> dict[str, Any]:
    return {"tenantId": message.tenant_id, "messageId": message.id, "gen": message.gen, "dueAt": message.due_at}


def measure(n: int = 20) -> dict[str, Any]:
    with support.aws_env(), mock_aws():
        session = support.session()
        config = support.create_stack(session)
        clock = SettableClock()
        runtime = support.runtime(session, config, clock=clock, send=ok_sender(clock), sleep=support.clock_sleep(clock))
        meter = Meter(session, config.table_prefix)
        ctx = runtime.context
        _, token = accounts.create_tenant(ctx, TenantCreate(name="bench", plan="pro"))
        who = accounts.authenticate(ctx, token)
        app = apps.create_app(
            ctx, who, AppCreate(name="a", url="https://example.com/hook", headers={"authorization": "Bearer t0k3n"})
        )
        for service in ("dynamodb", "sqs", "scheduler", "kms"):
            meter.hook(runtime.clients.get(service))
        results = _scenarios(runtime, meter, clock, who, app.id, n)
        results.update(_metering(session, runtime, meter))
        return results


METER_QUIET = "meter, one write's records per invocation (per invocation)"
METER_BUSY = f"meter, batches of {METER_BATCH} (per record)"


def _metering(session: boto3.session.Session, runtime: AwsRuntime, meter: Meter) -> dict[str, Any]:
    """The meter Lambda on the stream records the scenarios wrote (filtered as its mapping does).
    Quiet stream: each write's records in their own invocation (a create's INSERT; a result's attempt
    and message, one transaction on one partition key, so adjacent on one shard); busy: full batches.
    The mapping's stream reads are free (DynamoDB Streams pricing: GetRecords by Lambda triggers)."""
    captured: list[dict[str, Any]] = []
    support.meter_poller(session, runtime.config, runtime, captured.append).poll(max_failures=1)
    records = [record for event in captured for record in event["Records"]]
    by_message = Counter(_pk(r) for r in records)
    delivered = {_pk(r) for r in records if _delivered(r)}
    per_message = sum(by_message[m] for m in delivered) / max(1, len(delivered))
    groups: list[list[dict[str, Any]]] = []
    for record in records[: METER_QUIET_RECORDS * 2]:
        created = record["eventName"] == "INSERT" and record["dynamodb"]["Keys"]["sk"]["S"] == "m"
        if groups and _pk(groups[-1][-1]) == _pk(record) and not created:  # the rest of one result
            groups[-1].append(record)
        else:
            groups.append([record])
    quiet = groups[:-1]  # the last group may continue past the cut
    busy = records[sum(len(g) for g in quiet) :]
    meter.take()
    for group in quiet:
        runtime.meter.apply(group)
    quiet_tally = meter.take().scaled(len(quiet))
    for start in range(0, len(busy), METER_BATCH):
        runtime.meter.apply(busy[start : start + METER_BATCH])
    busy_tally = meter.take().scaled(len(busy))
    for tally in (quiet_tally, busy_tally):
        tally["recordsPerDeliveredMessage"] = per_message
    return {METER_QUIET: quiet_tally, METER_BUSY: busy_tally}


def _pk(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def _delivered(record: dict[str, Any]) -> bool:
    return record["eventName"] == "MODIFY" and record["dynamodb"]["NewImage"]["status"]["S"] == "delivered"


def _create(runtime: AwsRuntime, who: Any, app_id: str, delay_s: float, count: int = 1) -> list[Message]:
    raws = [{"appId": app_id, "payload": PAYLOAD, "delaySeconds": delay_s} for _ in range(count)]
    made = messages.schedule(runtime.context, who, raws)
    return [m.message for m in made if isinstance(m, messages.Inserted)]


def _scenarios(
    runtime: AwsRuntime, meter: Meter, clock: SettableClock, who: Any, app_id: str, n: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    _create(runtime, who, app_id, 60)  # warm the quota cache
    meter.take()
    near = [m for _ in range(n) for m in _create(runtime, who, app_id, 60)]
    results["create (due within 14 min: SQS)"] = meter.take().scaled(n)
    far = [m for _ in range(n) for m in _create(runtime, who, app_id, 7_200)]
    results["create (later: EventBridge schedule)"] = meter.take().scaled(n)
    _create(runtime, who, app_id, 60, 100)
    results["create, batch of 100 due within 14 min (per message)"] = meter.take().scaled(100)
    _create(runtime, who, app_id, 7_200, 100)
    results["create, batch of 100 due later (per message)"] = meter.take().scaled(100)
    clock.advance(61_000)
    runtime.worker.on_release(release_body(near[0]))
    results["deliver from SQS, cold (KMS data key not cached)"] = meter.take().scaled(1)
    for message in near[1:]:
        runtime.worker.on_release(release_body(message))
    results["deliver from SQS, warm"] = meter.take().scaled(n - 1)
    schedule_tally, release_tally = Tally(), Tally()
    clock.advance(7_200_000 - 61_000 - 60_000)
    for message in far:
        runtime.worker.on_schedule(release_body(message))
        schedule_tally.add(meter.take())
    clock.advance(60_000)
    for message in far:
        runtime.worker.on_release(release_body(message))
        release_tally.add(meter.take())
    results["schedule event (re-queue)"] = schedule_tally.scaled(n)
    results["deliver from SQS after a schedule, warm"] = release_tally.scaled(n)
    return results


# ---- cost ----------------------------------------------------------------------------------------


def lambda_cost(kind: str) -> float:
    spec = LAMBDA[kind]
    return PRICES["lambda_request_per_m"] + spec["ms"] / 1000 * spec["mb"] / 1024 * PRICES["lambda_gb_s"] * 1e6


def cost_table(results: dict[str, Any], *, far: bool, http_api: bool = False, batch: bool = False) -> dict[str, float]:
    """$ per million messages for one path; SQS at low load (each release message received and deleted alone)."""
    if batch:
        create = results[f"create, batch of 100 due {'later' if far else 'within 14 min'} (per message)"]
    else:
        create = results["create (later: EventBridge schedule)" if far else "create (due within 14 min: SQS)"]
    deliver = results["deliver from SQS after a schedule, warm" if far else "deliver from SQS, warm"]
    requeue = results["schedule event (re-queue)"] if far else {"wru": 0, "rru": 0, "totalCalls": 0, "calls": {}}
    api_requests = 0.01 if batch else 1.0
    sqs_sends = sum(
        v for k, v in {**create["calls"], **deliver["calls"], **requeue["calls"]}.items() if k.startswith("sqs:")
    )
    cost = {
        "API Gateway " + ("HTTP" if http_api else "REST"): api_requests
        * PRICES["apigw_http_per_m" if http_api else "apigw_rest_per_m"],
        "Lambda": api_requests * lambda_cost(f"api_batch_100_{'far' if far else 'near'}" if batch else "api")
        + lambda_cost("deliver_release")
        + (lambda_cost("deliver_schedule") if far else 0),
        "DynamoDB": (create["wru"] + deliver["wru"] + requeue["wru"]) * PRICES["ddb_wru_per_m"]
        + (create["rru"] + deliver["rru"] + requeue["rru"]) * PRICES["ddb_rru_per_m"],
        "EventBridge Scheduler": PRICES["scheduler_per_m"] if far else 0.0,
        "SQS": (sqs_sends + 2) * PRICES["sqs_per_m"],  # + one receive and one delete of its release message
        "KMS": 0.0,  # data keys cached per container; a cold container pays one Decrypt ($3/M) per app
    }
    cost["total"] = sum(cost.values())
    return {k: round(v, 2) for k, v in cost.items()}


def main() -> None:
    results = measure()
    costs = {
        "near (due within 14 min), REST API, single creates": cost_table(results, far=False),
        "far (EventBridge schedule), REST API, single creates": cost_table(results, far=True),
        "far, HTTP API, single creates": cost_table(results, far=True, http_api=True),
        "near, REST API, batches of 100": cost_table(results, far=False, batch=True),
        "far, REST API, batches of 100": cost_table(results, far=True, batch=True),
    }
    width = max(len(name) for name in results)
    print(f"{'step':<{width}}  calls  WRU    RRU   by operation")
    for name, row in results.items():
        ops = ", ".join(f"{k.split(':')[1]} {v:g}" for k, v in row["calls"].items())
        print(f"{name:<{width}}  {row['totalCalls']:<5g}  {row['wru']:<5g}  {row['rru']:<5g} {ops}")
    print()
    for name, row in costs.items():
        print(f"$ per million messages, {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"steps": results, "usdPerMillion": costs, "prices": PRICES, "lambda": LAMBDA}, indent=2) + "\n"
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
