# One role per function, each allowed the actions its code calls on the resources it touches and
# nothing else. tests/terraform/test_iam_contract.py derives the calls from the code (statically, and
# by recording the boto3 calls of each handler under moto) and compares them with these documents.
#
# DynamoDB transactions need the item action of each part (PutItem, UpdateItem, ...); SQS batches need
# the single action (SendMessage covers SendMessageBatch). Only X-Ray and scheduler:ListSchedules use
# Resource "*": they have no resource-level permissions.

resource "aws_iam_role" "function" {
  for_each = local.function_names

  name               = each.value
  description        = "Execution role of the ${each.key} function of ${local.name}."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_names

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = local.function_policies[each.key]
}

locals {
  function_policies = {
    api_handler       = data.aws_iam_policy_document.api_handler.json
    authorizer        = data.aws_iam_policy_document.authorizer.json
    deliver           = data.aws_iam_policy_document.deliver.json
    cleanup           = data.aws_iam_policy_document.cleanup.json
    post_confirmation = data.aws_iam_policy_document.post_confirmation.json
    meter             = data.aws_iam_policy_document.meter.json
  }
  schedules_of_messages = "${local.schedule_arn_prefix}/m-*"

  # API Gateway management ARNs: API keys (GetApiKeys, CreateApiKey) and each plan's keys (CreateUsagePlanKey).
  api_keys_arn         = "arn:${local.partition}:apigateway:${local.region}::/apikeys"
  usage_plan_keys_arns = [for plan in aws_api_gateway_usage_plan.this : "arn:${local.partition}:apigateway:${local.region}::/usageplans/${plan.id}/keys"]
}

# Every function: its own log group, and X-Ray (tracing is active).
data "aws_iam_policy_document" "base" {
  for_each = local.function_names

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns[each.key]}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

# Schedules are created and deleted in the stage's group only, under the names the code gives them,
# and the role they run with may be passed to EventBridge Scheduler only.
data "aws_iam_policy_document" "pass_scheduler_role" {
  statement {
    sid       = "PassSchedulerRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.scheduler.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["scheduler.amazonaws.com"]
    }
  }
}

# ---- api_handler: every route (tenants, keys, apps, messages, usage) ------------------------

data "aws_iam_policy_document" "api_handler" {
  source_policy_documents = [
    data.aws_iam_policy_document.base["api_handler"].json,
    data.aws_iam_policy_document.pass_scheduler_role.json,
    data.aws_iam_policy_document.recurring_api_handler.json, # schedules.tf
  ]

  statement {
    sid       = "Tenants"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.tenants.arn]
  }

  statement {
    sid       = "ListTenants"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.tenants.arn}/index/all"]
  }

  statement {
    sid       = "Keys"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.keys.arn]
  }

  statement {
    sid       = "ListKeys"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.keys.arn}/index/by-tenant"]
  }

  statement {
    sid       = "Apps"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.apps.arn]
  }

  statement {
    sid       = "Messages"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.messages.arn]
  }

  statement {
    sid     = "ListMessages"
    actions = ["dynamodb:Query"]
    resources = [
      "${aws_dynamodb_table.messages.arn}/index/by-send",
      "${aws_dynamodb_table.messages.arn}/index/by-problem",
      "${aws_dynamodb_table.messages.arn}/index/by-feed",
    ]
  }

  statement {
    sid       = "Usage"
    actions   = ["dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.usage.arn]
  }

  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  statement {
    sid       = "SealSecrets"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["tenantId"]
    }
  }

  statement {
    sid       = "ReleaseSoon"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.release.arn]
  }

  statement {
    sid       = "ScheduleLater"
    actions   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"]
    resources = [local.schedules_of_messages]
  }

  # POST /tenants (operator): the new tenant's usage key, as the Post Confirmation trigger makes it.
  statement {
    sid       = "UsageKey"
    actions   = ["apigateway:GET", "apigateway:POST"]
    resources = [local.api_keys_arn]
  }

  statement {
    sid       = "JoinPlan"
    actions   = ["apigateway:POST"]
    resources = local.usage_plan_keys_arns
  }
}

# ---- authorizer: token -> tenant ------------------------------------------------------------

data "aws_iam_policy_document" "authorizer" {
  source_policy_documents = [data.aws_iam_policy_document.base["authorizer"].json]

  statement {
    sid       = "LookUpKeysAndTenants"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.keys.arn, aws_dynamodb_table.tenants.arn]
  }
}

# ---- deliver: schedule events and the release queue -----------------------------------------

data "aws_iam_policy_document" "deliver" {
  source_policy_documents = [
    data.aws_iam_policy_document.base["deliver"].json,
    data.aws_iam_policy_document.pass_scheduler_role.json,
    data.aws_iam_policy_document.recurring_deliver.json, # schedules.tf
  ]

  statement {
    sid       = "ClaimAndRecord"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.messages.arn]
  }

  statement {
    sid       = "ReadApp"
    actions   = ["dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.apps.arn]
  }

  statement {
    sid       = "Slots"
    actions   = ["dynamodb:UpdateItem", "dynamodb:Query"] # the tenant's delivery slots (slots.py); counters: the meter
    resources = [aws_dynamodb_table.usage.arn]
  }

  statement {
    sid       = "OpenSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["tenantId"]
    }
  }

  statement {
    sid       = "ConsumeReleaseQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.release.arn]
  }

  statement {
    sid       = "Requeue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.release.arn]
  }

  statement {
    sid       = "AsyncDeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.schedule_dlq.arn]
  }

  statement {
    sid       = "ScheduleRetry"
    actions   = ["scheduler:CreateSchedule"]
    resources = [local.schedules_of_messages]
  }
}

# ---- cleanup: wake index, leases, stale schedules -------------------------------------------

data "aws_iam_policy_document" "cleanup" {
  source_policy_documents = [
    data.aws_iam_policy_document.base["cleanup"].json,
    data.aws_iam_policy_document.pass_scheduler_role.json,
    data.aws_iam_policy_document.recurring_cleanup.json, # schedules.tf
  ]

  statement {
    sid       = "Messages"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.messages.arn]
  }

  statement {
    sid       = "WakeIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.messages.arn}/index/by-wake"]
  }

  statement {
    sid       = "Release"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.release.arn]
  }

  statement {
    sid       = "ArmAndPrune"
    actions   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"]
    resources = [local.schedules_of_messages]
  }

  statement {
    sid       = "SweepGroup"
    actions   = ["scheduler:ListSchedules"]
    resources = ["*"]
  }

  # Sign-ups whose usage key API Gateway throttled: cleanup makes the key (provisioning.py).
  statement {
    sid       = "PendingTenants"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.tenants.arn]
  }

  statement {
    sid       = "FindPendingTenants"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.tenants.arn}/index/key-pending"]
  }

  statement {
    sid       = "UsageKey"
    actions   = ["apigateway:GET", "apigateway:POST"]
    resources = [local.api_keys_arn]
  }

  statement {
    sid       = "JoinPlan"
    actions   = ["apigateway:POST"]
    resources = local.usage_plan_keys_arns
  }
}

# ---- post_confirmation: a confirmed sign-up becomes a tenant with a usage key ---------------

data "aws_iam_policy_document" "post_confirmation" {
  source_policy_documents = [data.aws_iam_policy_document.base["post_confirmation"].json]

  statement {
    sid       = "Tenant"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.tenants.arn]
  }

  statement {
    sid       = "UsageKey"
    actions   = ["apigateway:GET", "apigateway:POST"]
    resources = [local.api_keys_arn]
  }

  statement {
    sid       = "JoinPlan"
    actions   = ["apigateway:POST"]
    resources = local.usage_plan_keys_arns
  }
}
