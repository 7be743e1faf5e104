"""What a deployment carries, computed from Terraform's values (variables.tf defaults, envs/*.tfvars)
and AWS's default quotas: `python -m bench.capacity` prints it and rewrites the generated part of
docs/aws-capacity.md (tests/terraform/test_capacity_doc.py fails when the two disagree).

The model, per message (one create and one delivery):
- writes: the write units bench/aws_calls.py measured (results/aws_calls.json), split by table and
  index as docs/aws-costs.md explains; a new on-demand table or index takes 4,000 WRU/s until it
  has grown, unless Terraform pre-warms it (`dynamodb_warm_write_units`);
- deliveries: the release queue's event source mapping runs `delivery_max_concurrency` invocations
  of `release_batch_size` records each, the records of a batch concurrently; a batch lasts the
  wait-out of the last sub-second (0.5 s on average), the receiver's answer, and three AWS calls;
- creates: the stage throttle, API Gateway's account throttle, the API function's concurrency, and
  the same write budget (creates and deliveries share the table at steady state);
- pending messages and tenants: EventBridge Scheduler's schedule quota with the arm horizon, API
  Gateway's API key quota.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.adapters.aws import codec
from tests.terraform.tfvars import ENVIRONMENTS, deployment

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "aws-capacity.md"
BEGIN, END = "<!-- capacity:begin (bench/capacity.py writes this part) -->", "<!-- capacity:end -->"

# AWS default quotas per account and region (us-east-1), with their pages (docs/aws-capacity.md).
LAMBDA_CONCURRENCY = 1_000
APIGW_ACCOUNT_RPS = 10_000
DYNAMODB_PARTITION_WRU = 1_000
SCHEDULER_INVOCATIONS = 1_000
SCHEDULER_CREATE = 1_000
SCHEDULER_SCHEDULES = 10_000_000
APIGW_API_KEYS = 10_000
APIGW_CREATE_API_KEY_RPS = 5

# Assumptions (no AWS account here; see docs/aws-costs.md for the same figures).
API_S = 0.06  # one create in the API function
WAIT_S = 0.5  # mean wait-out of the last sub-second before a release message is due
CALL_S = 0.01  # one DynamoDB/SQS call in-region
CALLS_PER_DELIVERY = 3

# Write units per message by table and index: create (message 2 + payload 2 | quota reservation 1 |
# by-send 1, by-wake 1) + delivery (claim 1, message 2 + attempt 2 | tenant slot take and release 2 |
# by-wake 1, by-feed 1). The counters are the meter's (off the request path; a few per stream batch).
WRU = {"messages": 9, "usage": 3, "by-send": 1, "by-wake": 2, "by-feed": 1}
# WRU a message puts on the busiest partition key of its tenant (keys sharded per tenant: codec).
HOT_PER_TENANT = {
    "by-send": 1 / codec.LIST_SHARDS,
    "by-feed": 1 / codec.LIST_SHARDS,
    "usage": WRU["usage"] / codec.USAGE_SHARDS,
}


@dataclass(frozen=True)
class Limit:
    """One bound on a rate: its value, what it is, and what raises it."""

    value: float
    what: str
    raise_by: str


def measured_wru() -> float:
    """Write units of one create (soon) plus one warm delivery, as bench/aws_calls.py measured them."""
    steps = json.loads((ROOT / "bench/results/aws_calls.json").read_text())["steps"]
    return float(steps["create (due within 14 min: SQS)"]["wru"] + steps["deliver from SQS, warm"]["wru"])


def deliveries(values: dict[str, Any], receiver_s: float) -> Limit:
    concurrency = min(values["delivery_max_concurrency"], LAMBDA_CONCURRENCY)
    batch_s = WAIT_S + receiver_s + CALLS_PER_DELIVERY * CALL_S
    rate = concurrency * values["release_batch_size"] / batch_s
    if values["delivery_max_concurrency"] >= LAMBDA_CONCURRENCY:
        return Limit(rate, "Lambda concurrent executions (1,000 per account)", "a Service Quotas increase")
    return Limit(rate, "the event source mapping's maximum concurrency", "`delivery_max_concurrency` (≤ 1,000)")


def writes(values: dict[str, Any]) -> Limit:
    warm = values["dynamodb_warm_write_units"]
    limits = [
        Limit(
            warm["messages"] / WRU["messages"],
            "the messages table's warm write units",
            "`dynamodb_warm_write_units.messages`",
        ),
        Limit(warm["usage"] / WRU["usage"], "the usage table's warm write units", "`dynamodb_warm_write_units.usage`"),
    ]
    limits += [
        Limit(warm["indexes"] / WRU[index], f"index {index}'s warm write units", "`dynamodb_warm_write_units.indexes`")
        for index in ("by-send", "by-wake", "by-feed")
    ]
    shards = codec.WAKE_SHARDS * DYNAMODB_PARTITION_WRU / WRU["by-wake"]
    limits.append(
        Limit(shards, f"by-wake's {codec.WAKE_SHARDS} partition keys (1,000 WRU/s each)", "`codec.WAKE_SHARDS`")
    )
    return min(limits, key=lambda limit: limit.value)


def creates(values: dict[str, Any]) -> Limit:
    api = values["api_throttle"]["rate"]
    limits = [
        Limit(api, "the stage throttle", "`api_throttle.rate`"),
        Limit(APIGW_ACCOUNT_RPS, "API Gateway's account throttle (10,000 req/s)", "a Service Quotas increase"),
        Limit(LAMBDA_CONCURRENCY / API_S, "Lambda concurrent executions (API function)", "a Service Quotas increase"),
    ]
    return min(limits, key=lambda limit: limit.value)


def one_tenant(values: dict[str, Any]) -> Limit:
    rates = [p.get("rate") for p in values["plans"].values()]
    key, per = max(HOT_PER_TENANT.items(), key=lambda entry: entry[1])
    if all(r is not None for r in rates):
        return Limit(max(rates), "the best plan's usage-plan rate", "`plans`")
    return Limit(
        DYNAMODB_PARTITION_WRU / per,
        f"one tenant's busiest {key} key (1,000 WRU/s per partition)",
        "`codec.LIST_SHARDS` / `codec.USAGE_SHARDS`",
    )


def pending(values: dict[str, Any], rate: float) -> str:
    horizon = values["arm_horizon_s"]
    if not horizon:
        return f"{SCHEDULER_SCHEDULES:,} due beyond 14 min (one schedule each; Scheduler's schedule quota)"
    armed = min(SCHEDULER_SCHEDULES, rate * horizon)
    return (
        f"unbounded in DynamoDB; schedules ≈ arming rate x {horizon:,} s horizon = {armed:,.0f} at "
        f"{rate:,.0f}/s (quota {SCHEDULER_SCHEDULES:,})"
    )


def model(env: str | None) -> dict[str, Any]:
    values = deployment(env)
    table = writes(values)
    front = creates(values)
    fast, slow = deliveries(values, 0.1), deliveries(values, 10.0)
    carried = [
        ("creates/s (single requests)", min(front, table, key=lambda lim: lim.value)),
        (
            "creates/s (batches of 100)",
            min(Limit(front.value * 100, front.what, front.raise_by), table, key=lambda lim: lim.value),
        ),
        ("deliveries/s, 100 ms receivers", min(fast, table, key=lambda lim: lim.value)),
        ("deliveries/s, 10 s receivers", min(slow, table, key=lambda lim: lim.value)),
        (
            "deliveries/s fired by a schedule",
            Limit(SCHEDULER_INVOCATIONS, "Scheduler invocations (1,000/s)", "a Service Quotas increase"),
        ),
        (
            "creates/s due beyond 14 min",
            Limit(SCHEDULER_CREATE, "Scheduler CreateSchedule (1,000/s)", "a Service Quotas increase"),
        ),
        ("one tenant, creates/s", one_tenant(values)),
    ]
    steady = min(limit.value for _, limit in carried[:3])
    return {
        "values": values,
        "rows": carried,
        "pending": pending(values, steady),
        "tenants": (
            f"{APIGW_API_KEYS:,} (one API key each); sign-up bursts queue, keys made at 4/s of CreateApiKey's "
            f"{APIGW_CREATE_API_KEY_RPS}/s (~40 per cleanup run)"
        ),
        "first": min(carried, key=lambda row: row[1].value),
    }


def render() -> str:
    assert abs(sum(WRU.values()) - measured_wru()) < 0.01, "WRU split no longer adds up to the measured figure"
    lines = [BEGIN, ""]
    for name, env in ENVIRONMENTS.items():
        found = model(env)
        v = found["values"]
        source = "variables.tf defaults" if env is None else f"envs/{env}.tfvars"
        lines += [
            f"### {name} ({source})",
            "",
            f"Inputs: `api_throttle` {v['api_throttle']['rate']:,}/s, `delivery_max_concurrency` "
            f"{v['delivery_max_concurrency']}, `release_batch_size` {v['release_batch_size']}, "
            f"`dynamodb_warm_write_units` {v['dynamodb_warm_write_units']}, `arm_horizon_s` {v['arm_horizon_s']}.",
            "",
            "| what | carries | bound by | raised by |",
            "|---|---|---|---|",
        ]
        lines += [f"| {row} | {lim.value:,.0f} | {lim.what} | {lim.raise_by} |" for row, lim in found["rows"]]
        first_row, first = found["first"]
        lines += [
            f"| pending messages | {found['pending']} | | `arm_horizon_s` |",
            f"| tenants | {found['tenants']} | API Gateway API keys | a Service Quotas increase |",
            "",
            f"First limit hit: **{first_row}** at {first.value:,.0f}: {first.what}; raised by {first.raise_by}.",
            "",
        ]
    lines.append(END)
    return "\n".join(lines)


def write() -> None:
    text = DOC.read_text()
    block = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    DOC.write_text(block.sub(lambda _: render(), text))


def main() -> None:
    print(render())
    if "--check" not in sys.argv:
        write()
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
