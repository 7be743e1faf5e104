# Two customer managed keys:
# - `secrets`: envelope encryption of app signing secrets and header values (chalicelib/adapters/aws/
#   sealing.py, encryption context {tenantId}). The key policy, not only IAM, decides who may use
#   it: the API function may only make data keys (GenerateDataKey), only the delivery function may
#   decrypt them, and the account root keeps administration but no use of the key.
# - `observability`: at-rest encryption of the CloudWatch log groups and of the alarm topic.

resource "aws_kms_key" "secrets" {
  description             = "${local.name}: app signing secrets and header values (envelope encryption, context tenantId)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.secrets_key.json
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${local.name}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

data "aws_iam_policy_document" "secrets_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; administration stays with the account so the key cannot become unmanageable.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; see the statements' principals and conditions.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself (the only value a key policy allows).
  statement {
    sid       = "AccountAdministersButDoesNotUse"
    resources = ["*"]
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:Delete*",
      "kms:Describe*",
      "kms:Disable*",
      "kms:Enable*",
      "kms:Get*",
      "kms:List*",
      "kms:PutKeyPolicy",
      "kms:Revoke*",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:Update*",
    ]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "ApiSealsPerTenant"
    actions   = ["kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.function["api_handler"].arn]
    }

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["tenantId"]
    }

    condition {
      test     = "Null"
      variable = "kms:EncryptionContext:tenantId"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DeliveryOpensPerTenant"
    actions   = ["kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.function["deliver"].arn]
    }

    condition {
      test     = "Null"
      variable = "kms:EncryptionContext:tenantId"
      values   = ["false"]
    }
  }
}

resource "aws_kms_key" "observability" {
  description             = "${local.name}: CloudWatch log groups and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.observability_key.json
}

resource "aws_kms_alias" "observability" {
  name          = "alias/${local.name}-observability"
  target_key_id = aws_kms_key.observability.key_id
}

data "aws_iam_policy_document" "observability_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; the account keeps administration of its own log key.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; service statements are limited by source conditions.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself (the only value a key policy allows).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisStage"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.name}-*",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${local.name}-*",
      ]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsToTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
