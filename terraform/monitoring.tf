# The dashboard and the alarms. The app's own metrics come from Powertools Metrics (EMF logs) in the
# namespace POWERTOOLS_METRICS_NAMESPACE with the single dimension `service` = POWERTOOLS_SERVICE_NAME
# (`<app>-<stage>`, so two stages in one account never mix): MessagesScheduled, DeliveryAttempts,
# DeliverySucceeded, DeliveryFailed (counts) and DeliveryLatenessMs (first attempt start - sendAt).

locals {
  app_metric_dimensions = { service = local.common_env.POWERTOOLS_SERVICE_NAME }
  dashboard_name        = local.name
  api_dimensions        = ["ApiName", aws_api_gateway_rest_api.this.name, "Stage", aws_api_gateway_stage.this.stage_name]
  dlqs = {
    release  = aws_sqs_queue.release_dlq.name
    schedule = aws_sqs_queue.schedule_dlq.name
  }

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "Messages (per minute)"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          for name in ["MessagesScheduled", "DeliverySucceeded", "DeliveryFailed", "DeliveryAttempts"] :
          [local.metrics_namespace, name, "service", local.app_metric_dimensions.service, { label = name }]
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "Delivery lateness (ms): first attempt start - sendAt"
        region = local.region
        period = 60
        metrics = [
          [local.metrics_namespace, "DeliveryLatenessMs", "service", local.app_metric_dimensions.service, { stat = "p50", label = "p50" }],
          [local.metrics_namespace, "DeliveryLatenessMs", "service", local.app_metric_dimensions.service, { stat = "p99", label = "p99" }],
        ]
        annotations = { horizontal = [{ label = "p99 alarm", value = var.alarm_lateness_p99_ms }] }
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title  = "Queues: DLQ depth and release backlog"
        region = local.region
        stat   = "Maximum"
        period = 60
        metrics = concat(
          [for key, queue in local.dlqs : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { label = "${key} DLQ" }]],
          [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.release.name, { label = "release queue (due now)" }]],
          [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.release.name, { label = "oldest release (s)", yAxis = "right" }]],
        )
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title  = "Lambda errors and throttles"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = concat(
          [for key, function_name in local.function_names : ["AWS/Lambda", "Errors", "FunctionName", function_name, { label = "${key} errors" }]],
          [for key, function_name in local.function_names : ["AWS/Lambda", "Throttles", "FunctionName", function_name, { label = "${key} throttles" }]],
        )
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title  = "API requests and errors"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          concat(["AWS/ApiGateway", "Count"], local.api_dimensions, [{ label = "requests" }]),
          concat(["AWS/ApiGateway", "4XXError"], local.api_dimensions, [{ label = "4xx" }]),
          concat(["AWS/ApiGateway", "5XXError"], local.api_dimensions, [{ label = "5xx" }]),
        ]
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title  = "Message schedules (EventBridge Scheduler)"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          for name in ["InvocationAttemptCount", "TargetErrorCount", "InvocationsSentToDeadLetterCount", "InvocationThrottleCount"] :
          ["AWS/Scheduler", name, "ScheduleGroup", aws_scheduler_schedule_group.this.name, { label = name }]
        ]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.observability.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ---- alarms --------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = local.dlqs

  alarm_name          = "${local.name}-${each.key}-dlq-not-empty"
  alarm_description   = "The ${each.key} dead-letter queue holds messages: timers that could not reach the delivery function. Cleanup re-arms their messages; find the cause, then redrive or purge."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "delivery_failures" {
  alarm_name          = "${local.name}-delivery-failures"
  alarm_description   = "More than ${var.alarm_failed_deliveries} messages ended failed (exhausted, gone, expired or app deleted) within 5 minutes."
  namespace           = local.metrics_namespace
  metric_name         = "DeliveryFailed"
  dimensions          = local.app_metric_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_failed_deliveries
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lateness_p99" {
  alarm_name          = "${local.name}-lateness-p99"
  alarm_description   = "The p99 of delivery lateness stayed above ${var.alarm_lateness_p99_ms} ms for 15 minutes: deliveries start late (throttling, a backlog, or schedules firing late)."
  namespace           = local.metrics_namespace
  metric_name         = "DeliveryLatenessMs"
  dimensions          = local.app_metric_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_lateness_p99_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = local.function_names

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The ${each.key} function failed (unhandled errors or timeouts) in two 5-minute periods in a row."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.name}-api-5xx"
  alarm_description   = "The API answered 5xx in two 5-minute periods in a row."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
