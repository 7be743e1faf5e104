"""terraform/monitoring.tf watches the metrics the code emits (`chalicelib.observability`) under the
namespace and service the functions are configured with, and every alarm notifies the topic."""

from __future__ import annotations

import json

from chalicelib import observability
from tests.terraform.hcl import stack, unwrap


def dashboard_text() -> str:
    return json.dumps(stack().locals["dashboard_widgets"])


def test_the_dashboard_shows_every_metric_the_code_emits() -> None:
    text = dashboard_text()
    for name in observability.METRIC_NAMES:
        assert name in text, f"{name} is emitted but not on the dashboard"
    assert '"p50"' in text and '"p99"' in text


def test_the_dashboard_shows_queues_lambdas_and_the_api() -> None:
    text = dashboard_text()
    for metric in ["ApproximateNumberOfMessagesVisible", "Errors", "Throttles", "4XXError", "5XXError"]:
        assert metric in text
    assert "flatten(" not in text, "flatten() would also flatten the metric arrays"


def test_app_metrics_are_read_under_the_functions_namespace_and_service() -> None:
    assert unwrap(stack().locals["app_metric_dimensions"]["service"]) == "local.common_env.POWERTOOLS_SERVICE_NAME"
    assert unwrap(stack().locals["common_env"]["POWERTOOLS_SERVICE_NAME"]) == "local.name"
    for name in ["delivery_failures", "lateness_p99"]:
        alarm = stack().resource("aws_cloudwatch_metric_alarm", name)
        assert unwrap(alarm["namespace"]) == "local.metrics_namespace"
        assert unwrap(alarm["dimensions"]) == "local.app_metric_dimensions"
        assert alarm["metric_name"] in observability.METRIC_NAMES


def test_the_alarms_the_issue_asks_for_exist_and_notify_the_topic() -> None:
    alarms = stack().of_kind("aws_cloudwatch_metric_alarm")
    assert {"dlq_not_empty", "delivery_failures", "lateness_p99", "lambda_errors"} <= set(alarms)
    assert unwrap(alarms["dlq_not_empty"]["for_each"]) == "local.dlqs"
    assert unwrap(alarms["lambda_errors"]["for_each"]) == "local.function_names"
    assert alarms["lateness_p99"]["extended_statistic"] == "p99"
    for name, alarm in alarms.items():
        assert [unwrap(a) for a in alarm["alarm_actions"]] == ["aws_sns_topic.alarms.arn"], name


def test_both_dead_letter_queues_are_watched() -> None:
    dlqs = {k: unwrap(v) for k, v in stack().locals["dlqs"].items()}
    assert dlqs == {"release": "aws_sqs_queue.release_dlq.name", "schedule": "aws_sqs_queue.schedule_dlq.name"}
