# ---------------------------------------------------------------------------------------------
# Deployment
# ---------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "app_name" {
  description = "Name of the service; every resource is named `<app_name>-<stage>[-<part>]`."
  type        = string
  default     = "scheduler"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.app_name))
    error_message = "app_name: 2-21 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "stage" {
  description = "Deployment stage (dev, staging, prod, ...): part of every name, so stages can share an account."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.stage))
    error_message = "stage: 2-16 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "package_dir" {
  description = "Directory holding `deployment.zip` and `chalice.tf.json` from `make package`, relative to this module."
  type        = string
  default     = "../build/chalice"
}

variable "deletion_protection" {
  description = "Protect the DynamoDB tables and the Cognito user pool from deletion (set false before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the Lambda and API Gateway access logs, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level: DEBUG, INFO, WARNING or ERROR."
  }
}

# ---------------------------------------------------------------------------------------------
# Plans and API
# ---------------------------------------------------------------------------------------------

variable "plans" {
  description = <<-EOT
    Usage tiers: name => {rate (requests/s), burst, daily_quota (messages/day), max_apps (per tenant),
    max_headers and max_header_bytes (per app), max_api_keys (live keys per tenant)}; null means unlimited.
    One API Gateway usage plan per entry (rate and burst throttle each tenant's usage key; the daily
    quota is also a usage-plan quota on requests). The same map reaches the app as SCHEDULER_PLANS,
    where the daily quota counts messages (a batch of 100 counts 100).
  EOT
  type = map(object({
    rate             = optional(number)
    burst            = optional(number)
    daily_quota      = optional(number)
    max_apps         = optional(number)
    max_headers      = optional(number)
    max_header_bytes = optional(number)
    max_api_keys     = optional(number)
  }))
  default = {
    free      = { rate = 10, burst = 20, daily_quota = 1000, max_apps = 10, max_headers = 10, max_header_bytes = 4096, max_api_keys = 10 }
    pro       = { rate = 100, burst = 200, daily_quota = 1000000, max_apps = 1000, max_headers = 20, max_header_bytes = 16384, max_api_keys = 100 }
    unlimited = {}
  }

  validation {
    condition     = alltrue([for name in keys(var.plans) : can(regex("^[a-z][a-z0-9_-]{0,31}$", name))])
    error_message = "Plan names: 1-32 characters of a-z, 0-9, _ and -, starting with a letter."
  }
}

variable "default_plan" {
  description = "Plan of tenants that join by signing up (a key of `plans`)."
  type        = string
  default     = "free"

  validation {
    condition     = contains(keys(var.plans), var.default_plan)
    error_message = "default_plan must be one of the keys of plans."
  }
}

variable "api_throttle" {
  description = "Stage-wide throttle for every method (requests/s and burst), above the per-tenant usage plans."
  type = object({
    rate  = number
    burst = number
  })
  # 2,000 req/s carries 1,000 creates/s with room for reads (docs/aws-capacity.md); the account's
  # API Gateway throttle is 10,000 req/s across all its APIs.
  default = { rate = 2000, burst = 4000 }
}

variable "operator_key_hash" {
  description = "SHA-256 (hex) of the operator key that may call /tenants; empty disables those routes. Only the hash is deployed."
  type        = string
  default     = ""

  validation {
    condition     = var.operator_key_hash == "" || can(regex("^[0-9a-f]{64}$", var.operator_key_hash))
    error_message = "operator_key_hash: empty, or 64 lowercase hex digits (sha256sum of the key)."
  }
}

variable "manage_api_gateway_account" {
  description = "Set the region's API Gateway CloudWatch Logs role (needed for access logs). It is one setting per account and region: set false where another stack owns it."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Cognito
# ---------------------------------------------------------------------------------------------

variable "cognito_callback_urls" {
  description = "OAuth callback URLs of the app client (https, or http://localhost for development)."
  type        = list(string)
  default     = ["http://localhost:8765/callback"]
}

variable "cognito_logout_urls" {
  description = "Sign-out URLs of the app client."
  type        = list(string)
  default     = []
}

variable "cognito_domain_prefix" {
  description = "Prefix of the hosted sign-in domain (`<prefix>.auth.<region>.amazoncognito.com`); empty: `<app>-<stage>-<account id>`."
  type        = string
  default     = ""
}

variable "cognito_allow_password_auth" {
  description = "Allow USER_PASSWORD_AUTH (the `aws cognito-idp initiate-auth` flow of docs/deploy-aws.md); SRP and refresh tokens are always allowed."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------------

variable "function_memory_mb" {
  description = "Memory of each function, in MB (CPU grows with it)."
  type = object({
    api_handler       = optional(number, 512)
    authorizer        = optional(number, 256)
    deliver           = optional(number, 512)
    cleanup           = optional(number, 512)
    post_confirmation = optional(number, 256)
    meter             = optional(number, 256)
  })
  default = {}
}

variable "delivery_timeout_s" {
  description = "Deadline of one delivery attempt (SCHEDULER_DELIVERY_TIMEOUT_S); must stay below the delivery function's timeout (30 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.delivery_timeout_s > 0 && var.delivery_timeout_s <= 20
    error_message = "delivery_timeout_s: more than 0 and at most 20 seconds (the delivery function runs 30 s)."
  }
}

variable "delivery_max_concurrency" {
  description = "Most concurrent delivery invocations the release queue's event source mapping starts (2-1000); 100 carries ~1,500 deliveries/s to 100 ms receivers (docs/aws-capacity.md)."
  type        = number
  default     = 100

  validation {
    condition     = var.delivery_max_concurrency >= 2 && var.delivery_max_concurrency <= 1000
    error_message = "delivery_max_concurrency: 2 to 1000."
  }
}

variable "meter_batching_window_s" {
  description = "Seconds the meter's stream mapping gathers records before invoking (0-300): GET /usage lags by up to this plus the stream's ~1 s; the daily quota does not lag. Larger batches make metering cheaper on a quiet stream (docs/aws-costs.md)."
  type        = number
  default     = 5

  validation {
    condition     = var.meter_batching_window_s >= 0 && var.meter_batching_window_s <= 300
    error_message = "meter_batching_window_s: 0 to 300 (Lambda's MaximumBatchingWindowInSeconds for streams)."
  }
}

variable "release_batch_size" {
  description = "Release-queue messages per delivery invocation (delivered concurrently, failures reported per record)."
  type        = number
  default     = 10

  validation {
    condition     = var.release_batch_size >= 1 && var.release_batch_size <= 10
    error_message = "release_batch_size: 1 to 10."
  }
}

variable "dynamodb_warm_write_units" {
  description = <<-EOT
    Write units per second the messages and usage tables take from the start (DynamoDB warm
    throughput; a new on-demand table takes 4,000 until traffic has grown it). 1,000 messages/s
    write ~9,000 WRU/s to messages and ~4,000 to usage (docs/aws-capacity.md). 4,000 (the
    minimum) means no pre-warming; raising it is billed once. `indexes` applies to each GSI of
    the messages table (by-wake takes 2 WRU per message, the others 1).
  EOT
  type = object({
    messages = optional(number, 12000)
    usage    = optional(number, 6000)
    indexes  = optional(number, 4000)
  })
  default = {}

  validation {
    condition     = alltrue([for units in values(var.dynamodb_warm_write_units) : units >= 4000])
    error_message = "dynamodb_warm_write_units: at least 4000 each (DynamoDB's on-demand minimum)."
  }
}

variable "lead_s" {
  description = "Seconds before sendAt at which a message's EventBridge schedule fires (SCHEDULER_LEAD_S, 60-600)."
  type        = number
  default     = 90

  validation {
    condition     = var.lead_s >= 60 && var.lead_s <= 600
    error_message = "lead_s: 60 to 600 seconds (what the code accepts)."
  }
}

variable "arm_horizon_s" {
  description = <<-EOT
    SCHEDULER_ARM_HORIZON_S: messages due further ahead than this get no EventBridge schedule when
    stored; cleanup arms them as they come within it. It bounds the schedule group to about
    (arming rate x horizon) schedules, under Scheduler's 10,000,000-schedule quota: 2 h holds
    1,000 messages/s. 0 turns it off (every message is armed when stored).
  EOT
  type    = number
  default = 7200

  validation {
    condition     = var.arm_horizon_s == 0 || (var.arm_horizon_s >= 3600 && var.arm_horizon_s <= 1000000000)
    error_message = "arm_horizon_s: 0 (off) or 3600 to 1000000000 seconds (what the code accepts)."
  }
}

variable "lease_s" {
  description = "Seconds a delivery holds its claim on a message (SCHEDULER_LEASE_S); must exceed the delivery function's timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.lease_s > 30 && var.lease_s <= 3600
    error_message = "lease_s: more than the delivery function's 30 s timeout, at most 3600."
  }
}

variable "retention_days" {
  description = "Finished messages and attempts expire (DynamoDB TTL) after this many days (SCHEDULER_RETENTION_DAYS)."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_days >= 1
    error_message = "retention_days: at least 1."
  }
}

variable "max_horizon_days" {
  description = "Furthest sendAt accepted, in days ahead (SCHEDULER_MAX_HORIZON_DAYS)."
  type        = number
  default     = 3650

  validation {
    condition     = var.max_horizon_days >= 1
    error_message = "max_horizon_days: at least 1."
  }
}

variable "past_tolerance_s" {
  description = "How far in the past a sendAt may be and still mean now; further back is a 400 (SCHEDULER_PAST_TOLERANCE_S)."
  type        = number
  default     = 300

  validation {
    condition     = var.past_tolerance_s >= 0
    error_message = "past_tolerance_s: at least 0."
  }
}

# ---------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (confirm the subscription mail); empty: no subscription."
  type        = string
  default     = ""
}

variable "alarm_lateness_p99_ms" {
  description = "Alarm when the p99 of delivery lateness (first attempt start - sendAt) stays above this many ms."
  type        = number
  default     = 5000
}

variable "alarm_failed_deliveries" {
  description = "Alarm when more messages than this end failed within 5 minutes."
  type        = number
  default     = 10
}
