# The release queue: `{tenantId, messageId, gen, dueAt}` timers for the last ~14 minutes
# (DelaySeconds), consumed by the delivery function (lambda.tf: event source mapping with partial
# batch responses). A record that keeps failing (not a failed delivery attempt: those are recorded
# and re-armed by the code) goes to the DLQ after 5 receives.

resource "aws_sqs_queue" "release" {
  name                       = "${local.name}-release"
  visibility_timeout_seconds = 6 * local.function_timeouts.deliver
  message_retention_seconds  = 4 * 24 * 3600
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.release_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "release_dlq" {
  name                      = "${local.name}-release-dlq"
  message_retention_seconds = 14 * 24 * 3600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue_redrive_allow_policy" "release_dlq" {
  queue_url = aws_sqs_queue.release_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.release.arn]
  })
}

# Where EventBridge Scheduler puts a message schedule it could not deliver to the delivery
# function (after its retry policy), and where Lambda puts a failed asynchronous invocation of the
# delivery function. Cleanup re-arms such messages; the alarm tells someone to look.
resource "aws_sqs_queue" "schedule_dlq" {
  name                      = "${local.name}-schedule-dlq"
  message_retention_seconds = 14 * 24 * 3600
  sqs_managed_sse_enabled   = true
}
