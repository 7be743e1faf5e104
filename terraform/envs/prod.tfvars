# terraform -chdir=terraform apply -var-file=envs/prod.tfvars
region = "us-east-1"
stage  = "prod"

deletion_protection = true
log_retention_days  = 365

alarm_email           = "oncall@example.com"
cognito_callback_urls = ["https://app.example.com/auth/callback"]
cognito_logout_urls   = ["https://app.example.com/"]

# sha256 of the operator key (the key itself never reaches AWS).
operator_key_hash = ""

function_memory_mb = {
  api_handler = 1024
  deliver     = 1024
}
delivery_max_concurrency = 200
