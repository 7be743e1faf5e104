"""docs/aws-costs.md is what bench/aws_cost.py computes from Terraform's values and the measured work
(bench/results/aws_cost.json): change a function's memory, architecture, tracing or the log level in
terraform/ and this fails until `python -m bench.aws_cost` has been run again."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bench import aws_cost
from bench.deployed import deployed
from tests.terraform.tfvars import deployment


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return dict(json.loads(aws_cost.RESULTS.read_text()))


def test_the_cost_doc_is_computed_from_the_current_terraform(results: dict[str, Any]) -> None:
    assert aws_cost.render(results) in aws_cost.DOC.read_text(), "run: python -m bench.aws_cost"


@pytest.mark.parametrize("env", [None, "prod"])
def test_the_model_reads_what_terraform_deploys(env: str | None) -> None:
    values, found = deployment(env), deployed(env)
    assert {name: f.memory_mb for name, f in found.functions.items()} == values["function_memory_mb"]
    assert found.log_level == values["log_level"]
    assert found.release_batch_size == values["release_batch_size"]
    assert found.meter_batching_window_s == values["meter_batching_window_s"]


def test_the_meters_batching_window_makes_a_quiet_stream_cheaper(results: dict[str, Any]) -> None:
    d = deployed(None)

    def metering(window_s: int) -> dict[str, Any]:
        return aws_cost.path(replace(d, meter_batching_window_s=window_s), results, later=True, batch=False, busy=False)

    unbatched, windowed, longer = metering(0), metering(5), metering(60)
    assert unbatched["wru"] > windowed["wru"] > longer["wru"]  # one ledger + transaction per invocation
    assert unbatched["usdPerMillion"]["DynamoDB"] > windowed["usdPerMillion"]["DynamoDB"]


def test_memory_and_architecture_move_the_lambda_cost(results: dict[str, Any]) -> None:
    d = deployed(None)

    def lambda_usd(memory: int, arch: str) -> float:
        shaped = replace(
            d,
            functions={**d.functions, "deliver": replace(d.functions["deliver"], memory_mb=memory, architecture=arch)},
        )
        return float(aws_cost.path(shaped, results, later=False, batch=False, busy=False)["usdPerMillion"]["Lambda"])

    assert lambda_usd(1024, "x86_64") > lambda_usd(512, "x86_64") > lambda_usd(512, "arm64")


def test_tracing_costs_only_when_something_is_traced(results: dict[str, Any]) -> None:
    d = deployed(None)
    functions = {name: replace(f, tracing="PassThrough") for name, f in d.functions.items()}
    dark = aws_cost.path(
        replace(d, functions=functions, api_tracing=False), results, later=True, batch=False, busy=False
    )
    lit = aws_cost.path(
        replace(d, functions={**functions, "deliver": replace(functions["deliver"], tracing="Active")}),
        results,
        later=True,
        batch=False,
        busy=False,
    )
    assert dark["usdPerMillion"]["X-Ray"] == 0
    assert lit["usdPerMillion"]["X-Ray"] > 0


def test_a_log_level_that_was_not_measured_is_refused(results: dict[str, Any]) -> None:
    with pytest.raises(SystemExit, match="was not measured"):
        aws_cost.model(replace(deployed(None), log_level="DEBUG"), {**results, "work": {}})
