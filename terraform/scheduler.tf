# EventBridge Scheduler: the stage's schedule group (the code creates one `at()` schedule per message
# in it, `m-<ULID>-<gen>`, deleted after it fires) and the role schedules assume to invoke the
# delivery function and to dead-letter what they could not deliver.

resource "aws_scheduler_schedule_group" "this" {
  name = local.schedule_group_name
}

resource "aws_iam_role" "scheduler" {
  name               = local.scheduler_role_name
  description        = "Assumed by the message schedules of ${local.name} to invoke the delivery function."
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    # Confused-deputy guard, as EventBridge Scheduler documents it: the schedule-group ARN (not a
    # schedule ARN or name prefix, which Scheduler never presents, so the role could not be assumed).
    # https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [aws_scheduler_schedule_group.this.arn]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeDelivery"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.deliver.arn]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.schedule_dlq.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-delivery"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
