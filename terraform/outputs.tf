output "api_url" {
  description = "Base URL of the API (append a route, e.g. /health)."
  value       = try(aws_api_gateway_stage.this.invoke_url, "")
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = try(aws_api_gateway_rest_api.this.id, "")
}

output "user_pool_id" {
  description = "Id of the Cognito user pool tenants sign up in."
  value       = try(aws_cognito_user_pool.this.id, "")
}

output "user_pool_client_id" {
  description = "Id of the user pool's app client (sign-up, sign-in and the token's client_id)."
  value       = try(aws_cognito_user_pool_client.this.id, "")
}

output "user_pool_domain" {
  description = "Hosted sign-in domain of the user pool."
  value       = try("https://${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com", "")
}

output "console_url" {
  description = "The web console (sign in with Cognito or an API key)."
  value       = try(local.console_url, "")
}

output "dashboard_url" {
  description = "The CloudWatch dashboard."
  value       = try("https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}", "")
}

output "schedule_group" {
  description = "EventBridge Scheduler group holding one schedule per armed message."
  value       = try(aws_scheduler_schedule_group.this.name, "")
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms publish to (subscribe more endpoints to it)."
  value       = try(aws_sns_topic.alarms.arn, "")
}

output "usage_plan_ids" {
  description = "Usage plan id of each plan."
  value       = try({ for name, plan in aws_api_gateway_usage_plan.this : name => plan.id }, {})
}

output "function_names" {
  description = "Lambda function names, by Chalice function."
  value       = local.function_names
}

output "table_prefix" {
  description = "SCHEDULER_TABLE_PREFIX: tables are `<prefix>-<suffix>`."
  value       = local.name
}
