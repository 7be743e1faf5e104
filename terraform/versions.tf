# Terraform and provider versions. Terraform >= 1.10 and AWS provider 6.x: the hand-written stack
# (option B, see docs/deploy-aws.md) is free of the `< 1.4` / `< 5` pins of `chalice package`'s
# generated Terraform. Commit `.terraform.lock.hcl` after the first `terraform init`: it pins the
# exact provider build and its checksums.
terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
