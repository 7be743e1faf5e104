# terraform -chdir=terraform apply -var-file=envs/dev.tfvars
region = "us-east-1"
stage  = "dev"

# A dev stack is torn down often: let `terraform destroy` remove the tables and the user pool.
deletion_protection = false
log_retention_days  = 14

alarm_email           = "" # e.g. "oncall@example.com" (confirm the subscription e-mail)
cognito_callback_urls = ["http://localhost:8765/callback"]

# sha256 of the operator key that may call /tenants, e.g.
#   key=$(python3 -c 'import secrets; print("op_" + secrets.token_urlsafe(32))')
#   printf %s "$key" | sha256sum | cut -d' ' -f1
operator_key_hash = ""

plans = {
  free      = { rate = 10, burst = 20, daily_quota = 1000 }
  pro       = { rate = 100, burst = 200, daily_quota = 1000000 }
  unlimited = {}
}
default_plan = "free"
