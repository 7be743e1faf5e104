# The functions of the Chalice app (the sixth, `meter`, is in meter.tf), all from the one `deployment.zip` that `make package` builds
# (`chalice package`: app.py, chalicelib/ and the Linux wheels of requirements.txt). The handlers
# are the ones Chalice generates (tests/terraform checks them against the package's chalice.tf.json);
# the environment of each function is what its code reads (tests/terraform checks that too).

resource "aws_lambda_function" "api_handler" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-wide budget (new accounts cannot reserve any); per-tenant usage plans and the stage throttle bound this function.
  #checkov:skip=CKV_AWS_117:Reaches only AWS service endpoints over TLS; no VPC resources to protect, and a VPC would need NAT or endpoints for every service.
  #checkov:skip=CKV_AWS_173:The environment holds names, ARNs and plan limits, no secrets (tenant secrets are sealed in DynamoDB; the operator key is configured as a hash).
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed S3 artifact; the package is built by `make package` from pinned requirements and uploaded by Terraform.
  function_name    = local.function_names.api_handler
  description      = "REST API of ${local.name} (every route of the Chalice app)."
  role             = aws_iam_role.function["api_handler"].arn
  handler          = "app.app"
  runtime          = "python3.11"
  architectures    = ["x86_64"]
  filename         = local.package_zip
  source_code_hash = filebase64sha256(local.package_zip)
  memory_size      = local.function_memory.api_handler
  timeout          = local.function_timeouts.api_handler

  environment {
    variables = merge(local.common_env, {
      SCHEDULER_RELEASE_QUEUE_URL     = aws_sqs_queue.release.url
      SCHEDULER_SCHEDULE_GROUP        = aws_scheduler_schedule_group.this.name
      SCHEDULER_DELIVERY_FUNCTION_ARN = local.function_arns.deliver
      SCHEDULER_SCHEDULER_ROLE_ARN    = aws_iam_role.scheduler.arn
      SCHEDULER_SCHEDULE_DLQ_ARN      = aws_sqs_queue.schedule_dlq.arn
      SCHEDULER_LEAD_S                = tostring(var.lead_s)
      SCHEDULER_LEASE_S               = tostring(var.lease_s)
      SCHEDULER_ARM_HORIZON_S         = local.arm_horizon_env
      SCHEDULER_KMS_KEY_ID            = aws_kms_key.secrets.arn
      SCHEDULER_DEFAULT_PLAN          = var.default_plan
      SCHEDULER_PLANS                 = local.plans_json
      SCHEDULER_USAGE_PLAN_IDS        = local.usage_plan_ids_json
      SCHEDULER_RETENTION_DAYS        = tostring(var.retention_days)
      SCHEDULER_MAX_HORIZON_DAYS      = tostring(var.max_horizon_days)
      SCHEDULER_PAST_TOLERANCE_S      = tostring(var.past_tolerance_s)
      # The web console's Cognito sign-in (hosted UI, authorization code + PKCE with the public client).
      SCHEDULER_CONSOLE_COGNITO_DOMAIN    = local.cognito_hosted_ui
      SCHEDULER_CONSOLE_COGNITO_CLIENT_ID = aws_cognito_user_pool_client.this.id
    })
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_lambda_function" "authorizer" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway as the request authorizer; no asynchronous invocations to dead-letter.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-wide budget; API Gateway caches each token's answer for 60 s.
  #checkov:skip=CKV_AWS_117:Reaches only DynamoDB and the Cognito JWKS over TLS; no VPC resources to protect.
  #checkov:skip=CKV_AWS_173:The environment holds the user pool id, client ids and the SHA-256 of the operator key, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed S3 artifact; see api_handler.
  function_name    = local.function_names.authorizer
  description      = "API Gateway authorizer of ${local.name}: API key or Cognito JWT -> tenant, scopes, usage key."
  role             = aws_iam_role.function["authorizer"].arn
  handler          = "chalicelib.authorizer.authorizer"
  runtime          = "python3.11"
  architectures    = ["x86_64"]
  filename         = local.package_zip
  source_code_hash = filebase64sha256(local.package_zip)
  memory_size      = local.function_memory.authorizer
  timeout          = local.function_timeouts.authorizer

  environment {
    variables = merge(local.common_env, {
      SCHEDULER_OPERATOR_KEY_HASH    = var.operator_key_hash
      SCHEDULER_COGNITO_USER_POOL_ID = aws_cognito_user_pool.this.id
      SCHEDULER_COGNITO_CLIENT_IDS   = aws_cognito_user_pool_client.this.id
    })
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_lambda_function" "deliver" {
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-wide budget; the release queue's event source mapping caps concurrency (var.delivery_max_concurrency).
  #checkov:skip=CKV_AWS_117:Delivers webhooks to public endpoints (an SSRF guard refuses private addresses); a VPC would only add a NAT gateway.
  #checkov:skip=CKV_AWS_173:The environment holds names and ARNs, no secrets; app secrets are decrypted per delivery with the secrets key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed S3 artifact; see api_handler.
  function_name    = local.function_names.deliver
  description      = "Delivery of ${local.name}: message schedules (re-queued) and the release queue (delivered)."
  role             = aws_iam_role.function["deliver"].arn
  handler          = "chalicelib.triggers.deliver"
  runtime          = "python3.11"
  architectures    = ["x86_64"]
  filename         = local.package_zip
  source_code_hash = filebase64sha256(local.package_zip)
  memory_size      = local.function_memory.deliver
  timeout          = local.function_timeouts.deliver

  environment {
    variables = merge(local.common_env, {
      SCHEDULER_RELEASE_QUEUE_URL     = aws_sqs_queue.release.url
      SCHEDULER_SCHEDULE_GROUP        = aws_scheduler_schedule_group.this.name
      SCHEDULER_DELIVERY_FUNCTION_ARN = local.function_arns.deliver
      SCHEDULER_SCHEDULER_ROLE_ARN    = aws_iam_role.scheduler.arn
      SCHEDULER_SCHEDULE_DLQ_ARN      = aws_sqs_queue.schedule_dlq.arn
      SCHEDULER_LEAD_S                = tostring(var.lead_s)
      SCHEDULER_LEASE_S               = tostring(var.lease_s)
      SCHEDULER_ARM_HORIZON_S         = local.arm_horizon_env
      SCHEDULER_KMS_KEY_ID            = aws_kms_key.secrets.arn
      SCHEDULER_DELIVERY_TIMEOUT_S    = tostring(var.delivery_timeout_s)
      # a tenant's share of the release queue's concurrency (one tenant's hung endpoints leave the rest)
      SCHEDULER_PER_TENANT_CONCURRENCY = tostring(max(1, floor(var.delivery_max_concurrency / 5)))
      SCHEDULER_RETENTION_DAYS         = tostring(var.retention_days)
    })
  }

  # Failed asynchronous invocations (message schedules) after Lambda's own retries.
  dead_letter_config {
    target_arn = aws_sqs_queue.schedule_dlq.arn
  }

  tracing_config {
    mode = "Active"
  }

  # Lambda checks that the role may send to the dead-letter queue when it creates the function.
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
}

resource "aws_lambda_function" "cleanup" {
  #checkov:skip=CKV_AWS_116:Runs every minute from an EventBridge rule; a failed run is simply redone by the next one, a dead-letter queue would only collect timer events.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-wide budget; one run a minute, bounded work per run.
  #checkov:skip=CKV_AWS_117:Reaches only AWS service endpoints over TLS; no VPC resources to protect.
  #checkov:skip=CKV_AWS_173:The environment holds names and ARNs, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed S3 artifact; see api_handler.
  function_name    = local.function_names.cleanup
  description      = "Cleanup of ${local.name}: arms unarmed messages, takes back expired leases, prunes stale schedules."
  role             = aws_iam_role.function["cleanup"].arn
  handler          = "chalicelib.triggers.cleanup"
  runtime          = "python3.11"
  architectures    = ["x86_64"]
  filename         = local.package_zip
  source_code_hash = filebase64sha256(local.package_zip)
  memory_size      = local.function_memory.cleanup
  timeout          = local.function_timeouts.cleanup

  # SCHEDULER_KMS_KEY_ID: cleanup's delivery queue holds the app store, which is built with the key id
  # (no KMS grant: taking leases back opens no secret); without it every run failed with a ConfigError.
  environment {
    variables = merge(local.common_env, {
      SCHEDULER_RELEASE_QUEUE_URL     = aws_sqs_queue.release.url
      SCHEDULER_SCHEDULE_GROUP        = aws_scheduler_schedule_group.this.name
      SCHEDULER_DELIVERY_FUNCTION_ARN = local.function_arns.deliver
      SCHEDULER_SCHEDULER_ROLE_ARN    = aws_iam_role.scheduler.arn
      SCHEDULER_SCHEDULE_DLQ_ARN      = aws_sqs_queue.schedule_dlq.arn
      SCHEDULER_LEAD_S                = tostring(var.lead_s)
      SCHEDULER_LEASE_S               = tostring(var.lease_s)
      SCHEDULER_ARM_HORIZON_S         = local.arm_horizon_env
      SCHEDULER_KMS_KEY_ID            = aws_kms_key.secrets.arn
      SCHEDULER_RETENTION_DAYS        = tostring(var.retention_days)
      SCHEDULER_USAGE_PLAN_IDS        = local.usage_plan_ids_json
      SCHEDULER_DEFAULT_PLAN          = var.default_plan
      SCHEDULER_PLANS                 = local.plans_json
    })
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_lambda_function" "post_confirmation" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Cognito (Post Confirmation trigger); no asynchronous invocations to dead-letter.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-wide budget; sign-ups are rare.
  #checkov:skip=CKV_AWS_117:Reaches only AWS service endpoints over TLS; no VPC resources to protect.
  #checkov:skip=CKV_AWS_173:The environment holds plan limits and usage plan ids, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed S3 artifact; see api_handler.
  function_name    = local.function_names.post_confirmation
  description      = "Cognito Post Confirmation trigger of ${local.name}: a confirmed sign-up becomes a tenant."
  role             = aws_iam_role.function["post_confirmation"].arn
  handler          = "chalicelib.triggers.post_confirmation"
  runtime          = "python3.11"
  architectures    = ["x86_64"]
  filename         = local.package_zip
  source_code_hash = filebase64sha256(local.package_zip)
  memory_size      = local.function_memory.post_confirmation
  timeout          = local.function_timeouts.post_confirmation

  environment {
    variables = merge(local.common_env, {
      SCHEDULER_USAGE_PLAN_IDS = local.usage_plan_ids_json
      SCHEDULER_DEFAULT_PLAN   = var.default_plan
      SCHEDULER_PLANS          = local.plans_json
    })
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (30 by default: operational logs; every attempt's record is kept in DynamoDB); raise it where policy asks for a year.
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn
}

# ---- triggers ------------------------------------------------------------------------------

# The release queue -> the delivery function. Partial batch responses: the handler reports the
# records that failed, never the whole batch.
resource "aws_lambda_event_source_mapping" "release" {
  event_source_arn                   = aws_sqs_queue.release.arn
  function_name                      = aws_lambda_function.deliver.arn
  batch_size                         = var.release_batch_size
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.delivery_max_concurrency
  }

  # The role must be allowed to receive from the queue when the mapping is created.
  depends_on = [aws_iam_role_policy.function]
}

# Cleanup every minute (it sweeps the schedule group every fifth run): an EventBridge rule, as
# Chalice's `@app.schedule(Rate(1, unit=Rate.MINUTES))` declares.
resource "aws_cloudwatch_event_rule" "cleanup" {
  name                = "${local.name}-cleanup"
  description         = "Runs the cleanup function of ${local.name}."
  schedule_expression = "rate(1 minute)"
}

resource "aws_cloudwatch_event_target" "cleanup" {
  rule      = aws_cloudwatch_event_rule.cleanup.name
  target_id = "cleanup"
  arn       = aws_lambda_function.cleanup.arn
}

resource "aws_lambda_permission" "cleanup" {
  statement_id  = "cleanup-rule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.cleanup.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.cleanup.arn
}

resource "aws_lambda_permission" "api_handler" {
  statement_id  = "api-gateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api_handler.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*/*"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "api-gateway-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/*"
}

resource "aws_lambda_permission" "post_confirmation" {
  statement_id  = "cognito-post-confirmation"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.post_confirmation.function_name
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = aws_cognito_user_pool.this.arn
}
