"""AWS cost per million messages of what Terraform deploys: calls, write and read units, Lambda GB-s,
SQS requests, Scheduler invocations, CloudWatch Logs bytes and X-Ray traces per message, for a message
due soon (SQS) or later (an EventBridge Scheduler schedule), created alone or in batches of 100, with
deliveries one per invocation (quiet) or in full batches of the release queue (busy).

    python -m bench.aws_cost            # measure; write bench/results/aws_cost.json and docs/aws-costs.md
    python -m bench.aws_cost --render   # recompute from the results file and Terraform (no measuring)

Measured (under moto, by running the code): AWS calls, WRU and RRU per step (`bench.aws_calls`), CPU
time and log bytes per message of each Lambda (`bench.aws_work`, at the deployed log level). Read from
terraform/ (`bench.deployed`): memory, architecture, tracing mode, log level, batch size, API stage
tracing and access log. Assumed (no AWS account here, stated in the doc): the receiver's 150 ms, 10 ms per
AWS call, the wait-out of the last sub-second, one vCPU at 1,769 MB, X-Ray's default sampling rule at
100 messages/s. tests/terraform/test_cost_doc.py fails when the doc no longer matches Terraform.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.aws_calls import METER_BUSY, METER_QUIET
from bench.aws_work import METER_RECORDS
from bench.deployed import Deployed, deployed

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "aws_cost.json"
DOC = ROOT / "docs" / "aws-costs.md"
BEGIN, END = "<!-- cost:begin (bench/aws_cost.py writes this part) -->", "<!-- cost:end -->"
ENVIRONMENTS: dict[str, str | None] = {"default": None, "prod": "prod"}

PRICES_AS_OF = "2025-06 (AWS pricing pages, us-east-1 list prices; not re-checked from this machine: no internet)"
PRICES: dict[str, tuple[float, str]] = {
    "apigw_rest": (3.50, "API Gateway REST API, per million requests (first 333 M a month)"),
    "lambda_request": (0.20, "Lambda, per million requests"),
    "lambda_gb_s_x86_64": (0.0000166667, "Lambda x86_64, per GB-second (first 6 B GB-s a month)"),
    "lambda_gb_s_arm64": (0.0000133334, "Lambda arm64, per GB-second (first 7.5 B GB-s a month)"),
    "ddb_wru": (0.625, "DynamoDB on-demand, per million write request units"),
    "ddb_rru": (0.125, "DynamoDB on-demand, per million read request units"),
    "scheduler": (1.00, "EventBridge Scheduler, per million invocations (first 14 M a month free)"),
    "sqs": (0.40, "SQS standard, per million requests (64 KB chunks)"),
    "kms": (3.00, "KMS, per million requests"),
    "logs_gb": (0.50, "CloudWatch Logs ingestion (standard class), per GB"),
    "xray_trace": (5.00, "X-Ray, per million traces recorded"),
}
# Assumptions (see the module docstring).
RECEIVER_MS = 150
CALL_MS = 10
VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
LOAD_PER_S = 100  # for X-Ray's default rule: the first request each second and 5 % of the rest
QUIET_PER_S = 1  # a quiet stream: one message a second, gathered by the meter mapping's batching window
LOG_EVENT_OVERHEAD = 26  # CloudWatch Logs meters each event as its message plus 26 bytes
UUID = "8f5a6c1e-3b2d-4f7a-9c0e-1d2b3a4c5e6f"
TARGETS = {"later, single creates": 9.0, "later, batches of 100": 4.0}
DELIVER_MEMORY_OPTIONS = (128, 256, 512, 1024, 1769)


def _price(name: str) -> float:
    return PRICES[name][0]


def platform_log_bytes(traced: bool) -> int:
    """Lambda's START, END and REPORT lines of one invocation (text format), with the metering overhead."""
    report = (
        f"REPORT RequestId: {UUID}\tDuration: 702.41 ms\tBilled Duration: 703 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 98 MB\t"
    )
    if traced:
        report += "XRAY TraceId: 1-6750a1b2-0123456789abcdef01234567\tSegmentId: 0123456789abcdef\tSampled: true\t"
    lines = [f"START RequestId: {UUID} Version: $LATEST", f"END RequestId: {UUID}", report]
    return sum(len(line) + 1 + LOG_EVENT_OVERHEAD for line in lines)


def access_log_bytes(fmt: str | None) -> int:
    """One API Gateway access log line of a create, from the stage's format."""
    if fmt is None:
        return 0
    example = {
        "requestId": UUID,
        "identity.sourceIp": "203.0.113.10",
        "requestTime": "04/Dec/2026:05:00:00 +0000",
        "httpMethod": "POST",
        "resourcePath": "/messages",
        "status": "201",
        "responseLength": "420",
        "responseLatency": "45",
        "integrationLatency": "41",
        "authorizer.tenantId": "ten_01JEXAMPLE0000000000000000",
        "error.responseType": "-",
        "error.message": "-",
    }
    line = re.sub(r"\$context\.([\w.]+)", lambda m: example.get(m.group(1), "-"), fmt)
    return len(line) + 1 + LOG_EVENT_OVERHEAD


def sampled_fraction(load_per_s: float = LOAD_PER_S) -> float:
    """X-Ray's default sampling rule: one request a second, then 5 % (per traced entry point)."""
    return min(1.0, (1 + 0.05 * max(0.0, load_per_s - 1)) / load_per_s)


def cpu_ms(ms_here: float, memory_mb: int) -> float:
    """CPU time at a Lambda memory size: a share of one vCPU below 1,769 MB (this machine's core ~ a vCPU)."""
    return ms_here * max(1.0, VCPU_MB / memory_mb)


def gb_s_price(d: Deployed, function: str) -> float:
    return _price(f"lambda_gb_s_{d.functions[function].architecture}")


def _invocation(d: Deployed, function: str, ms: float) -> dict[str, float]:
    memory = d.functions[function].memory_mb
    gb_s = ms / 1000 * memory / 1024
    return {"ms": ms, "gbS": gb_s, "usd": (_price("lambda_request") + gb_s * gb_s_price(d, function) * 1e6) / 1e6}


def _sqs_calls(*steps: dict[str, Any]) -> float:
    return sum(v for s in steps for k, v in s["calls"].items() if k.startswith("sqs:"))


def path(d: Deployed, results: dict[str, Any], *, later: bool, batch: bool, busy: bool) -> dict[str, Any]:
    """Per message: the counts and the $ per million messages of each component of one path."""
    steps, work = results["steps"], results["work"][d.log_level]
    if batch:
        create = steps[f"create, batch of 100 due {'later' if later else 'within 14 min'} (per message)"]
    else:
        create = steps["create (later: EventBridge schedule)" if later else "create (due within 14 min: SQS)"]
    deliver = steps["deliver from SQS after a schedule, warm" if later else "deliver from SQS, warm"]
    requeue = steps["schedule event (re-queue)"] if later else {"wru": 0, "rru": 0, "totalCalls": 0, "calls": {}}
    per_request = 100 if batch else 1
    fn = d.functions
    api_work = work["create_batch" if batch else "create"]
    api = _invocation(
        d,
        "api_handler",
        cpu_ms(api_work["cpuMsMedian"] * per_request, fn["api_handler"].memory_mb)
        + create["totalCalls"] * per_request * CALL_MS,
    )
    size = d.release_batch_size if busy else 1
    release_work = work["release_batch" if busy and size > 1 else "release"]
    wait_ms = 1000 * size / (size + 1)  # the latest sub-second of `size` uniform ones
    release = _invocation(
        d,
        "deliver",
        wait_ms
        + RECEIVER_MS
        + deliver["totalCalls"] * CALL_MS
        + cpu_ms(release_work["cpuMsMedian"] * size, fn["deliver"].memory_mb),
    )
    schedule = _invocation(
        d, "deliver", cpu_ms(work["schedule"]["cpuMsMedian"], fn["deliver"].memory_mb) + requeue["totalCalls"] * CALL_MS
    )
    invocations = {"api": 1 / per_request, "schedule": 1.0 if later else 0.0, "release": 1 / size}
    traced = {
        "api": d.api_tracing or fn["api_handler"].tracing == "Active",
        "schedule": fn["deliver"].tracing == "Active",
        "release": fn["deliver"].tracing == "Active",
    }
    log_bytes = (
        access_log_bytes(d.access_log_format) / per_request
        + invocations["api"] * platform_log_bytes(traced["api"])
        + api_work["logBytes"]
        + api_work["logEvents"] * LOG_EVENT_OVERHEAD
        + invocations["schedule"] * (platform_log_bytes(traced["schedule"]) + work["schedule"]["logBytes"])
        + invocations["release"] * platform_log_bytes(traced["release"])
        + release_work["logBytes"]
        + release_work["logEvents"] * LOG_EVENT_OVERHEAD
    )
    metering = _meter(d, results, busy=busy, batch=batch)
    invocations["meter"] = metering["invocations"]
    traced["meter"] = fn["meter"].tracing == "Active"
    log_bytes += metering["invocations"] * platform_log_bytes(traced["meter"]) + metering["logBytes"]
    traces = sum(invocations[k] * sampled_fraction() for k, on in traced.items() if on)
    wru = create["wru"] + deliver["wru"] + requeue["wru"] + metering["wru"]
    rru = create["rru"] + deliver["rru"] + requeue["rru"] + metering["rru"]
    sqs = _sqs_calls(create, deliver, requeue) + 2 / size  # + the mapping's receive and delete of the release message
    lambda_usd = (
        invocations["api"] * api["usd"]
        + invocations["schedule"] * schedule["usd"]
        + release["usd"] / size
        + metering["invocations"] * metering["usd"]
    )
    usd = {
        "API Gateway": _price("apigw_rest") / per_request,
        "Lambda": lambda_usd * 1e6,
        "DynamoDB": wru * _price("ddb_wru") + rru * _price("ddb_rru"),
        "Scheduler": _price("scheduler") if later else 0.0,
        "SQS": sqs * _price("sqs"),
        "KMS": 0.0,
        "Logs": log_bytes / 1e9 * _price("logs_gb") * 1e6,
        "X-Ray": traces * _price("xray_trace"),
    }
    usd["total"] = sum(usd.values())
    calls = create["totalCalls"] + deliver["totalCalls"] + requeue["totalCalls"] + metering["calls"]
    gb_s = (
        invocations["api"] * api["gbS"]
        + invocations["schedule"] * schedule["gbS"]
        + release["gbS"] / size
        + metering["invocations"] * metering["gbS"]
    )
    return {
        "calls": round(calls, 2),
        "wru": round(wru, 2),
        "rru": round(rru, 2),
        "gbS": round(gb_s, 4),
        "sqsRequests": round(sqs, 2),
        "logBytes": round(log_bytes),
        "traces": round(traces, 3),
        "usdPerMillion": {k: round(v, 2) for k, v in usd.items()},
    }


def _meter(d: Deployed, results: dict[str, Any], *, busy: bool, batch: bool = False) -> dict[str, float]:
    """The meter Lambda's share of one delivered message (its stream records: stored, attempted,
    delivered). Quiet stream: one invocation per write (the create's transaction, shared by a batch of
    100; the result's), each one ledger read and one transaction of a counter and the ledger; busy:
    full batches of the mapping's size, one tenant-day each (every further tenant-day in a batch adds
    one counter update, 2 WRU). Per message: calls, WRU, RRU, invocations, log bytes; per invocation
    $ and GB-s (AWS calls at CALL_MS plus the measured CPU per record)."""
    steps, work = results["steps"], results["work"][d.log_level]["meter"]
    records = float(steps[METER_BUSY]["recordsPerDeliveredMessage"])
    # an invocation with one tenant-day costs the same whatever its size: a ledger read, a transaction
    step = {k: steps[METER_QUIET][k] for k in ("totalCalls", "wru", "rru")}
    invocations = records / d.meter_batch_size if busy else _quiet_meter_invocations(d, records, batch)
    memory = d.functions["meter"].memory_mb
    ms = step["totalCalls"] * CALL_MS + cpu_ms(work["cpuMsMedian"] * records / invocations, memory)
    invocation = _invocation(d, "meter", ms)
    return {
        "calls": step["totalCalls"] * invocations,
        "wru": step["wru"] * invocations,
        "rru": step["rru"] * invocations,
        "invocations": invocations,
        "usd": invocation["usd"],
        "gbS": invocation["gbS"],
        # one log line an invocation, whatever its size (measured over invocations of METER_RECORDS)
        "logBytes": invocations * METER_RECORDS * (work["logBytes"] + LOG_EVENT_OVERHEAD * work["logEvents"]),
    }


def _quiet_meter_invocations(d: Deployed, records: float, batch: bool) -> float:
    """Meter invocations per message on a quiet stream: with a batching window, one per window of
    QUIET_PER_S messages (at least as many as full batches need); without, one per write (the create's,
    shared by a batch of 100, and the result's)."""
    window_s = d.meter_batching_window_s
    if window_s <= 0:
        return (0.01 if batch else 1.0) + 1.0
    return max(1 / (QUIET_PER_S * window_s), records / d.meter_batch_size)


PATHS = {
    "soon, single creates": {"later": False, "batch": False},
    "later, single creates": {"later": True, "batch": False},
    "soon, batches of 100": {"later": False, "batch": True},
    "later, batches of 100": {"later": True, "batch": True},
}


def model(d: Deployed, results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every path, quiet (one delivery per invocation) and busy (full release batches)."""
    if d.log_level not in results["work"]:
        raise SystemExit(f"log level {d.log_level} was not measured: run python -m bench.aws_cost")
    return {
        f"{name}, {load}": path(d, results, busy=load == "busy", **spec)
        for name, spec in PATHS.items()
        for load in ("quiet", "busy")
    }


def deliver_memory_table(d: Deployed, results: dict[str, Any]) -> list[tuple[int, float, float, float]]:
    """Per memory size of the delivery function: Lambda $/M (later, single, quiet), p99 CPU ms of one
    record, p99 CPU ms of a full batch (its records share the CPU)."""
    work = results["work"][d.log_level]
    rows = []
    for memory in DELIVER_MEMORY_OPTIONS:
        shaped = replace(d, functions={**d.functions, "deliver": replace(d.functions["deliver"], memory_mb=memory)})
        quiet = path(shaped, results, later=True, batch=False, busy=False)
        rows.append(
            (
                memory,
                quiet["usdPerMillion"]["Lambda"],
                cpu_ms(work["release"]["cpuMsP99"], memory),
                cpu_ms(work["release_batch"]["cpuMsP99"] * d.release_batch_size, memory),
            )
        )
    return rows


def _functions_line(d: Deployed) -> str:
    parts = [
        f"`{name}` {f.memory_mb} MB {f.architecture} tracing {f.tracing}"
        for name, f in d.functions.items()
        if name in ("api_handler", "deliver", "meter")
    ]
    return (
        ", ".join(parts)
        + f"; log level {d.log_level}; release batch {d.release_batch_size}; meter batch {d.meter_batch_size}"
        + "; API stage tracing "
        + ("on" if d.api_tracing else "off")
        + ("; access log on" if d.access_log_format else "")
    )


def _meter_line(d: Deployed, results: dict[str, Any]) -> str:
    """The meter's share, included in every row above (stream reads by its mapping are free)."""
    quiet, busy = _meter(d, results, busy=False), _meter(d, results, busy=True)
    records = results["steps"][METER_BUSY]["recordsPerDeliveredMessage"]

    def usd(m: dict[str, float]) -> float:
        return m["invocations"] * m["usd"] * 1e6 + m["wru"] * _price("ddb_wru") + m["rru"] * _price("ddb_rru")

    return (
        f"Metering (the `meter` Lambda on the messages stream; in every row above): a delivered message is "
        f"{records:g} stream records. Quiet ({QUIET_PER_S} message/s, gathered for "
        f"{d.meter_batching_window_s} s by the mapping's batching window; single creates): "
        f"{quiet['invocations']:g} invocations, {quiet['wru']:g} WRU, {quiet['rru']:g} RRU, "
        f"{quiet['gbS']:.5f} GB-s each: ${usd(quiet):.2f}/M. Busy (batches of {d.meter_batch_size}, one "
        f"tenant-day each; +2 WRU a batch per further tenant-day): {busy['invocations']:.4f} invocations, "
        f"{busy['wru']:.4f} WRU, {busy['rru']:.4f} RRU: ${usd(busy):.3f}/M."
    )


def render(results: dict[str, Any]) -> str:
    """The generated part of docs/aws-costs.md: every deployment's tables, the prices, the assumptions."""
    lines = [BEGIN, ""]
    components = ["API Gateway", "Lambda", "DynamoDB", "Scheduler", "SQS", "KMS", "Logs", "X-Ray"]
    for name, env in ENVIRONMENTS.items():
        d = deployed(env)
        rows = model(d, results)
        lines += [
            f"### {name} ({'variables.tf defaults' if env is None else f'envs/{env}.tfvars'})",
            "",
            f"Deployed: {_functions_line(d)}.",
            "",
            "| path, deliveries | calls | WRU | RRU | GB-s | SQS req | log B | traces | "
            + " | ".join(components)
            + " | **$/M** |",
            "|---|" + "---|" * (8 + len(components)),
        ]
        for path_name, row in rows.items():
            usd = row["usdPerMillion"]
            lines.append(
                f"| {path_name} | {row['calls']:g} | {row['wru']:g} | {row['rru']:g} | {row['gbS']:g} | "
                f"{row['sqsRequests']:g} | {row['logBytes']} | {row['traces']:g} | "
                + " | ".join(f"{usd[c]:.2f}" for c in components)
                + f" | **{usd['total']:.2f}** |"
            )
        lines.append("")
        lines.append(_meter_line(d, results))
        lines.append("")
        for target, limit in TARGETS.items():
            for load in ("quiet", "busy"):
                total = rows[f"{target}, {load}"]["usdPerMillion"]["total"]
                verdict = "met" if total <= limit else f"missed by ${total - limit:.2f}"
                lines.append(f"- {target}, {load}: ${total:.2f}/M against ≤ ${limit:.0f}: **{verdict}**")
        lines.append("")
        if env is None:
            lines += [
                "Delivery function memory (later, single create, quiet; CPU scaled from this machine's core):",
                "",
                "| memory MB | Lambda $/M | p99 CPU ms, one record | p99 CPU ms, a full batch |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {m} | {usd:.2f} | {one:.0f} | {full:.0f} |"
                for m, usd, one, full in deliver_memory_table(d, results)
            ]
            lines.append("")
    lines += [f"Prices as of {PRICES_AS_OF}:", "", "| item | price |", "|---|---|"]
    lines += [f"| {text} | ${value:g} |" for value, text in PRICES.values()]
    lines += [
        "",
        f"Assumptions: receiver {RECEIVER_MS} ms; {CALL_MS} ms per AWS call; the wait-out of the last "
        "sub-second averages 500 ms for one record and size/(size+1) s for a batch; CPU scales as a "
        f"share of one vCPU below {VCPU_MB} MB; X-Ray's default rule at {LOAD_PER_S} messages/s "
        f"({sampled_fraction():.1%} of each traced entry point); authorizer answers cached "
        "(0 per message); KMS data keys cached (0 per message); free tiers ignored.",
        "",
        END,
    ]
    return "\n".join(lines)


def measure() -> dict[str, Any]:
    """Run the AWS path under moto: calls and units per step, work per Lambda at each deployed log level."""
    from bench import aws_calls, aws_work

    levels = sorted({deployed(env).log_level for env in ENVIRONMENTS.values()})
    return {
        "steps": aws_calls.measure(),
        "work": {level: aws_work.measure(level) for level in levels},
        "assumptions": {"receiverMs": RECEIVER_MS, "callMs": CALL_MS, "vcpuMb": VCPU_MB, "loadPerS": LOAD_PER_S},
        "prices": {"asOf": PRICES_AS_OF, **{k: v[0] for k, v in PRICES.items()}},
    }


def write_doc(results: dict[str, Any]) -> None:
    text = DOC.read_text()
    block = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not block.search(text):
        raise SystemExit(f"{DOC}: no {BEGIN} ... {END} block")
    DOC.write_text(block.sub(lambda _: render(results), text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render", action="store_true", help="recompute from the results file, no measuring")
    args = parser.parse_args()
    if args.render:
        results = json.loads(RESULTS.read_text())
    else:
        results = measure()
        results["usdPerMillion"] = {name: model(deployed(env), results) for name, env in ENVIRONMENTS.items()}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    print(render(results))
    write_doc(results)
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
