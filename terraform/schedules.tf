# Recurring schedules (issue 15): the `schedules` table of chalicelib/adapters/aws/tables.py and what
# each function may do with recurring schedules: their table, the DynamoDB writes of a run (an
# ordinary message with its idempotency record and counters) and their EventBridge Scheduler
# schedules, named `r-<ULID>` (native) and `r-<ULID>-<run s>` (chained) in the stage's group.
# The functions' documents in iam.tf take these as source documents.

locals {
  recurring_schedules = "${local.schedule_arn_prefix}/r-*"
}

resource "aws_dynamodb_table" "schedules" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb), as the other tables; see the tenants table.
  name                        = "${local.name}-schedules"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tenantId"
  range_key                   = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "tenantId"
    type = "S"
  }

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "dueShard"
    type = "S"
  }

  attribute {
    name = "nextRunAt"
    type = "N"
  }

  # Active schedules by their next run (sparse: only while active with a next run), 8 shards: what
  # cleanup's repair pass queries for schedules whose EventBridge schedule did not fire.
  global_secondary_index {
    name            = "by-due"
    hash_key        = "dueShard"
    range_key       = "nextRunAt"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# ---- api_handler: /schedules (create, read, list, change, pause, resume, delete) -------------

data "aws_iam_policy_document" "recurring_api_handler" {
  statement {
    sid       = "Schedules"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.schedules.arn]
  }

  statement {
    sid       = "ArmRecurring"
    actions   = ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"]
    resources = [local.recurring_schedules]
  }
}

# ---- deliver: a run event creates the run's message (and arms a chained schedule's next run) --

data "aws_iam_policy_document" "recurring_deliver" {
  statement {
    sid       = "ScheduleOfRun"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.schedules.arn]
  }

  statement {
    sid       = "RunIdempotency"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  statement {
    sid       = "RunAppAndPlan"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.apps.arn, aws_dynamodb_table.tenants.arn]
  }

  statement {
    sid       = "ChainRecurring"
    actions   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"]
    resources = [local.recurring_schedules]
  }
}

# ---- cleanup: the repair pass (overdue schedules: their runs by missedRuns, armed again) -----

data "aws_iam_policy_document" "recurring_cleanup" {
  statement {
    sid       = "RepairSchedules"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.schedules.arn]
  }

  statement {
    sid       = "DueSchedules"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.schedules.arn}/index/by-due"]
  }

  statement {
    sid       = "RunIdempotency"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  statement {
    sid       = "RunApp"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.apps.arn]
  }

  statement {
    sid       = "RunCounters"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.usage.arn]
  }

  statement {
    sid       = "RearmRecurring"
    actions   = ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"]
    resources = [local.recurring_schedules]
  }
}
