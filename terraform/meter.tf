# The meter: the usage counters are kept from the messages table's stream, out of the create and
# delivery-result transactions (chalicelib/adapters/aws/meter.py). Only writes that can count reach
# the function (filter_criteria = meter.FILTERS, checked by tests/terraform/test_lambda_contract.py);
# batches of 1,000 records of one shard, one at a time per shard, retried from the same record until
# they succeed (a failed batch is never split or skipped: the ledger makes a retry count once).

resource "aws_lambda_function" "meter" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by its event source mapping, which retries a failed batch itself; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-wide budget; the mapping runs one batch per stream shard at a time.
  #checkov:skip=CKV_AWS_117:Reaches only DynamoDB over TLS; no VPC resources to protect.
  #checkov:skip=CKV_AWS_173:The environment holds the table prefix and Powertools settings, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed S3 artifact; see api_handler.
  function_name    = local.function_names.meter
  description      = "Meter of ${local.name}: the messages table's stream -> the usage counters, exactly once."
  role             = aws_iam_role.function["meter"].arn
  handler          = "chalicelib.triggers.meter"
  runtime          = "python3.11"
  architectures    = ["x86_64"]
  filename         = local.package_zip
  source_code_hash = filebase64sha256(local.package_zip)
  memory_size      = local.function_memory.meter
  timeout          = local.function_timeouts.meter

  environment {
    variables = local.common_env
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_lambda_event_source_mapping" "meter" {
  event_source_arn                   = aws_dynamodb_table.messages.stream_arn
  function_name                      = aws_lambda_function.meter.arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = 1000
  maximum_batching_window_in_seconds = var.meter_batching_window_s
  bisect_batch_on_function_error     = false
  parallelization_factor             = 1
  maximum_retry_attempts             = -1
  maximum_record_age_in_seconds      = -1

  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = ["INSERT"], dynamodb = { Keys = { sk = { S = ["m"] } } } })
    }
    filter {
      pattern = jsonencode({ eventName = ["INSERT"], dynamodb = { Keys = { sk = { S = [{ prefix = "a#" }] } } } })
    }
    filter {
      pattern = jsonencode({
        eventName = ["MODIFY"]
        dynamodb  = { Keys = { sk = { S = ["m"] } }, NewImage = { status = { S = ["delivered", "failed"] } } }
      })
    }
    filter {
      pattern = jsonencode({
        eventName = ["MODIFY"]
        dynamodb = {
          Keys     = { sk = { S = ["m"] } }
          NewImage = { status = { S = ["scheduled"] } }
          OldImage = { status = { S = ["failed", "cancelled"] } }
        }
      })
    }
  }

  # The role must be allowed to read the stream when the mapping is created.
  depends_on = [aws_iam_role_policy.function]
}

# What the meter's role may do: the mapping reads the stream with it; the code reads its ledger and
# writes counters and ledger items in transactions.
data "aws_iam_policy_document" "meter" {
  source_policy_documents = [data.aws_iam_policy_document.base["meter"].json]

  statement {
    sid       = "ReadStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [aws_dynamodb_table.messages.stream_arn]
  }

  statement {
    sid       = "CountersAndLedger"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.usage.arn]
  }
}

# Counts lag by the stream's delay; a meter that keeps failing lets it grow, and records older than
# the stream's 24 h retention would be lost: alarm well before (its Errors alarm is in monitoring.tf).
resource "aws_cloudwatch_metric_alarm" "meter_iterator_age" {
  alarm_name          = "${local.name}-meter-iterator-age"
  alarm_description   = "The meter is more than 15 minutes behind the messages table's stream: usage counts lag, and records older than 24 h would be lost. Check the meter function's errors."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.meter.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 900000
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
