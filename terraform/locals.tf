locals {
  # Naming: every resource is `<app>-<stage>[-<part>]`. ARNs are built from these names (not from
  # resource attributes) where a reference would close a dependency cycle: the API body needs the
  # authorizer's ARN, the authorizer needs the user pool, whose trigger needs the usage plans, which
  # need the API's stage.
  name       = "${var.app_name}-${var.stage}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  tags = {
    Application = var.app_name
    Stage       = var.stage
    ManagedBy   = "terraform"
  }

  # The Lambda package made by `make package` (`chalice package`): one zip for every function.
  package_zip = "${path.module}/${var.package_dir}/deployment.zip"

  function_names = {
    api_handler       = "${local.name}-api"
    authorizer        = "${local.name}-authorizer"
    deliver           = "${local.name}-deliver"
    cleanup           = "${local.name}-cleanup"
    post_confirmation = "${local.name}-post-confirmation"
    meter             = "${local.name}-meter"
  }
  function_arns = {
    for key, function_name in local.function_names :
    key => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${function_name}"
  }
  # Timeouts are part of the engine's contract (tests/terraform checks them): the delivery function
  # outlives one attempt's deadline, the release queue's visibility is 6 times its timeout, a claim's
  # lease outlives it; API Gateway waits at most 29 s; Cognito waits 5 s for its trigger.
  function_timeouts = {
    api_handler       = 29
    authorizer        = 5
    deliver           = 30
    cleanup           = 60
    post_confirmation = 5
    meter             = 60
  }
  function_memory = {
    api_handler       = var.function_memory_mb.api_handler
    authorizer        = var.function_memory_mb.authorizer
    deliver           = var.function_memory_mb.deliver
    cleanup           = var.function_memory_mb.cleanup
    post_confirmation = var.function_memory_mb.post_confirmation
    meter             = var.function_memory_mb.meter
  }
  log_group_arns = {
    for key, function_name in local.function_names :
    key => "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${function_name}"
  }

  # Environment shared by every function (the rest is set per function in lambda.tf).
  common_env = {
    SCHEDULER_BACKEND            = "aws"
    SCHEDULER_TABLE_PREFIX       = local.name
    POWERTOOLS_SERVICE_NAME      = local.name
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
  }
  metrics_namespace = "PointInTimeScheduler"

  # SCHEDULER_PLANS: the plans map in the shape `chalicelib.settings` reads.
  plans_json = jsonencode({
    for name, plan in var.plans : name => {
      rate           = plan.rate
      burst          = plan.burst
      dailyQuota     = plan.daily_quota
      maxApps        = plan.max_apps
      maxHeaders     = plan.max_headers
      maxHeaderBytes = plan.max_header_bytes
      maxApiKeys     = plan.max_api_keys
    }
  })

  # EventBridge Scheduler names: one schedule per message, `m-<ULID>-<gen>`, in the stage's group.
  schedule_group_name = local.name
  schedule_arn_prefix = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/${local.schedule_group_name}"

  scheduler_role_name = "${local.name}-scheduler-invoke"

  # SCHEDULER_ARM_HORIZON_S: empty turns the arm horizon off (the code reads "" as unset).
  arm_horizon_env = var.arm_horizon_s == 0 ? "" : tostring(var.arm_horizon_s)

  cognito_domain = var.cognito_domain_prefix != "" ? var.cognito_domain_prefix : "${local.name}-${local.account_id}"
  # The hosted UI's origin, and the console's address (its Cognito callback and sign-out URL).
  cognito_hosted_ui = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com"
  console_url       = "${aws_api_gateway_stage.this.invoke_url}/console"
}
