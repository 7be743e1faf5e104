# The REST API (API Gateway v1: Chalice routes on `requestContext.resourcePath`). Its OpenAPI body is
# the one `chalice package` generates (in build/chalice/chalice.tf.json, `locals.chalice_api_swagger`)
# with its two Terraform placeholders filled in, plus what Chalice does not write:
# - `x-amazon-apigateway-api-key-source: AUTHORIZER`: the authorizer returns the tenant's usage key,
#   and every secured route requires an API key, so the tenant's usage plan throttles it (the
#   resource's `api_key_source` says the same: the argument wins over the body);
# - `x-amazon-apigateway-gateway-responses`: API Gateway's own errors in the app's error shape
#   `{"error": {"code", "message"}}`. They live in the body, not in aws_api_gateway_gateway_response
#   resources, because a body import ("overwrite" mode) drops whatever the body does not hold.

locals {
  chalice_package = jsondecode(file("${path.module}/${var.package_dir}/chalice.tf.json"))

  # Invoke ARNs are built from the function names: references would close a cycle (the API and
  # post-confirmation functions need the usage plan ids, the usage plans need this API's stage).
  invoke_arns = {
    for key in ["api_handler", "authorizer"] :
    key => "arn:${local.partition}:apigateway:${local.region}:lambda:path/2015-03-31/functions/${local.function_arns[key]}/invocations"
  }

  chalice_openapi = jsondecode(replace(
    replace(
      local.chalice_package.locals.chalice_api_swagger,
      "$${aws_lambda_function.api_handler.invoke_arn}",
      local.invoke_arns.api_handler,
    ),
    "$${aws_lambda_function.authorizer.invoke_arn}",
    local.invoke_arns.authorizer,
  ))

  # API Gateway's own errors: type => [status, code, message]. MISSING_AUTHENTICATION_TOKEN is what
  # API Gateway answers for a path or method no route has: a 404, as the app answers it locally.
  gateway_errors = {
    UNAUTHORIZED                   = [401, "unauthorized", "send Authorization: Bearer <api key or token>"]
    ACCESS_DENIED                  = [403, "forbidden", "not allowed"]
    INVALID_API_KEY                = [403, "forbidden", "this tenant's usage key is not active yet (about a minute after sign-up); try again shortly"]
    MISSING_AUTHENTICATION_TOKEN   = [404, "not_found", "not found"]
    THROTTLED                      = [429, "rate_limited", "too many requests"]
    QUOTA_EXCEEDED                 = [429, "quota_exceeded", "the plan's daily request quota is used up"]
    REQUEST_TOO_LARGE              = [413, "payload_too_large", "the request body is too large"]
    AUTHORIZER_FAILURE             = [503, "storage_unavailable", "authentication is unavailable; try again"]
    AUTHORIZER_CONFIGURATION_ERROR = [500, "internal_error", "internal error"]
    DEFAULT_4XX                    = [400, "bad_request", "the request was rejected"]
    DEFAULT_5XX                    = [500, "internal_error", "internal error"]
  }
  retry_after = {
    THROTTLED          = "'1'"
    QUOTA_EXCEEDED     = "'3600'"
    AUTHORIZER_FAILURE = "'1'"
  }
  # (Filtered `for` expressions rather than `cond ? {...} : {}`: the two branches of a conditional
  # must have the same object type.)
  gateway_responses = {
    for type, error in local.gateway_errors : type => merge(
      # DEFAULT_4XX/5XX keep the status of the error they stand for.
      { for key, status in { statusCode = tostring(error[0]) } : key => status if !startswith(type, "DEFAULT_") },
      {
        responseParameters = merge(
          { "gatewayresponse.header.Content-Type" = "'application/json'" },
          { for key, seconds in { "gatewayresponse.header.Retry-After" = lookup(local.retry_after, type, "") } : key => seconds if seconds != "" },
        )
        responseTemplates = {
          "application/json" = jsonencode({ error = { code = error[1], message = error[2] } })
        }
      },
    )
  }

  openapi = merge(local.chalice_openapi, {
    "x-amazon-apigateway-api-key-source"    = "AUTHORIZER"
    "x-amazon-apigateway-gateway-responses" = local.gateway_responses
  })
}

resource "aws_api_gateway_rest_api" "this" {
  name           = local.name
  description    = "Point-in-time webhook scheduler (${var.stage})."
  body           = jsonencode(local.openapi)
  api_key_source = "AUTHORIZER"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A new deployment whenever the API changes (routes, authorizer, gateway responses).
  triggers = {
    body = sha1(aws_api_gateway_rest_api.this.body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses depend on the caller's tenant and change with every write; a cache would serve one tenant's data to another or stale states.
  #checkov:skip=CKV2_AWS_29:No WAF web ACL by default (a fixed monthly cost); per-tenant usage plans and the stage throttle limit abuse. Associate one with aws_wafv2_web_acl_association where needed.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to an HTTP backend; the only backends are Lambda functions.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = "api"
  description          = "${local.name} API"
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      latencyMs          = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      tenantId           = "$context.authorizer.tenantId"
      errorType          = "$context.error.responseType"
      errorMessage       = "$context.error.message"
    })
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Responses are per tenant and per request; see the stage's caching reason.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false
    throttling_rate_limit  = var.api_throttle.rate
    throttling_burst_limit = var.api_throttle.burst
  }
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (30 by default); raise it where policy asks for a year.
  name              = "/aws/apigateway/${local.name}-access"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn
}

# One usage plan per plan of var.plans. A new tenant's usage key goes on its plan's usage plan
# (SCHEDULER_USAGE_PLAN_IDS): by the Post Confirmation trigger for sign-ups, by the API function
# for tenants the operator creates.
locals {
  usage_plan_ids_json = jsonencode({ for name, plan in aws_api_gateway_usage_plan.this : name => plan.id })
}

resource "aws_api_gateway_usage_plan" "this" {
  for_each = var.plans

  name        = "${local.name}-${each.key}"
  description = "Plan ${each.key} of ${local.name}."

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  dynamic "throttle_settings" {
    for_each = each.value.rate == null ? [] : [each.value]

    content {
      rate_limit  = throttle_settings.value.rate
      burst_limit = coalesce(throttle_settings.value.burst, ceil(throttle_settings.value.rate))
    }
  }

  dynamic "quota_settings" {
    for_each = each.value.daily_quota == null ? [] : [each.value]

    content {
      limit  = quota_settings.value.daily_quota
      period = "DAY"
    }
  }
}

# Access and execution logs need the region's API Gateway CloudWatch role (one per account and region).
resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_logs[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_logs]
}

resource "aws_iam_role" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${local.name}-apigateway-logs"
  description        = "Lets API Gateway write access and execution logs in this region."
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
}

data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy_attachment" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_logs[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}
