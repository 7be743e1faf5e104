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
# ~7,900 deliveries/s to 100 ms receivers, ~475/s to 10 s receivers (docs/aws-capacity.md); more
# needs a Lambda concurrency quota increase first (1,000 per account, shared with the API).
delivery_max_concurrency = 500
api_throttle             = { rate = 5000, burst = 10000 }
dynamodb_warm_write_units = {
  messages = 40000
  usage    = 20000
  indexes  = 12000
}
