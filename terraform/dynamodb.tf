# The tables of chalicelib/adapters/aws/tables.py (`TABLES`, `TTL`): names `<app>-<stage>-<suffix>`
# (SCHEDULER_TABLE_PREFIX = `<app>-<stage>`), same keys, attribute types, indexes and TTL attribute.
# tests/terraform/test_dynamodb_contract.py holds the two together. All on-demand, with
# point-in-time recovery and encryption at rest under the AWS managed key (see the skip reason).

resource "aws_dynamodb_table" "tenants" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb). A customer managed key would need kms:Decrypt for every function that reads a table; tenant secrets are sealed client-side under their own CMK (kms.tf) anyway.
  name                        = "${local.name}-tenants"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "kind"
    type = "S"
  }

  attribute {
    name = "keyPending"
    type = "S"
  }

  # Lists tenants by id (every tenant item has kind = "tenant").
  global_secondary_index {
    name               = "all"
    hash_key           = "kind"
    range_key          = "id"
    projection_type    = "INCLUDE"
    non_key_attributes = ["name", "plan", "createdAt"]
  }

  # Sign-ups whose usage key API Gateway throttled (sparse: only while `keyPending` is set); cleanup
  # makes their keys.
  global_secondary_index {
    name            = "key-pending"
    hash_key        = "keyPending"
    range_key       = "id"
    projection_type = "KEYS_ONLY"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "keys" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb); keys are stored as SHA-256 hashes only. See the tenants table.
  name                        = "${local.name}-keys"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tokenHash"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "tokenHash"
    type = "S"
  }

  attribute {
    name = "tenantId"
    type = "S"
  }

  attribute {
    name = "createdKey"
    type = "S"
  }

  global_secondary_index {
    name            = "by-tenant"
    hash_key        = "tenantId"
    range_key       = "createdKey"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "apps" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb); signing secrets and header values are sealed with the secrets CMK before they are written. See the tenants table.
  name                        = "${local.name}-apps"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tenantId"
  range_key                   = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "tenantId"
    type = "S"
  }

  attribute {
    name = "id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "messages" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb). See the tenants table.
  name                        = "${local.name}-messages"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection
  # Feeds the meter (terraform/meter.tf): the usage counters are kept from it, not in the writes.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "sendShard"
    type = "S"
  }

  attribute {
    name = "sendKey"
    type = "S"
  }

  attribute {
    name = "problemKey"
    type = "S"
  }

  attribute {
    name = "wakeShard"
    type = "S"
  }

  attribute {
    name = "wakeAt"
    type = "N"
  }

  attribute {
    name = "feedShard"
    type = "S"
  }

  attribute {
    name = "feedKey"
    type = "S"
  }

  # A tenant's messages by sendAt, then id (appId to filter), over 8 partition keys per tenant
  # (`<tenant>#<0-7>`) so one tenant is not one hot key; lists merge the shards.
  global_secondary_index {
    name               = "by-send"
    hash_key           = "sendShard"
    range_key          = "sendKey"
    projection_type    = "INCLUDE"
    non_key_attributes = ["appId"]

    warm_throughput {
      read_units_per_second  = 12000
      write_units_per_second = var.dynamodb_warm_write_units.indexes
    }
  }

  # failed and cancelled messages of a tenant.
  global_secondary_index {
    name            = "by-problem"
    hash_key        = "problemKey"
    range_key       = "sendKey"
    projection_type = "KEYS_ONLY"

    warm_throughput {
      read_units_per_second  = 12000
      write_units_per_second = var.dynamodb_warm_write_units.indexes
    }
  }

  # What cleanup sweeps: messages whose wake time has passed.
  global_secondary_index {
    name            = "by-wake"
    hash_key        = "wakeShard"
    range_key       = "wakeAt"
    projection_type = "KEYS_ONLY"

    warm_throughput {
      read_units_per_second  = 12000
      write_units_per_second = var.dynamodb_warm_write_units.indexes
    }
  }

  # The tenant's attempt feed in recording order (attempts never change), 8 partition keys per tenant.
  global_secondary_index {
    name            = "by-feed"
    hash_key        = "feedShard"
    range_key       = "feedKey"
    projection_type = "ALL"

    warm_throughput {
      read_units_per_second  = 12000
      write_units_per_second = var.dynamodb_warm_write_units.indexes
    }
  }

  # Finished messages, their payloads and attempts expire after SCHEDULER_RETENTION_DAYS.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  # Pre-warmed (see variable dynamodb_warm_write_units): a new table would take 4,000 WRU/s.
  warm_throughput {
    read_units_per_second  = 12000
    write_units_per_second = var.dynamodb_warm_write_units.messages
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "usage" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb); counters only. See the tenants table.
  name                        = "${local.name}-usage"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "day"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "day"
    type = "S"
  }

  # The meter's ledger items (`meter#<eventID>`) expire after 2 days; counters have no `expiresAt`.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  # Pre-warmed (see variable dynamodb_warm_write_units): a new table would take 4,000 WRU/s.
  warm_throughput {
    read_units_per_second  = 12000
    write_units_per_second = var.dynamodb_warm_write_units.usage
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "idempotency" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb). See the tenants table.
  name                        = "${local.name}-idempotency"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  # Idempotency records are kept 24 h.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
